"""The k-NN density scorer of the instance-selection paper: H(z) = -(distance to the K-th nearest neighbour).

Scoring the fitted set itself excludes only each point (a duplicate is a
neighbour at distance 0); scoring new points uses their plain K-th nearest
neighbour in the fitted set. Distances come from the streaming engine in
:mod:`curbench.knn` (exact float64 values, O(N * K) memory).
"""

from __future__ import annotations

from numbers import Integral

import numpy as np

from curbench import knn
from curbench.errors import InvalidInputError
from curbench.scorers.base import Scorer


class KNNScorer(Scorer):
    name = "knn"

    def __init__(self, k: int = 5, device: str = "auto") -> None:
        if isinstance(k, bool) or not isinstance(k, Integral) or k < 1:
            raise InvalidInputError(f"knn scorer k must be a positive integer, got {k!r}")
        self.k = int(k)
        self.device = device
        self._fitted: np.ndarray | None = None

    def _fit(self, features: np.ndarray, labels: np.ndarray | None) -> None:
        if len(features) <= self.k:
            raise InvalidInputError(
                f"knn scorer needs more than k={self.k} samples to fit, got {len(features)}; lower k or pass more samples"
            )
        self._fitted = features

    def _is_fitted_set(self, features: np.ndarray) -> bool:
        fitted = self._fitted
        return features is fitted or (features.shape == fitted.shape and np.array_equal(features, fitted))

    def _score(self, features: np.ndarray) -> np.ndarray:
        if self._is_fitted_set(features):
            distances, _ = knn.nearest_neighbours(self._fitted, None, self.k, device=self.device)
        else:
            distances, _ = knn.nearest_neighbours(features, self._fitted, self.k, device=self.device)
        return -distances[:, -1]
