"""Two-source cases with a known, planted shift: what a cINN projection has to recover."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import grey_dilation

from curbench.errors import InvalidInputError
from curbench.plugins import load_registry
from curbench_cinn.separation import Projection

# A plus-shaped footprint thickens strokes by one pixel in each direction, without favouring a diagonal.
_CROSS = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=bool)


@dataclass(frozen=True)
class PlantedCase:
    """Sources ``a`` and ``b``: ``b`` is ``a``'s distribution with the groups in ``planted`` changed."""

    features: dict[str, np.ndarray]
    groups: dict[str, np.ndarray]
    # Changed group -> the mean feature-space displacement the change applies to a's instances of it.
    planted: dict[int, np.ndarray]
    description: str
    images: dict[str, np.ndarray] | None = None
    settings: dict[str, object] = field(default_factory=dict)  # cINN options that suit the case (else the defaults)


def toy_case(n: int = 1000, modes: int = 4, std: float = 0.1, shift: float = 0.6, moved_mode: int = 0, seed: int = 0) -> PlantedCase:
    """Two independent draws of curbench's toy ring (no outliers); in ``b`` one mode is moved radially out by ``shift``."""
    if not 0 <= moved_mode < modes:
        raise InvalidInputError(f"moved_mode must be in [0, {modes}), got {moved_mode}")
    registry = load_registry()
    options = {"n": n, "modes": modes, "std": std, "outlier_fraction": 0.0}
    a = registry.create("dataset", "toy", {**options, "seed": seed})
    b = registry.create("dataset", "toy", {**options, "seed": seed + 1})
    angle = 2 * np.pi * moved_mode / modes
    displacement = shift * np.array([np.cos(angle), np.sin(angle)])
    moved = b.data.astype(np.float64)
    moved[b.labels == moved_mode] += displacement
    return PlantedCase(
        features={"a": a.data.astype(np.float64), "b": moved},
        groups={"a": a.labels, "b": b.labels},
        planted={moved_mode: displacement},
        description=f"toy ring, {modes} modes (std {std}); in b mode {moved_mode} moved radially out by {shift}",
        # Modes are sharp (std 0.1 against a ring of radius 2): little jitter, or it blurs them together.
        settings={"n_components": 2, "noise": 0.03, "steps": 400, "blocks": 6},
    )


def thicken(images: np.ndarray) -> np.ndarray:
    """Grey dilation of each (C, H, W) image's every channel with a 3 x 3 cross: strokes one pixel thicker."""
    return grey_dilation(images, footprint=_CROSS[None, None])


def digits_case(thickened: tuple[int, ...] = (3,), embedder: str = "pixels", seed: int = 0) -> PlantedCase:
    """scikit-learn digits split into two random halves; in ``b`` every image of the ``thickened`` classes is thickened.

    ``embedder`` is a curbench embedder fitted on the pooled images and labels; each
    planted displacement is measured in its space, on a's images of the class and
    their thickened copies.
    """
    from curbench.datasets.base import Dataset
    from curbench.embedders.features import embed_dataset

    registry = load_registry()
    digits = registry.create("dataset", "digits")
    thickened = tuple(sorted(set(thickened)))
    if not thickened or not set(thickened) <= set(digits.labels.tolist()):
        raise InvalidInputError(f"thickened must be digit classes 0-9, got {thickened}")
    order = np.random.default_rng(seed).permutation(len(digits))
    rows = {"a": np.sort(order[: len(order) // 2]), "b": np.sort(order[len(order) // 2 :])}
    labels = {name: digits.labels[r] for name, r in rows.items()}
    images = {name: digits.data[r] for name, r in rows.items()}
    planted = np.isin(labels["b"], thickened)
    images["b"] = images["b"].copy()
    images["b"][planted] = thicken(images["b"][planted])

    model = registry.create("embedder", embedder, device="cpu")
    pooled = Dataset(f"digits-thickened-{thickened}", np.concatenate([images["a"], images["b"]]), np.concatenate([labels["a"], labels["b"]]))
    features = embed_dataset(model, pooled, cache=False).astype(np.float64)  # a per-seed split: not worth caching
    n_a = len(images["a"])
    displacements = {}
    for digit in thickened:
        class_a = images["a"][labels["a"] == digit]
        shifted = model.embed(thicken(class_a)).astype(np.float64) - model.embed(class_a).astype(np.float64)
        displacements[digit] = shifted.mean(axis=0)
    named = ", ".join(map(str, thickened))
    return PlantedCase(
        features={"a": features[:n_a], "b": features[n_a:]},
        groups=labels,
        planted=displacements,
        description=f"digits in two random halves; in b class(es) {named} thickened (3x3 cross grey dilation), {embedder} features",
        images=images,
    )


def recovery(case: PlantedCase, projection: Projection) -> dict[str, object]:
    """What the a -> b projection recovered of each planted displacement, and how far it moved the other groups."""
    groups = case.groups["a"]
    planted = {}
    for group, displacement in case.planted.items():
        found = projection.displacement[groups == group].mean(axis=0)
        planted[str(group)] = {
            "planted_norm": float(np.linalg.norm(displacement)),
            "recovered_norm": float(np.linalg.norm(found)),
            "cosine": float(found @ displacement / (np.linalg.norm(found) * np.linalg.norm(displacement))),
            "relative_error": float(np.linalg.norm(found - displacement) / np.linalg.norm(displacement)),
        }
    others = [np.linalg.norm(projection.displacement[groups == g].mean(axis=0)) for g in np.unique(groups) if g not in case.planted]
    return {
        "description": case.description,
        "planted": planted,
        "largest_unplanted_displacement_norm": float(max(others)) if others else None,
    }
