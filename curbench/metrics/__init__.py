"""Metrics of generated features against real (reference) features: FID, KID, precision, recall, density, coverage."""

from __future__ import annotations

import numpy as np

from curbench.metrics.fid import FID
from curbench.metrics.kid import KID, TORCH_FIDELITY_SEED, full_float32_products
from curbench.metrics.prdc import PRDC, PassObservers, PRDCPoints
from curbench.metrics.reference import ReferenceStatistics, checked_inputs

__all__ = ["FID", "KID", "PRDC", "PRDCPoints", "ReferenceStatistics", "evaluate", "kid_and_prdc"]


def kid_and_prdc(
    kid: KID, prdc: PRDC, real: np.ndarray | ReferenceStatistics, fake: np.ndarray
) -> tuple[dict[str, float], PRDCPoints]:
    """``kid(real, fake)`` and ``prdc.per_point(real, fake)`` from one set of passes over the pairs.

    KID's kernel takes its products from the P/R/D/C passes (which compute every real x fake and
    within-set pair anyway), so KID's fake-side products cost nothing extra; its real x real sums are its
    own, computed once per reference and cached, so that a warm cache gives the same bits as a cold one.
    """
    shared = kid.shared(real, fake)
    with full_float32_products():  # the shared products must be true float32 for KID
        points = prdc.per_point(shared.reference, shared.fake_features, PassObservers(shared.real, shared.fake, shared.cross))
    return shared.result(), points


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
    already computed (e.g. for the bias audit) to reuse them; otherwise KID and P/R/D/C share their
    passes (:func:`kid_and_prdc`).
    """
    prdc = PRDC(k=k, tie=tie, cache=cache)
    kid = KID(subsets=kid_subsets, subset_size=kid_subset_size, seed=seed, cache=cache)
    reference, fake = checked_inputs(real, fake, min_rows=prdc.k + 1, use_cache=cache, why=f"k={prdc.k} nearest neighbours")
    result: dict[str, float] = {}
    result.update(FID(cache=cache)(reference, fake))
    if prdc_points is None:
        kid_values, prdc_points = kid_and_prdc(kid, prdc, reference, fake)
    else:
        kid_values = kid(reference, fake)
    result.update(kid_values)
    result.update(prdc_points.metrics())
    result.update(n_real=len(reference.real), n_fake=len(fake))
    return result
