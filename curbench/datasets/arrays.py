"""Images (and optional labels) from ``.npy`` files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from curbench.datasets.base import Dataset
from curbench.errors import InvalidInputError
from curbench.validation import check_images, check_labels, load_npy


def load_arrays(images: str, labels: str | None = None) -> Dataset:
    """uint8 (N, C, H, W) images from ``images``; integer class labels (N,) from ``labels`` if given."""
    data = check_images(load_npy(images, "images"), f"images in {images}")
    targets = None
    if labels is not None:
        targets = check_labels(load_npy(labels, "labels"), len(data), f"labels in {labels}")
        if targets.dtype.kind not in "iu":
            raise InvalidInputError(f"labels in {labels} must be integers, got {targets.dtype}; save class indices")
        targets = targets.astype(np.int64)
    return Dataset(name=Path(images).stem, data=data, labels=targets)
