"""Opt-in approximate nearest-neighbour search (faiss IVF or HNSW), with its recall measured.

At ImageNet scale (1.28M x 2048) the exact engine in :mod:`curbench.knn` costs
one N x N matrix product; an approximate index trades exactness for time. Every
search is audited: a seeded sample of queries is also searched exactly, and the
:class:`SearchReport` (recall@k and the k-th distance error, which is what the
knn scorer uses) is kept and printed, so a result never hides how approximate it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import numpy as np

from curbench import knn
from curbench.errors import InvalidInputError
from curbench.progress import note

INDEXES = ("ivf", "hnsw")
# faiss warns when k-means gets fewer training points than this per list.
_POINTS_PER_LIST = 39


@dataclass(frozen=True)
class SearchReport:
    """How an approximate search compared with exact search on sampled queries."""

    index: str
    k: int
    queries: int
    recall: float  # mean fraction of the exact k nearest that the index returned
    kth_distance_error: float  # mean |approximate - exact| / exact k-th neighbour distance

    def line(self) -> str:
        """The report in one printable line: index, recall@k, k-th distance error, number of queries checked."""
        return (
            f"{self.index} index: recall@{self.k} {self.recall:.3f}, k-th distance error "
            f"{100 * self.kth_distance_error:.2f}% on {self.queries} queries checked against exact search"
        )


def _faiss() -> ModuleType:
    try:
        import faiss
    except ImportError:
        raise InvalidInputError(
            "the 'ivf' and 'hnsw' knn indexes need faiss: pip install 'curbench[faiss]', or use index=exact"
        ) from None
    return faiss


class ApproximateIndex:
    """A faiss index over ``reference`` (float32 L2), built once and searched many times.

    ``ivf``: inverted lists over ``lists`` k-means cells (default 4 sqrt(N)), ``probes`` searched.
    ``hnsw``: a graph with ``links`` neighbours per node, ``breadth`` candidates per search.
    """

    def __init__(
        self,
        kind: str,
        reference: np.ndarray,
        *,
        lists: int | None = None,
        probes: int = 16,
        links: int = 32,
        breadth: int = 128,
        seed: int = 0,
    ) -> None:
        if kind not in INDEXES:
            raise InvalidInputError(f"unknown approximate index '{kind}'; use one of {', '.join(INDEXES)}")
        faiss = _faiss()
        self.kind = kind
        self.reference = reference
        data = np.ascontiguousarray(reference, dtype=np.float32)
        d = data.shape[1]
        if kind == "ivf":
            lists = lists or int(np.clip(4 * np.sqrt(len(data)), 1, max(1, len(data) // _POINTS_PER_LIST)))
            self._quantizer = faiss.IndexFlatL2(d)  # the IVF index keeps a reference, not a copy
            index = faiss.IndexIVFFlat(self._quantizer, d, lists)
            index.cp.seed = seed
            index.train(data)
            index.nprobe = min(probes, lists)
        else:
            index = faiss.IndexHNSWFlat(d, links)
            index.hnsw.efSearch = breadth
        index.add(data)
        self._index = index

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Approximate (distances float64, indices int64) of the k nearest reference points per query row."""
        squared, indices = self._index.search(np.ascontiguousarray(query, dtype=np.float32), k)
        return np.sqrt(np.maximum(squared, 0).astype(np.float64)), indices.astype(np.int64)


def without_self(distances: np.ndarray, indices: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop each row's own index from a k+1 result (or its last entry when the search missed itself)."""
    own = indices == rows[:, None]
    drop = np.where(own.any(axis=1), own.argmax(axis=1), indices.shape[1] - 1)
    keep = np.arange(indices.shape[1])[None, :] != drop[:, None]
    shape = (len(rows), indices.shape[1] - 1)
    return distances[keep].reshape(shape), indices[keep].reshape(shape)


def audit(
    index: ApproximateIndex,
    query: np.ndarray,
    found: tuple[np.ndarray, np.ndarray],
    k: int,
    *,
    within: bool,
    queries: int,
    seed: int,
) -> SearchReport:
    """Compare ``found`` (the index's k nearest per query row) with exact search on a sample of rows."""
    rows = np.sort(np.random.default_rng(seed).choice(len(query), min(queries, len(query)), replace=False))
    exact_d, exact_i = knn.nearest_neighbours(query[rows], index.reference, k + within)
    if within:
        exact_d, exact_i = without_self(exact_d, exact_i, rows)
    found_d, found_i = found[0][rows], found[1][rows]
    recall = np.mean([len(np.intersect1d(a, b)) / k for a, b in zip(found_i, exact_i, strict=True)])
    exact_kth, found_kth = exact_d[:, -1], found_d[:, -1]
    error = np.abs(found_kth - exact_kth) / np.where(exact_kth > 0, exact_kth, 1.0)
    report = SearchReport(index.kind, k, len(rows), float(recall), float(error.mean()))
    note(report.line())
    return report
