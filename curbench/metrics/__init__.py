"""Metrics of generated features against real (reference) features: FID, KID, precision, recall, density, coverage."""

from __future__ import annotations

import numpy as np

from curbench.metrics.fid import FID
from curbench.metrics.kid import KID
from curbench.metrics.prdc import PRDC, PRDCPoints
from curbench.metrics.reference import ReferenceStatistics, checked_inputs

__all__ = ["FID", "KID", "PRDC", "PRDCPoints", "ReferenceStatistics", "evaluate"]


def evaluate(
    real: np.ndarray,
    fake: np.ndarray,
    *,
    k: int = 5,
    tie: str = "lt",
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    seed: int = 0,
    cache: bool = True,
    prdc_points: PRDCPoints | None = None,
) -> dict[str, float]:
    """fid, kid, kid_std, precision, recall, density, coverage, n_real and n_fake of ``fake`` against ``real``.

    Inputs are (N, D) numeric arrays with N > k; real-side statistics are cached
    on disk (``cache=False`` to skip) keyed by the content of ``real``. Pass ``prdc_points``
    when the per-point outcomes were already computed (e.g. for the bias audit) to reuse them.
    """
    prdc = PRDC(k=k, tie=tie, cache=cache)
    kid = KID(subsets=kid_subsets, subset_size=kid_subset_size, seed=seed, cache=cache)
    reference, fake = checked_inputs(real, fake, min_rows=prdc.k + 1, use_cache=cache, why=f"k={prdc.k} nearest neighbours")
    result: dict[str, float] = {}
    result.update(FID(cache=cache)(reference, fake))
    result.update(kid(reference, fake))
    result.update((prdc_points or prdc.per_point(reference, fake)).metrics())
    result.update(n_real=len(reference.real), n_fake=len(fake))
    return result
