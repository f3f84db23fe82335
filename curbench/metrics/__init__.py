"""Metrics of generated features against real (reference) features: FID, KID, precision, recall, density, coverage."""

from __future__ import annotations

import numpy as np

from curbench.metrics.fid import FID
from curbench.metrics.kid import KID, TORCH_FIDELITY_SEED, full_float32_products
from curbench.metrics.prdc import PRDC, PassObservers, PRDCPoints
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
    seed: int = TORCH_FIDELITY_SEED,
    cache: bool = True,
    prdc_points: PRDCPoints | None = None,
) -> dict[str, float]:
    """fid, kid, kid_std, precision, recall, density, coverage, n_real and n_fake of ``fake`` against ``real``.

    Inputs are (N, D) numeric arrays with N > k; real-side statistics are cached
    on disk (``cache=False`` to skip) keyed by the content of ``real``. ``seed`` draws the KID
    subsets (torch-fidelity's by default). Pass ``prdc_points`` when the per-point outcomes were
    already computed (e.g. for the bias audit) to reuse them. Otherwise KID takes its kernel's
    products from the P/R/D/C passes, which compute the same pairs anyway.
    """
    prdc = PRDC(k=k, tie=tie, cache=cache)
    kid = KID(subsets=kid_subsets, subset_size=kid_subset_size, seed=seed, cache=cache)
    reference, fake = checked_inputs(real, fake, min_rows=prdc.k + 1, use_cache=cache, why=f"k={prdc.k} nearest neighbours")
    result: dict[str, float] = {}
    result.update(FID(cache=cache)(reference, fake))
    shared = kid.shared(reference, fake)
    if prdc_points is None:
        with full_float32_products():  # the shared products must be true float32 for KID
            prdc_points = prdc.per_point(reference, fake, PassObservers(shared.real, shared.fake, shared.cross))
    result.update(shared.result())
    result.update(prdc_points.metrics())
    result.update(n_real=len(reference.real), n_fake=len(fake))
    return result
