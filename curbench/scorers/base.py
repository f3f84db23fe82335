"""A base class for data-stage scorers that validates their inputs (the contract is in curbench.plugins.contracts).

A data-stage scorer is built from keyword options, fitted on the embedded set,
and gives one score per instance; higher means more typical, i.e. kept first.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from curbench.errors import InvalidInputError
from curbench.validation import check_features, check_labels


class Scorer(ABC):
    """Convenience base: validates arrays, remembers the fitted dimension, returns float64 scores.

    Subclasses implement :meth:`_fit` and :meth:`_score` on already-checked
    ``(N, D)`` float arrays.
    """

    name: ClassVar[str] = "scorer"

    _n_features: int | None = None

    def fit(self, features: np.ndarray, labels: np.ndarray | None = None) -> Scorer:
        """Check the (N, D) ``features`` and per-row ``labels``, fit with :meth:`_fit`, remember D; returns self."""
        features = check_features(features, f"{self.name} fit features")
        labels = check_labels(labels, len(features))
        self._fit(features, labels)
        self._n_features = features.shape[1]
        return self

    def score(self, features: np.ndarray) -> np.ndarray:
        """float64 scores (N,) from :meth:`_score` for features of the fitted D; raises before :meth:`fit`."""
        if self._n_features is None:
            raise InvalidInputError(f"{self.name} scorer is not fitted; call fit(features) before score(features)")
        features = check_features(features, f"{self.name} score features")
        if features.shape[1] != self._n_features:
            raise InvalidInputError(
                f"{self.name} scorer was fitted on {self._n_features}-d features but got {features.shape[1]}-d; "
                "score features from the same embedder"
            )
        return np.asarray(self._score(features), dtype=np.float64).reshape(len(features))

    def diagnostics(self) -> dict[str, float]:
        """Numbers about the last fit and score that a cell's record should keep (e.g. an approximate search's recall)."""
        return {}

    @abstractmethod
    def _fit(self, features: np.ndarray, labels: np.ndarray | None) -> None: ...

    @abstractmethod
    def _score(self, features: np.ndarray) -> np.ndarray: ...
