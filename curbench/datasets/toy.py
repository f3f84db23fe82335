"""A 2-D mixture of Gaussians on a ring plus uniform outliers: the ground truth is known."""

from __future__ import annotations

import numpy as np

from curbench import streams
from curbench.datasets.base import Dataset
from curbench.errors import InvalidInputError


def load_toy(
    n: int = 2000,
    modes: int = 8,
    radius: float = 2.0,
    std: float = 0.05,
    outlier_fraction: float = 0.05,
    seed: int = 0,
    n_reference: int = 0,
) -> Dataset:
    """``n`` points: inliers from ``modes`` Gaussians evenly spaced on a circle, outliers uniform on a square.

    Labels are the mixture component (outliers get their nearest component), and
    the group ``outlier`` marks the injected outliers, so scorers can be checked
    against the truth. ``n_reference > 0`` attaches a held-out ``reference`` split of that many
    *clean* inliers from an independent stream: the distribution that data cleansing aims at.
    """
    if n < modes or not 0 <= outlier_fraction < 1 or std <= 0 or modes < 1:
        raise InvalidInputError(
            "toy dataset needs n >= modes >= 1, std > 0 and 0 <= outlier_fraction < 1; adjust --dataset-option values"
        )
    for what, value in (("seed", seed), ("n_reference", n_reference)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise InvalidInputError(f"toy dataset option {what} must be an integer >= 0, got {value!r}; e.g. {what}=0")
    rng = np.random.default_rng(seed)
    n_outliers = int(round(n * outlier_fraction))
    n_inliers = n - n_outliers
    angles = 2 * np.pi * np.arange(modes) / modes
    centres = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    components, inliers = _mixture(rng, centres, std, n_inliers)
    outliers = rng.uniform(-1.5 * radius, 1.5 * radius, size=(n_outliers, 2))
    nearest = np.argmin(((outliers[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
    order = rng.permutation(n)
    points = np.concatenate([inliers, outliers])[order]
    labels = np.concatenate([components, nearest])[order].astype(np.int64)
    is_outlier = np.concatenate([np.zeros(n_inliers, np.int64), np.ones(n_outliers, np.int64)])[order]
    class_names = tuple(f"mode{i}" for i in range(modes))
    splits = {}
    if n_reference:
        held_components, held_points = _mixture(np.random.default_rng([seed, streams.TOY_HELD_OUT]), centres, std, n_reference)
        splits["reference"] = Dataset(
            name="toy-reference", data=held_points.astype(np.float32), labels=held_components.astype(np.int64),
            groups={"outlier": np.zeros(n_reference, np.int64)}, class_names=class_names,
        )
    return Dataset(
        name="toy",
        data=points.astype(np.float32),
        labels=labels,
        groups={"outlier": is_outlier},
        class_names=class_names,
        splits=splits,
    )


def _mixture(rng: np.random.Generator, centres: np.ndarray, std: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` draws of the inlier mixture: (component of each, points)."""
    components = rng.integers(0, len(centres), size=n)
    return components, centres[components] + std * rng.standard_normal((n, 2))

