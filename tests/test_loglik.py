"""The held-out log-likelihood metric (ALL) and the outlier mass, against a brute-force Gaussian mixture computation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from curbench.errors import InvalidInputError
from curbench.metrics.loglik import OUTLIER_QUANTILE, HeldOutLikelihood

RNG = np.random.default_rng(11)


def _scott_kde_log_density(points: np.ndarray, at: np.ndarray, leave_out_self: bool = False) -> np.ndarray:
    """log (1/n Σ N(at; x_i, Σ)) with Σ = cov(points) · n^(-2/(d+4)) (Scott), written out per component."""
    n, d = points.shape
    bandwidth = np.cov(points.T) * n ** (-2 / (d + 4))
    terms = np.stack([multivariate_normal(mean=x, cov=bandwidth).logpdf(at) for x in points], axis=1)
    if leave_out_self:
        np.fill_diagonal(terms, -np.inf)
        return logsumexp(terms, axis=1) - np.log(n - 1)
    return logsumexp(terms, axis=1) - np.log(n)


def test_all_and_outlier_mass_match_the_mixture_written_out():
    real = RNG.normal(size=(150, 2))
    fake = np.concatenate([RNG.normal(size=(110, 2)) * 0.8, RNG.uniform(-8, 8, size=(10, 2))])
    result = HeldOutLikelihood()(real, fake)
    assert result["all"] == pytest.approx(np.mean(_scott_kde_log_density(fake, real)), rel=1e-10)
    threshold = np.quantile(_scott_kde_log_density(real, real, leave_out_self=True), OUTLIER_QUANTILE)
    assert result["outlier_mass"] == pytest.approx(np.mean(_scott_kde_log_density(real, fake) < threshold), abs=1e-12)
    assert result["outlier_mass"] >= 8 / 120  # the far uniform points are outliers


def test_a_generator_that_misses_a_mode_scores_lower_all():
    modes = np.array([[3.0, 0.0], [-3.0, 0.0]])
    real = modes[RNG.integers(0, 2, 400)] + 0.3 * RNG.normal(size=(400, 2))
    both = modes[RNG.integers(0, 2, 400)] + 0.3 * RNG.normal(size=(400, 2))
    one = modes[0] + 0.3 * RNG.normal(size=(400, 2))
    assert HeldOutLikelihood()(real, both)["all"] > HeldOutLikelihood()(real, one)["all"] + 1


def test_high_dimensional_features_are_refused():
    with pytest.raises(InvalidInputError, match="at most 10 dimensions"):
        HeldOutLikelihood()(RNG.normal(size=(50, 64)), RNG.normal(size=(50, 64)))
