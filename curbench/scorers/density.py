"""Density scorers of the instance-selection paper: a full-covariance Gaussian and probabilistic PCA.

Both score with log-likelihoods in float64. Rows are processed in chunks so the
extra memory is O(chunk * d + d^2) rather than a float64 copy of all features.
"""

from __future__ import annotations

from collections.abc import Iterator
from numbers import Real

import numpy as np
from scipy import linalg

from curbench.errors import InvalidInputError
from curbench.progress import progress
from curbench.scorers.base import Scorer

_CHUNK_ROWS = 4096
_LOG_2PI = np.log(2 * np.pi)
# PPCA noise variance is zero only when the data span at most one direction; keep C invertible then.
_NOISE_FLOOR = 1e-12


def _centred_chunks(features: np.ndarray, mean: np.ndarray, desc: str) -> Iterator[tuple[slice, np.ndarray]]:
    """Yield (row slice, float64 rows minus ``mean``) in chunks, with a progress bar over chunks."""
    starts = range(0, len(features), _CHUNK_ROWS)
    for start in progress(starts, total=len(starts), desc=desc, unit="chunk"):
        rows = slice(start, start + _CHUNK_ROWS)
        yield rows, features[rows].astype(np.float64) - mean


def _mean_and_covariance(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and maximum-likelihood covariance (divisor N), accumulated chunk by chunk."""
    mean = features.mean(axis=0, dtype=np.float64)
    d = features.shape[1]
    scatter = np.zeros((d, d))
    for _, centred in _centred_chunks(features, mean, "covariance"):
        scatter += centred.T @ centred
    return mean, scatter / len(features)


class GaussianScorer(Scorer):
    """H(z) = log N(z; mu, Sigma_ML + reg_covar * I).

    Equals scikit-learn's ``GaussianMixture(n_components=1, covariance_type="full",
    reg_covar=reg_covar).fit(X).score_samples``; the ridge keeps it finite for N < d.
    """

    name = "gaussian"

    def __init__(self, reg_covar: float = 1e-5) -> None:
        if not isinstance(reg_covar, Real) or not reg_covar > 0:
            raise InvalidInputError(f"gaussian reg_covar must be > 0, got {reg_covar}; pass e.g. reg_covar=1e-5")
        self.reg_covar: float = float(reg_covar)

    def _fit(self, features: np.ndarray, labels: np.ndarray | None) -> None:
        self.mean_, covariance = _mean_and_covariance(features)
        covariance[np.diag_indices_from(covariance)] += self.reg_covar
        try:
            self.cholesky_ = linalg.cholesky(covariance, lower=True, overwrite_a=True)
        except linalg.LinAlgError:
            raise InvalidInputError(
                f"gaussian covariance is not positive definite with reg_covar={self.reg_covar}; increase reg_covar"
            ) from None
        d = len(self.mean_)
        self._log_norm = -0.5 * (d * _LOG_2PI) - np.log(np.diag(self.cholesky_)).sum()

    def _score(self, features: np.ndarray) -> np.ndarray:
        scores = np.empty(len(features))
        for rows, centred in _centred_chunks(features, self.mean_, "gaussian scores"):
            whitened = linalg.solve_triangular(self.cholesky_, centred.T, lower=True, check_finite=False)
            scores[rows] = self._log_norm - 0.5 * np.einsum("ij,ij->j", whitened, whitened)
        return scores


def _eigen_decomposition(features: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, eigenvalues (descending, >= 0) of the ML covariance and matching unit eigenvectors (columns).

    With fewer rows than dimensions, the N x N Gram matrix gives the same non-zero
    eigenvalues at O(N^2 d) instead of O(d^3); its eigenvectors are then mapped back
    to feature space (only those of positive eigenvalues, the rest being implicit zeros).
    """
    n, d = features.shape
    if n >= d:
        mean, covariance = _mean_and_covariance(features)
        values, vectors = linalg.eigh(covariance, overwrite_a=True, check_finite=False)
        return mean, np.clip(values[::-1], 0, None), vectors[:, ::-1]
    mean = features.mean(axis=0, dtype=np.float64)
    centred = features.astype(np.float64) - mean
    values, coefficients = linalg.eigh(centred @ centred.T / n, check_finite=False)
    values, coefficients = np.clip(values[::-1], 0, None), coefficients[:, ::-1]
    positive = values > values[0] * np.finfo(np.float64).eps * n
    vectors = centred.T @ coefficients[:, positive] / np.sqrt(n * values[positive])
    return mean, values[positive], vectors


class PPCAScorer(Scorer):
    """Probabilistic PCA log-likelihood, Tipping & Bishop maximum-likelihood fit.

    q = number of principal components whose cumulative explained-variance ratio is
    strictly below ``variance_threshold`` (clipped to [1, d - 1]); sigma^2 = mean of
    the d - q discarded eigenvalues (zeros included when N < d); C = W W^T + sigma^2 I.
    Scoring uses the Woodbury identity, O(N d q).
    """

    name = "ppca"

    def __init__(self, variance_threshold: float = 0.95) -> None:
        if not isinstance(variance_threshold, Real) or not 0 < variance_threshold <= 1:
            raise InvalidInputError(
                f"ppca variance_threshold must be in (0, 1], got {variance_threshold}; pass e.g. variance_threshold=0.95"
            )
        self.variance_threshold: float = float(variance_threshold)

    def _fit(self, features: np.ndarray, labels: np.ndarray | None) -> None:
        d = features.shape[1]
        if d < 2:
            raise InvalidInputError("ppca needs features with at least 2 dimensions; use the gaussian scorer for 1-d features")
        self.mean_, eigenvalues, eigenvectors = _eigen_decomposition(features)
        total = eigenvalues.sum()
        ratios = np.cumsum(eigenvalues) / total if total > 0 else np.ones_like(eigenvalues)
        q = int(np.clip(np.count_nonzero(ratios < self.variance_threshold), 1, d - 1))
        # Eigenvalues beyond those returned are exact zeros, so divide the discarded sum by d - q.
        noise = eigenvalues[q:].sum() / (d - q)
        self.noise_variance_ = max(noise, _NOISE_FLOOR * max(eigenvalues.max(initial=0.0), 1.0))
        self.n_components_ = q
        # A component no larger than the noise adds nothing to C (its W column is zero).
        signal = eigenvalues[:q] > self.noise_variance_
        self.explained_variance_ = eigenvalues[:q][signal]
        self.components_ = np.ascontiguousarray(eigenvectors[:, :q][:, signal].T)
        kept = len(self.explained_variance_)
        log_det = np.log(self.explained_variance_).sum() + (d - kept) * np.log(self.noise_variance_)
        self._log_norm = -0.5 * (log_det + d * _LOG_2PI)

    def _score(self, features: np.ndarray) -> np.ndarray:
        scores = np.empty(len(features))
        for rows, centred in _centred_chunks(features, self.mean_, "ppca scores"):
            projected = centred @ self.components_.T
            residual = centred - projected @ self.components_
            mahalanobis = (projected**2 / self.explained_variance_).sum(axis=1)
            mahalanobis += np.einsum("ij,ij->i", residual, residual) / self.noise_variance_
            scores[rows] = self._log_norm - 0.5 * mahalanobis
        return scores
