"""Outlier detectors as data-stage scorers: higher score = more normal = kept first."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.neighbors import LocalOutlierFactor

from curbench.cache import array_digest
from curbench.errors import InvalidInputError
from curbench.scorers.base import Scorer


def _check_positive_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise InvalidInputError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


class IsolationForestScorer(Scorer):
    """``IsolationForest(n_estimators, random_state=seed).score_samples``: the negated anomaly score."""

    name = "isolation-forest"

    def __init__(self, n_estimators: int = 100, seed: int = 0) -> None:
        self.n_estimators = _check_positive_int(n_estimators, "isolation-forest n_estimators")
        if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
            raise InvalidInputError(f"isolation-forest seed must be a non-negative integer, got {seed!r}")
        self.seed = int(seed)

    def _fit(self, features: np.ndarray, labels: np.ndarray | None) -> None:
        self.forest_ = IsolationForest(n_estimators=self.n_estimators, random_state=self.seed).fit(features)

    def _score(self, features: np.ndarray) -> np.ndarray:
        return self.forest_.score_samples(features)


class LOFScorer(Scorer):
    """Negative local outlier factor.

    On the fitted array itself (same dtype, shape and values) the score is
    ``negative_outlier_factor_``, which leaves each point out of its own
    neighbourhood (scikit-learn's ``novelty=False``); on any other array it is
    the novelty-mode ``score_samples`` against the fitted set.
    ``n_neighbors`` is capped at N - 1 for small sets (e.g. small classes).
    """

    name = "lof"

    def __init__(self, n_neighbors: int = 20) -> None:
        self.n_neighbors = _check_positive_int(n_neighbors, "lof n_neighbors")

    def _fit(self, features: np.ndarray, labels: np.ndarray | None) -> None:
        if len(features) < 2:
            raise InvalidInputError(f"lof needs at least 2 instances to fit, got {len(features)}; use global selection for tiny classes")
        neighbours = min(self.n_neighbors, len(features) - 1)
        self.model_ = LocalOutlierFactor(n_neighbors=neighbours, novelty=True).fit(features)
        self._fitted_digest = array_digest(features)

    def _score(self, features: np.ndarray) -> np.ndarray:
        if array_digest(features) == self._fitted_digest:
            return self.model_.negative_outlier_factor_
        return self.model_.score_samples(features)
