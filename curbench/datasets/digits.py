"""scikit-learn's 8x8 handwritten digits: ships with scikit-learn, so it works offline."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits as _sklearn_digits

from curbench.datasets.base import Dataset

_DIGITS_MAX = 16  # sklearn stores intensities as integers 0..16


def load_digits() -> Dataset:
    """1797 images as uint8 (N, 1, 8, 8) scaled to 0..255, with their class labels."""
    bunch = _sklearn_digits()
    images = np.rint(bunch.images * (255 / _DIGITS_MAX)).astype(np.uint8)[:, None]
    return Dataset(
        name="digits",
        data=images,
        labels=bunch.target.astype(np.int64),
        class_names=tuple(str(c) for c in bunch.target_names),
    )
