"""Frechet inception distance in float64, via a symmetric form of the trace term.

FID = |mu_r - mu_f|^2 + tr S_r + tr S_f - 2 sum_i sqrt(lambda_i),  lambda = eigvalsh(P^T S_f P),

where S_r = P P^T. P^T S_f P has the eigenvalues of S_r S_f (for P = sqrt(S_r) it
is sqrt(S_r) S_f sqrt(S_r)) but is symmetric positive semi-definite:
``eigvalsh`` is several times faster than the general ``eigvals`` of S_r S_f,
and clipping its rounding-level negative eigenvalues keeps FID real and finite
when n < d. P is the Cholesky factor of S_r when S_r is positive definite (cheap)
and sqrt(S_r) from ``eigh`` otherwise (n <= d); it is cached with the mean.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import torch
from scipy.linalg import blas

from curbench.device import resolve_device
from curbench.errors import InvalidInputError
from curbench.metrics.reference import ReferenceStatistics, checked_inputs
from curbench.progress import progress

# float64 rows converted per covariance step (128 MB at d = 2048): big steps keep the syrk efficient.
_CHUNK_ELEMENTS = 1 << 24


def mean_and_covariance(features: np.ndarray, device: str | None = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """float64 mean and unbiased covariance (divisor n - 1), accumulated in row chunks.

    On CUDA (``device`` "cuda...", or None/"auto" with a GPU present) the chunks are multiplied there, in float64.
    """
    n, d = features.shape
    if n < 2:
        raise InvalidInputError(f"a covariance needs at least 2 samples, got {n}; pass more samples")
    mean = features.mean(axis=0, dtype=np.float64)
    gpu = torch.device(resolve_device("auto" if device is None else device))
    scatter = np.zeros((d, d)) if gpu.type == "cpu" else torch.zeros((d, d), dtype=torch.float64, device=gpu)
    rows = min(n, max(1, _CHUNK_ELEMENTS // d))
    starts = range(0, n, rows)
    buffer = np.empty((rows, d)) if gpu.type == "cpu" else None
    for start in progress(starts, total=len(starts), desc="covariance", unit="chunk"):
        if buffer is not None:
            # Converted and centred in one pass into one reused buffer: fresh temporaries cost page faults.
            centred = np.subtract(features[start : start + rows], mean, out=buffer[: min(rows, n - start)])
            scatter += centred.T @ centred  # numpy computes X^T X as a symmetric rank-k update
        else:
            chunk = torch.from_numpy(np.ascontiguousarray(features[start : start + rows])).to(gpu, torch.float64)
            chunk -= torch.from_numpy(mean).to(gpu)
            scatter += chunk.T @ chunk
    if isinstance(scatter, torch.Tensor):  # exactly when gpu.type != "cpu"
        scatter = scatter.cpu().numpy()
    return mean, scatter / (n - 1)


def symmetric_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Principal square root of a symmetric PSD matrix, negative rounding-level eigenvalues clipped to 0."""
    eigenvalues, vectors = np.linalg.eigh(matrix)
    return cast(np.ndarray, (vectors * np.sqrt(np.clip(eigenvalues, 0, None))) @ vectors.T)


def covariance_factor(cov: np.ndarray) -> np.ndarray:
    """A P with P P^T = cov: the Cholesky factor, or sqrt(cov) when cov is singular."""
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        return symmetric_sqrt(cov)


def frechet_distance(
    mean_real: np.ndarray, factor_real: np.ndarray, trace_cov_real: float, mean_fake: np.ndarray, cov_fake: np.ndarray
) -> float:
    """FID from the real side's (mean, covariance factor P, trace) and the fake side's (mean, covariance); >= 0."""
    if np.triu(factor_real, 1).any():  # sqrt(S_r) of a singular covariance
        sandwich = factor_real.T @ cov_fake @ factor_real
    else:  # Cholesky factor: two triangular products cost a third less than general ones
        sandwich = blas.dtrmm(1.0, factor_real, blas.dtrmm(1.0, factor_real, cov_fake, side=1, lower=1), lower=1, trans_a=1)
    sandwich = (sandwich + sandwich.T) / 2
    trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh(sandwich), 0, None)).sum()
    diff = mean_real - mean_fake
    fid = diff @ diff + trace_cov_real + np.trace(cov_fake) - 2 * trace_sqrt
    # The true value is a squared distance; rounding can leave a tiny negative when the sets coincide.
    return max(float(fid), 0.0)


def fid_reference(reference: ReferenceStatistics, device: str | None = "cpu") -> dict[str, np.ndarray]:
    """Cached {mean, factor, trace_cov} of the real features (factor P P^T = covariance)."""

    def compute() -> dict[str, np.ndarray]:
        mean, cov = mean_and_covariance(reference.real, device)
        return {"mean": mean, "factor": covariance_factor(cov), "trace_cov": np.array(np.trace(cov))}

    return reference.get("fid", compute)


class FID:
    """``FID(cache=True, device=None)(real, fake) -> {"fid": float}``; real-side statistics are cached on disk.

    ``device`` computes the covariances (the O(n d^2) part, float64) on CUDA when it names one, or
    when it is None and a GPU is present; the d x d algebra stays on the CPU.
    """

    def __init__(self, cache: bool = True, device: str | None = None) -> None:
        self.cache = bool(cache)
        self.device = device

    def __call__(self, real: np.ndarray | ReferenceStatistics, fake: np.ndarray) -> dict[str, float]:
        """FID of fake (M, D) against real (N, D) features; the real mean and covariance factor are cached."""
        reference, fake = checked_inputs(real, fake, min_rows=2, use_cache=self.cache, why="a covariance")
        stats = fid_reference(reference, self.device)
        mean_fake, cov_fake = mean_and_covariance(fake, self.device)
        fid = frechet_distance(stats["mean"], stats["factor"], float(stats["trace_cov"]), mean_fake, cov_fake)
        return {"fid": fid}
