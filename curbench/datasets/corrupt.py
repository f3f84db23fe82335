"""Inject known corruptions into an image dataset: the ground truth for judging scorers.

A fraction of the instances is chosen at random and split evenly over the
requested kinds. The returned mask, and the groups ``corrupted`` (0/1) and
``corruption`` (0 = clean, else the code in :data:`CORRUPTION_CODES`), say which
instances were changed and how.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from numbers import Integral, Real
from typing import cast

import numpy as np
from scipy import ndimage

from curbench.datasets.base import Dataset
from curbench.errors import InvalidInputError
from curbench.validation import check_images

CORRUPTION_KINDS = ("noise", "blur", "occlusion", "invert", "flip", "duplicate", "label")
CORRUPTION_CODES = {kind: code for code, kind in enumerate(CORRUPTION_KINDS, start=1)}

NOISE_STD = 0.3 * 255  # heavy additive Gaussian noise: clearly off the data manifold
DUPLICATE_NOISE_STD = 2.0  # a near-duplicate differs from its source by barely visible noise


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return cast(np.ndarray, np.clip(np.rint(values), 0, 255).astype(np.uint8))


def _noise(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return _to_uint8(images + rng.normal(0.0, NOISE_STD, images.shape))


def _blur(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # Scale the blur with the image so 8x8 digits and 64x64 photos lose comparable detail.
    sigma = max(1.0, max(images.shape[2:]) / 16)
    return _to_uint8(ndimage.gaussian_filter(images.astype(np.float64), sigma=(0, 0, sigma, sigma), mode="nearest"))


def _occlusion(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A square of half the shorter side at a random place, filled with 255 - the image's median, rounded (contrasting)."""
    height, width = images.shape[2:]
    side = max(1, round(min(height, width) / 2))
    tops = rng.integers(0, height - side + 1, len(images))
    lefts = rng.integers(0, width - side + 1, len(images))
    fills = _to_uint8(255 - np.median(images.reshape(len(images), -1), axis=1))
    out: np.ndarray = images.copy()
    for image, top, left, fill in zip(out, tops, lefts, fills, strict=True):
        image[:, top : top + side, left : left + side] = fill
    return out


def _invert(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return 255 - images


def _flip(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # Upside down: horizontal flips are a standard augmentation and often in-distribution.
    return cast(np.ndarray, images[:, :, ::-1, :].copy())


_IMAGE_CORRUPTIONS: dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    "noise": _noise,
    "blur": _blur,
    "occlusion": _occlusion,
    "invert": _invert,
    "flip": _flip,
}


def _check_kinds(kinds: str | Sequence[str]) -> tuple[str, ...]:
    kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    if not kinds:
        raise InvalidInputError(f"no corruption kinds given; choose from {', '.join(CORRUPTION_KINDS)}")
    for kind in kinds:
        if kind not in CORRUPTION_CODES:
            close = difflib.get_close_matches(str(kind), CORRUPTION_KINDS, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise InvalidInputError(f"unknown corruption kind '{kind}'; {hint}choose from {', '.join(CORRUPTION_KINDS)}")
    return tuple(dict.fromkeys(kinds))


def corrupt(
    dataset: Dataset,
    fraction: float = 0.1,
    kinds: str | Sequence[str] = CORRUPTION_KINDS,
    seed: int = 0,
) -> tuple[Dataset, np.ndarray]:
    """Corrupt round(fraction * N) random instances; return the new dataset and a boolean mask of them.

    ``noise``: additive Gaussian noise (std 0.3 * 255). ``blur``: Gaussian blur with
    sigma = max(1, longer side / 16). ``occlusion``: a contrasting square of half the
    shorter side. ``invert``: 255 - x. ``flip``: upside down. ``duplicate``: a copy of a
    random clean instance (with its label and groups) plus noise of std 2. ``label``:
    the image is kept and the label replaced by a different class, uniformly.
    """
    images = check_images(dataset.data, f"dataset '{dataset.name}' data (corruptions need images)")
    if not isinstance(fraction, Real) or not 0 <= fraction < 1:
        raise InvalidInputError(f"corruption fraction must be a number in [0, 1), got {fraction!r}; pass e.g. fraction=0.1")
    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
        raise InvalidInputError(f"corruption seed must be a non-negative integer, got {seed!r}")
    kinds = _check_kinds(kinds)
    classes = np.unique(dataset.labels) if dataset.labels is not None else np.empty(0)
    if "label" in kinds and len(classes) < 2:
        raise InvalidInputError(f"dataset '{dataset.name}' has fewer than 2 classes, so labels cannot be corrupted; drop 'label' from kinds")

    rng = np.random.default_rng(seed)
    n = len(images)
    chosen = rng.choice(n, size=int(np.floor(fraction * n + 0.5)), replace=False)
    kind_of_chosen = np.array(kinds)[np.arange(len(chosen)) % len(kinds)]  # chosen is in random order
    codes = np.zeros(n, dtype=np.int64)
    codes[chosen] = [CORRUPTION_CODES[kind] for kind in kind_of_chosen]
    mask = codes > 0

    images = images.copy()
    labels = None if dataset.labels is None else dataset.labels.copy()
    groups = {name: values.copy() for name, values in dataset.groups.items()}
    clean = np.flatnonzero(~mask)
    for kind in kinds:
        targets = np.sort(chosen[kind_of_chosen == kind])
        if len(targets) == 0:
            continue
        if kind in _IMAGE_CORRUPTIONS:
            images[targets] = _IMAGE_CORRUPTIONS[kind](images[targets], rng)
        elif kind == "duplicate":
            if len(clean) == 0:
                raise InvalidInputError(f"corruption fraction {fraction} leaves no clean image to duplicate; lower the fraction")
            sources = rng.choice(clean, size=len(targets))
            images[targets] = _to_uint8(images[sources] + rng.normal(0.0, DUPLICATE_NOISE_STD, images[targets].shape))
            for values in (labels, *groups.values()):
                if values is not None:
                    values[targets] = values[sources]
        else:  # label: shift each class index by 1..K-1 places, a uniform choice among the other classes
            positions = np.searchsorted(classes, labels[targets])
            labels[targets] = classes[(positions + rng.integers(1, len(classes), len(targets))) % len(classes)]

    groups["corrupted"] = mask.astype(np.int64)
    groups["corruption"] = codes
    corrupted = Dataset(
        name=f"{dataset.name}-corrupted", data=images, labels=labels, groups=groups, class_names=dataset.class_names
    )
    return corrupted, mask


def load_corrupted(
    base: str = "digits",
    fraction: float = 0.1,
    kinds: str | Sequence[str] = "all",
    seed: int = 0,
    root: str | None = None,
) -> Dataset:
    """The registered dataset ``base`` with corruptions; ``kinds`` is ``all``, comma-separated names or a list.

    ``all`` leaves out ``label`` when the base dataset has fewer than two classes.
    ``root`` is passed on to base datasets read from disk.
    """
    from curbench.plugins import load_registry

    dataset = load_registry().create("dataset", base, None, root=root)
    if isinstance(kinds, (list, tuple)):  # a YAML list of names
        chosen = tuple(kinds)
    elif kinds == "all":
        has_classes = dataset.labels is not None and len(np.unique(dataset.labels)) > 1
        chosen = tuple(kind for kind in CORRUPTION_KINDS if kind != "label" or has_classes)
    else:
        chosen = tuple(part.strip() for part in str(kinds).split(",") if part.strip())
    return corrupt(dataset, fraction=fraction, kinds=chosen, seed=seed)[0]
