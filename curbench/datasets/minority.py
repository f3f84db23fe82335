"""digits with one class made a known minority: the bias track's ground truth.

All instances of the other classes are kept; the minority class is subsampled
(at random, fixed seed) so that it makes up ``share`` of the result. The group
``minority`` (1 for the minority class, else 0) lets every board report how
selection and generation change that share.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np

from curbench.datasets.base import Dataset
from curbench.datasets.digits import load_digits
from curbench.errors import InvalidInputError

MINORITY_GROUPING = "minority"


def load_digits_minority(minority_class: int = 8, share: float = 0.05, seed: int = 0) -> Dataset:
    """Digits whose class ``minority_class`` is subsampled to ``share`` of the images (0 < share < its natural share)."""
    digits = load_digits()
    if isinstance(minority_class, bool) or not isinstance(minority_class, Integral) or not 0 <= minority_class <= 9:
        raise InvalidInputError(f"digits-minority option minority_class must be a digit 0-9, got {minority_class!r}")
    is_minority = digits.labels == minority_class
    natural = float(is_minority.mean())
    if isinstance(share, bool) or not isinstance(share, Real) or not 0 < share < natural:
        raise InvalidInputError(
            f"digits-minority option share must be a number in (0, {natural:.3f}) (class {minority_class}'s natural share), "
            f"got {share!r}"
        )
    n_majority = int((~is_minority).sum())
    n_minority = max(1, round(share * n_majority / (1 - share)))
    rng = np.random.default_rng(seed)
    chosen = rng.choice(np.flatnonzero(is_minority), n_minority, replace=False)
    keep = np.sort(np.concatenate([np.flatnonzero(~is_minority), chosen]))
    subset = digits.subset(keep)
    return Dataset(
        name="digits-minority",
        data=subset.data,
        labels=subset.labels,
        groups={MINORITY_GROUPING: (subset.labels == minority_class).astype(np.int64)},
        class_names=subset.class_names,
    )
