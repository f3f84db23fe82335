"""The k-NN density scorer of the instance-selection paper: H(z) = -(distance to the K-th nearest neighbour).

Scoring the fitted set itself excludes only each point (a duplicate is a
neighbour at distance 0); scoring new points uses their plain K-th nearest
neighbour in the fitted set. ``index="exact"`` (default) uses the streaming
engine in :mod:`curbench.knn` (exact float64 distances, O(N * K) memory);
``index="ivf"`` or ``"hnsw"`` opts into a faiss index for ImageNet-scale sets, and
every such search reports its recall against exact search on sampled queries.
"""

from __future__ import annotations

from typing import TypedDict

import numpy as np

from curbench import ann, knn
from curbench.errors import InvalidInputError
from curbench.scorers.base import Scorer
from curbench.validation import check_positive_int

INDEXES = ("exact", *ann.INDEXES)


class _IndexOptions(TypedDict):
    lists: int | None
    probes: int
    links: int
    breadth: int


class KNNScorer(Scorer):
    name = "knn"

    def __init__(
        self,
        k: int = 5,
        device: str = "auto",
        index: str = "exact",
        lists: int | None = None,
        probes: int = 16,
        links: int = 32,
        breadth: int = 128,
        checked_queries: int = 1000,
        seed: int = 0,
    ) -> None:
        self.k = check_positive_int(k, "knn scorer k")
        if index not in INDEXES:
            raise InvalidInputError(f"knn scorer index must be one of {', '.join(INDEXES)}, got {index!r}")
        self.device = device
        self.index = index
        self.index_options: _IndexOptions = {
            "lists": None if lists is None else check_positive_int(lists, "knn scorer lists"),
            "probes": check_positive_int(probes, "knn scorer probes"),
            "links": check_positive_int(links, "knn scorer links"),
            "breadth": check_positive_int(breadth, "knn scorer breadth"),
        }
        self.checked_queries = check_positive_int(checked_queries, "knn scorer checked_queries")
        self.seed = int(seed)
        #: How the last approximate search compared with exact search (None for ``index="exact"``).
        self.search_report: ann.SearchReport | None = None
        self._fitted: np.ndarray | None = None
        self._approximate: ann.ApproximateIndex | None = None

    def _fit(self, features: np.ndarray, labels: np.ndarray | None) -> None:
        if len(features) <= self.k:
            raise InvalidInputError(
                f"knn scorer needs more than k={self.k} samples to fit, got {len(features)}; lower k or pass more samples"
            )
        self._fitted = features
        if self.index != "exact":
            self._approximate = ann.ApproximateIndex(self.index, features, seed=self.seed, **self.index_options)

    def diagnostics(self) -> dict[str, float]:
        """The last approximate search against exact search on sampled queries (nothing for the exact engine)."""
        report = self.search_report
        if report is None:
            return {}
        return {"ann_recall": report.recall, "ann_kth_distance_error": report.kth_distance_error}

    def _is_fitted_set(self, features: np.ndarray) -> bool:
        fitted = self._fitted
        if fitted is None:  # Scorer.score refuses an unfitted scorer before this
            return False
        return features is fitted or (features.shape == fitted.shape and np.array_equal(features, fitted))

    def _score(self, features: np.ndarray) -> np.ndarray:
        within = self._is_fitted_set(features)
        if self._approximate is None:
            reference = None if within else self._fitted
            distances, _ = knn.nearest_neighbours(features, reference, self.k, device=self.device)
            return -distances[:, -1]
        found = self._approximate.search(features, self.k + within)
        if within:
            found = ann.without_self(*found, np.arange(len(features)))
        self.search_report = ann.audit(
            self._approximate, features, found, self.k, within=within, queries=self.checked_queries, seed=self.seed
        )
        return -found[0][:, -1]
