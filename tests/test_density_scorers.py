"""Gaussian and PPCA scorers against scikit-learn, scipy and numpy re-derivations; input validation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import multivariate_normal
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture

from curbench.errors import InvalidInputError
from curbench.plugins import load_registry
from curbench.scorers import DataScorer, density
from curbench.scorers.density import GaussianScorer, PPCAScorer


def correlated(n: int, d: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    scales = np.geomspace(5.0, 0.05, d)  # a decaying spectrum, as embeddings have
    return rng.standard_normal((n, d)) * scales @ np.linalg.qr(rng.standard_normal((d, d)))[0] + 3.0


def sklearn_gaussian(x: np.ndarray, reg_covar: float = 1e-5) -> np.ndarray:
    model = GaussianMixture(n_components=1, covariance_type="full", reg_covar=reg_covar).fit(x)
    return model.score_samples(x)


def components_below(eigenvalues_desc: np.ndarray, threshold: float) -> int:
    return int(np.sum(np.cumsum(eigenvalues_desc) / eigenvalues_desc.sum() < threshold))


@pytest.mark.parametrize(("n", "d"), [(400, 12), (30, 50)])
def test_gaussian_matches_sklearn_one_component_mixture(n, d):
    x = correlated(n, d)
    ours = GaussianScorer().fit(x).score(x)
    assert ours.dtype == np.float64 and np.isfinite(ours).all()
    np.testing.assert_allclose(ours, sklearn_gaussian(x), rtol=1e-6)


def test_gaussian_scores_new_points_with_its_reg_covar():
    x, new = correlated(300, 8), correlated(20, 8, seed=1)
    ours = GaussianScorer(reg_covar=0.3).fit(x).score(new)
    covariance = np.cov(x.T, bias=True) + 0.3 * np.eye(8)
    np.testing.assert_allclose(ours, multivariate_normal(x.mean(0), covariance).logpdf(new), rtol=1e-9)


def test_chunk_boundaries_do_not_change_scores(monkeypatch):
    x = correlated(53, 6)
    whole_gaussian, whole_ppca = GaussianScorer().fit(x).score(x), PPCAScorer().fit(x).score(x)
    monkeypatch.setattr(density, "_CHUNK_ROWS", 7)
    np.testing.assert_allclose(GaussianScorer().fit(x).score(x), whole_gaussian, rtol=1e-12)
    np.testing.assert_allclose(PPCAScorer().fit(x).score(x), whole_ppca, rtol=1e-12)
    np.testing.assert_allclose(whole_gaussian, sklearn_gaussian(x), rtol=1e-6)


def test_ppca_matches_sklearn_pca_log_likelihood():
    x = correlated(500, 20)
    n = len(x)
    scorer = PPCAScorer().fit(x)
    q = scorer.n_components_
    assert q == components_below(PCA().fit(x).explained_variance_, 0.95)
    ours = scorer.score(x)
    # sklearn's covariance divides by N - 1; shrinking the data about its mean by sqrt((N-1)/N)
    # makes its fit the maximum-likelihood one, scored on the original points.
    mean = x.mean(0)
    ml_fit = PCA(n_components=q, svd_solver="full").fit(mean + (x - mean) * np.sqrt((n - 1) / n))
    np.testing.assert_allclose(ours, ml_fit.score_samples(x), rtol=1e-6)
    # The unshrunk sklearn fit has C scaled by N/(N-1): its log-likelihood is an affine map of ours.
    direct = PCA(n_components=q, svd_solver="full").fit(x).score_samples(x)
    slope, intercept = np.polyfit(ours, direct, 1)
    assert slope == pytest.approx((n - 1) / n, rel=1e-9)
    np.testing.assert_allclose(slope * ours + intercept, direct, rtol=1e-9)


@pytest.mark.parametrize(("n", "d", "threshold"), [(200, 10, 0.95), (15, 40, 0.95), (60, 60, 0.8)])
def test_ppca_equals_gaussian_logpdf_with_explicit_tipping_bishop_covariance(n, d, threshold):
    x, new = correlated(n, d), correlated(7, d, seed=2)
    scorer = PPCAScorer(variance_threshold=threshold).fit(x)
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(x.T, bias=True))
    eigenvalues, eigenvectors = eigenvalues[::-1].clip(0), eigenvectors[:, ::-1]
    q = max(1, components_below(eigenvalues, threshold))
    noise = eigenvalues[q:].mean()
    w = eigenvectors[:, :q] * np.sqrt(eigenvalues[:q] - noise)
    covariance = w @ w.T + noise * np.eye(d)
    assert scorer.n_components_ == q
    assert scorer.noise_variance_ == pytest.approx(noise, rel=1e-8)
    reference = multivariate_normal(x.mean(0), covariance)
    np.testing.assert_allclose(scorer.score(x), reference.logpdf(x), rtol=1e-7)
    np.testing.assert_allclose(scorer.score(new), reference.logpdf(new), rtol=1e-7)


def test_ppca_keeps_at_least_one_and_at_most_d_minus_one_components():
    rng = np.random.default_rng(3)
    line = np.outer(rng.standard_normal(100), [3.0, 4.0, 0.0]) + 1e-3 * rng.standard_normal((100, 3))
    assert PPCAScorer().fit(line).n_components_ == 1  # the first component alone explains > 95%
    assert PPCAScorer(variance_threshold=1.0).fit(rng.standard_normal((50, 4))).n_components_ == 3
    identical = np.ones((5, 4))
    assert np.isfinite(PPCAScorer().fit(identical).score(identical)).all()


def test_float32_features_are_scored_in_float64():
    x = correlated(200, 16).astype(np.float32)
    np.testing.assert_allclose(GaussianScorer().fit(x).score(x), sklearn_gaussian(x.astype(np.float64)), rtol=1e-6)


def test_registry_builds_data_stage_scorers_with_options():
    registry = load_registry()
    gaussian = registry.create("scorer", "gaussian", {"reg_covar": 0.5})
    ppca = registry.create("scorer", "ppca", {"variance_threshold": 0.9})
    assert isinstance(gaussian, GaussianScorer) and gaussian.reg_covar == 0.5
    assert isinstance(ppca, PPCAScorer) and ppca.variance_threshold == 0.9
    assert isinstance(gaussian, DataScorer) and isinstance(ppca, DataScorer)


@pytest.mark.parametrize("scorer_class", [GaussianScorer, PPCAScorer])
def test_bad_inputs_fail_with_one_line_errors(scorer_class):
    x = correlated(30, 5)
    with_nan = x.copy()
    with_nan[3, 2] = np.nan
    with pytest.raises(InvalidInputError, match=r"NaN or inf in 1 row"):
        scorer_class().fit(with_nan)
    with pytest.raises(InvalidInputError, match="must be 2-D"):
        scorer_class().fit(x[0])
    with pytest.raises(InvalidInputError, match="not fitted; call fit"):
        scorer_class().score(x)
    with pytest.raises(InvalidInputError, match="fitted on 5-d features but got 4-d"):
        scorer_class().fit(x).score(x[:, :4])
    with pytest.raises(InvalidInputError, match="NaN or inf"):
        scorer_class().fit(x).score(with_nan)


def test_bad_options_fail_with_one_line_errors():
    for bad in (0, "1e-5"):
        with pytest.raises(InvalidInputError, match="reg_covar must be > 0"):
            GaussianScorer(reg_covar=bad)
    with pytest.raises(InvalidInputError, match=r"variance_threshold must be in \(0, 1\]"):
        PPCAScorer(variance_threshold=1.5)
    with pytest.raises(InvalidInputError, match="at least 2 dimensions"):
        PPCAScorer().fit(np.ones((10, 1)))
