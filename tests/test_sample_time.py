"""Sample-time curation: truncation and DRS against scipy and a direct reading of SPEC section 3, then on toy data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.special import expit
from sklearn.neighbors import NearestNeighbors

from curbench.datasets.base import Dataset
from curbench.errors import CurbenchError
from curbench.generators.mlp import MLPGAN
from curbench.scorers.sample_time import DRSCurator, TruncationCurator, drs_log_odds, log1mexp


def ring_with_outliers(n: int = 2000, outlier_fraction: float = 0.05, seed: int = 0) -> Dataset:
    """8 Gaussians on a circle of radius 2 plus uniform outliers; labels are the nearest mode."""
    rng = np.random.default_rng(seed)
    angles = 2 * np.pi * np.arange(8) / 8
    centres = 2 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    n_out = int(n * outlier_fraction)
    modes = rng.integers(0, 8, n - n_out)
    inliers = centres[modes] + 0.05 * rng.standard_normal((n - n_out, 2))
    outliers = rng.uniform(-3, 3, (n_out, 2))
    points = np.concatenate([inliers, outliers]).astype(np.float32)
    labels = np.argmin(((points[:, None] - centres[None]) ** 2).sum(-1), axis=1)
    return Dataset("ring", points, labels)


def knn_precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 5) -> tuple[float, float]:
    """Kynkaanniemi et al.: a point is covered when it lies strictly inside some k-NN ball of the other set."""

    def radii(x: np.ndarray) -> np.ndarray:
        return NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x)[0][:, -1]

    distances = np.sqrt(((fake[:, None, :].astype(np.float64) - real[None, :, :]) ** 2).sum(-1))
    precision = (distances < radii(real)[None, :]).any(axis=1).mean()
    recall = (radii(fake)[None, :] > distances.T).any(axis=1).mean()
    return float(precision), float(recall)


# --- truncation -------------------------------------------------------------------

@pytest.mark.parametrize("psi", [0.3, 1.0, 2.0])
def test_truncated_latents_follow_scipy_truncnorm(psi):
    generator = MLPGAN(latent_dim=16)
    latents = generator.sample_latents(20000, seed=3, psi=psi).ravel()
    assert np.abs(latents).max() <= psi
    reference = stats.truncnorm(-psi, psi)
    assert latents.mean() == pytest.approx(reference.mean(), abs=4 * reference.std() / np.sqrt(len(latents)))
    assert latents.var() == pytest.approx(reference.var(), rel=0.02)
    assert stats.kstest(latents, reference.cdf).pvalue > 1e-3


@pytest.mark.parametrize("psi", [0.0, -1.0])
def test_truncation_rejects_non_positive_psi(psi):
    with pytest.raises(CurbenchError, match="psi must be > 0"):
        TruncationCurator(psi=psi)
    with pytest.raises(CurbenchError, match="psi must be > 0"):
        MLPGAN().sample_latents(4, seed=0, psi=psi)


# --- DRS formula -------------------------------------------------------------------

def test_log1mexp_matches_closed_forms():
    # Far below 0: log(1 - u) = -u - u^2/2 - u^3/3 with u = e^x tiny.
    far = np.array([-50.0, -20.0])
    u = np.exp(far)
    np.testing.assert_allclose(log1mexp(far), -u - u**2 / 2 - u**3 / 3, rtol=1e-14)
    # In between, the naive formula loses nothing that matters.
    middle = np.array([-5.0, -0.7, -0.69, -1e-3])
    np.testing.assert_allclose(log1mexp(middle), np.log(1 - np.exp(middle)), rtol=1e-10)
    # Near 0: 1 - e^x = -x (1 + x/2 + x^2/6 + ...).
    near = np.array([-1e-9, -1e-15])
    np.testing.assert_allclose(log1mexp(near), np.log(-near) + np.log1p(near / 2), rtol=1e-12)
    assert np.isfinite(log1mexp(np.array([-1e-300]))).all()


def test_drs_log_odds_is_the_spec_formula():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, 1000)
    d_max = logits.max()
    epsilon = 1e-6
    expected = (logits - d_max) - np.log(1 - np.exp(logits - d_max - epsilon))
    np.testing.assert_allclose(drs_log_odds(logits, d_max, epsilon), expected, rtol=1e-10, atol=1e-12)


class _KnownDiscriminator:
    """A generator of 1-D points whose discriminator logit is the point itself."""

    data_kind = "points"
    has_discriminator = True
    latent_dim = 1

    def sample_labels(self, n, *, seed):
        return None

    def sample(self, n, *, seed, labels=None, latents=None):
        return np.random.default_rng(seed).normal(0, 1, (n, 1)).astype(np.float32)

    def discriminate(self, x, labels=None):
        return np.asarray(x, dtype=np.float64)[:, 0]


def test_drs_accepts_with_the_spec_probability(monkeypatch):
    """With calibration fixed to the identity, acceptance must equal the mean of sigmoid(F - gamma)."""
    import curbench.scorers.sample_time as sample_time

    monkeypatch.setattr(sample_time, "fit_calibration", lambda real, fake, method: expit)
    generator = _KnownDiscriminator()
    real = Dataset("real", np.random.default_rng(1).normal(1, 1, (500, 1)).astype(np.float32))
    curator = DRSCurator(pilot_samples=20000, max_rounds=1)
    samples, info = curator.curate(generator, 100, seed=0, real=real)
    candidates = generator.sample(20000, seed=int(np.random.SeedSequence([0, 0]).generate_state(1)[0]))[:, 0]
    scores = (candidates - candidates.max()) - np.log(1 - np.exp(candidates - candidates.max() - 1e-6))
    expected_rate = expit(scores - np.percentile(scores, 95)).mean()
    assert info["acceptance_rate"] == pytest.approx(expected_rate, abs=float(4 * np.sqrt(expected_rate / 20000)))
    assert samples[:, 0].mean() > candidates.mean() + 0.5  # higher logits are favoured


def test_drs_fails_clearly_when_too_few_are_accepted():
    real = Dataset("real", np.zeros((50, 1), np.float32))
    with pytest.raises(CurbenchError, match="raise --option max_rounds"):
        DRSCurator(pilot_samples=100, max_rounds=1).curate(_KnownDiscriminator(), 100, seed=0, real=real)


@pytest.mark.parametrize("options", [{"calibration": "platt"}, {"pilot_samples": 0}, {"gamma_percentile": 101}])
def test_drs_rejects_bad_options(options):
    with pytest.raises(CurbenchError):
        DRSCurator(**options)


# --- on the toy track ----------------------------------------------------------------

@pytest.fixture(scope="module")
def ring():
    return ring_with_outliers()


@pytest.fixture(scope="module")
def early_generator(ring):
    """Briefly trained: many off-manifold samples, and a discriminator that still tells them apart."""
    return MLPGAN(steps=100, hidden=64).fit(ring, seed=0)


@pytest.mark.slow
def test_truncation_raises_precision_and_lowers_recall(ring):
    generator = MLPGAN(steps=300, hidden=64).fit(ring, seed=0)
    base = knn_precision_recall(ring.data, generator.sample(2000, seed=1))
    truncated, info = TruncationCurator(psi=0.5).curate(generator, 2000, seed=1, real=ring)
    curated = knn_precision_recall(ring.data, truncated)
    assert info["psi"] == 0.5
    assert curated[0] > base[0]
    assert curated[1] <= base[1]


@pytest.mark.slow
@pytest.mark.parametrize("calibration", ["logistic", "isotonic"])
def test_drs_raises_precision_and_keeps_recall(ring, early_generator, calibration):
    generator = early_generator
    base = knn_precision_recall(ring.data, generator.sample(2000, seed=1))
    accepted, info = DRSCurator(pilot_samples=5000, calibration=calibration).curate(generator, 2000, seed=1, real=ring)
    curated = knn_precision_recall(ring.data, accepted)
    assert accepted.shape == (2000, 2) and 0 < info["acceptance_rate"] < 1
    assert curated[0] > base[0] + 0.02
    assert curated[1] <= base[1] + 0.01
