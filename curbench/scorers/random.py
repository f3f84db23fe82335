"""The random-subset baseline: a targeted curation method must beat this at the same retention."""

from __future__ import annotations

from numbers import Integral

import numpy as np

from curbench.cache import array_digest
from curbench.errors import InvalidInputError
from curbench.scorers.base import Scorer


class RandomScorer(Scorer):
    """Uniform [0, 1) scores from ``np.random.default_rng``: selecting the top N% is a random subset.

    The stream is seeded by ``seed`` and, when ``fit`` gets labels, by the set of
    labels seen, so that classes fitted separately get independent streams
    rather than the same prefix (which would tie together the subsets of
    classes stored in a correlated order). Same seed, labels and N: same scores.
    """

    name = "random"

    def __init__(self, seed: int = 0) -> None:
        if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
            raise InvalidInputError(f"random scorer seed must be a non-negative integer, got {seed!r}")
        self.seed: int = int(seed)
        self._stream_key: list[int] = [self.seed]

    def _fit(self, features: np.ndarray, labels: np.ndarray | None) -> None:
        self._stream_key = [self.seed]
        if labels is not None:
            self._stream_key.append(int(array_digest(np.unique(labels))[:15], 16))

    def _score(self, features: np.ndarray) -> np.ndarray:
        return np.random.default_rng(self._stream_key).random(len(features))
