"""A 2-D mixture of Gaussians on a ring plus uniform outliers: the ground truth is known."""

from __future__ import annotations

import numpy as np

from curbench.datasets.base import Dataset
from curbench.errors import InvalidInputError


def load_toy(
    n: int = 2000,
    modes: int = 8,
    radius: float = 2.0,
    std: float = 0.05,
    outlier_fraction: float = 0.05,
    seed: int = 0,
) -> Dataset:
    """``n`` points: inliers from ``modes`` Gaussians evenly spaced on a circle, outliers uniform on a square.

    Labels are the mixture component (outliers get their nearest component), and
    the group ``outlier`` marks the injected outliers, so scorers can be checked
    against the truth.
    """
    if n < modes or not 0 <= outlier_fraction < 1 or std <= 0 or modes < 1:
        raise InvalidInputError(
            "toy dataset needs n >= modes >= 1, std > 0 and 0 <= outlier_fraction < 1; adjust --dataset-option values"
        )
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise InvalidInputError(f"toy dataset option seed must be an integer >= 0, got {seed!r}; e.g. seed=0")
    rng = np.random.default_rng(seed)
    n_outliers = int(round(n * outlier_fraction))
    n_inliers = n - n_outliers
    angles = 2 * np.pi * np.arange(modes) / modes
    centres = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    components = rng.integers(0, modes, size=n_inliers)
    inliers = centres[components] + std * rng.standard_normal((n_inliers, 2))
    outliers = rng.uniform(-1.5 * radius, 1.5 * radius, size=(n_outliers, 2))
    nearest = np.argmin(((outliers[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
    order = rng.permutation(n)
    points = np.concatenate([inliers, outliers])[order]
    labels = np.concatenate([components, nearest])[order].astype(np.int64)
    is_outlier = np.concatenate([np.zeros(n_inliers, np.int64), np.ones(n_outliers, np.int64)])[order]
    return Dataset(
        name="toy",
        data=points.astype(np.float32),
        labels=labels,
        groups={"outlier": is_outlier},
        class_names=tuple(f"mode{i}" for i in range(modes)),
    )

