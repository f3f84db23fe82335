"""The Vendi score (Friedman & Dieng 2023): the effective number of distinct samples in a set.

VS(X) = exp(H(lambda)), lambda the eigenvalues of K / n, K_ij = cos(x_i, x_j) the cosine similarity of the
n features, H the Shannon entropy (order q = 1; other orders as in Pasarkar & Dieng 2024). It is 1 for n
copies of one point and n for n mutually orthogonal ones. Higher means more diverse.

With X the features scaled to unit rows, K = X X^T, whose non-zero eigenvalues are those of X^T X. So when
d < n the d x d matrix X^T X / n is formed, in float64 row chunks, and no n x n matrix ever exists
(vendi-score's ``score_dual``); otherwise the n x n matrix X X^T / n is (its ``score_X``). Rows are scaled
as vendi-score scales them (scikit-learn's ``normalize``: a row whose norm is below 10 machine epsilons is
left as it is), eigenvalues come from ``scipy.linalg.eigvalsh`` and only positive ones enter the entropy, as
in vendi-score. Everything is float64 (vendi-score computes in the dtype it is given).
"""

from __future__ import annotations

import math
from numbers import Real
from typing import cast

import numpy as np
import numpy.typing as npt
import scipy.linalg

from curbench.errors import InvalidInputError
from curbench.metrics.reference import ReferenceStatistics, checked_inputs
from curbench.validation import check_features

# float64 elements of one row chunk of unit features (32 MB)
_CHUNK_ELEMENTS = 1 << 22
_TINY_NORM = 10 * np.finfo(np.float64).eps


def unit_rows(features: np.ndarray) -> np.ndarray:
    """float64 copy of ``features`` with every row scaled to norm 1 (rows with norm < 10 eps left unscaled)."""
    x = np.asarray(features, dtype=np.float64)
    norms: npt.NDArray[np.float64] = np.sqrt(np.einsum("ij,ij->i", x, x))
    norms[norms < _TINY_NORM] = 1.0
    return x / norms[:, None]


def similarity_eigenvalues(features: np.ndarray) -> np.ndarray:
    """Eigenvalues of K / n, K the cosine-similarity matrix: the min(n, d) of the smaller equivalent matrix."""
    n, d = features.shape
    if d < n:  # the dual: X^T X / n, d x d
        gram = np.zeros((d, d))
        rows = max(1, _CHUNK_ELEMENTS // d)
        for start in range(0, n, rows):
            chunk = unit_rows(features[start : start + rows])
            gram += chunk.T @ chunk
        matrix = gram / n
    else:  # X X^T / n, n x n
        x = unit_rows(features)
        matrix = (x @ x.T) / n
    return cast(np.ndarray, scipy.linalg.eigvalsh(matrix))


def entropy(eigenvalues: np.ndarray, q: float = 1.0) -> float:
    """Order-q entropy of the eigenvalues (the positive ones; q = 1 Shannon, q = inf -log of the largest)."""
    positive = eigenvalues[eigenvalues > 0]
    if q == 1:
        return float(-(positive * np.log(positive)).sum())
    if math.isinf(q):
        return float(-np.log(np.max(eigenvalues)))
    return float(np.log((positive**q).sum()) / (1 - q))


def vendi_score(features: np.ndarray, q: float = 1.0) -> float:
    """The Vendi score of (n, d) features with the cosine-similarity kernel."""
    return float(np.exp(entropy(similarity_eigenvalues(check_features(features, "features")), q)))


def check_order(q: object) -> float:
    """``q`` as a float if it is a number >= 0; the string ``inf`` (any case) gives infinity."""
    if isinstance(q, str) and q.strip().lower() == "inf":
        return math.inf
    if isinstance(q, bool) or not isinstance(q, Real) or math.isnan(q) or q < 0:
        raise InvalidInputError(f"Vendi q must be a number >= 0 or 'inf', got {q!r}")
    return float(q)


class Vendi:
    """``Vendi(q=1, cache=True)(real, fake) -> {"vendi": VS(fake), "vendi_real": VS(real)}``.

    ``vendi`` is the diversity of the generated set; ``vendi_real`` that of the reference, the ceiling a
    board can show beside it. The reference's eigenvalues are cached on disk (``cache=False`` to skip).
    """

    def __init__(self, q: float | str = 1.0, cache: bool = True) -> None:
        self.q = check_order(q)
        self.cache = bool(cache)

    def __call__(self, real: np.ndarray | ReferenceStatistics, fake: np.ndarray) -> dict[str, float]:
        """``vendi`` of the fake features and ``vendi_real`` of the real ones (whose eigenvalues are cached)."""
        reference, fake = checked_inputs(real, fake, min_rows=1, use_cache=self.cache, why="the Vendi score")
        real_eigenvalues = reference.get("vendi", lambda: {"eigenvalues": similarity_eigenvalues(reference.real)})
        return {
            "vendi": float(np.exp(entropy(similarity_eigenvalues(fake), self.q))),
            "vendi_real": float(np.exp(entropy(real_eigenvalues["eigenvalues"], self.q))),
        }
