"""The Vendi score against the vendi-score package (the reference implementation) and closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
from vendi_score import vendi as reference

from curbench.errors import InvalidInputError
from curbench.metrics.reference import ReferenceStatistics
from curbench.metrics.vendi import Vendi, vendi_score

# vendi-score's score_K still names scipy.sparse.csr, deprecated in SciPy 1.8+.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _features(n: int, d: int, seed: int = 0) -> np.ndarray:
    """Embedding-like features: a shared offset (all cosines positive, as real embeddings have) plus noise."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=d) + rng.normal(size=(n, d)) * rng.uniform(0.5, 2.0, size=d)


@pytest.mark.parametrize(("n", "d"), [(40, 300), (500, 24), (64, 64)], ids=["n<d", "n>d", "n=d"])
def test_matches_vendi_score_both_routes(n, d):
    x = _features(n, d)
    ours = vendi_score(x)
    assert 1 < ours < min(n, d)
    for route in (reference.score_dual, reference.score_X):
        assert ours == pytest.approx(route(x), rel=1e-10, abs=0)


def test_dual_route_never_forms_an_n_by_n_matrix(monkeypatch):
    shapes = []
    eigvalsh = scipy.linalg.eigvalsh
    monkeypatch.setattr(scipy.linalg, "eigvalsh", lambda m, *a, **k: shapes.append(m.shape) or eigvalsh(m, *a, **k))
    vendi_score(_features(3000, 16))
    vendi_score(_features(12, 100))
    assert shapes == [(16, 16), (12, 12)]


@pytest.mark.parametrize("q", [0.5, 2, "inf"])
def test_other_orders_match_score_dual(q):
    x = _features(200, 10, seed=1)  # n > d: both sides diagonalise X^T X / n
    assert Vendi(q=q, cache=False)(x, x)["vendi"] == pytest.approx(reference.score_dual(x, q=q), rel=1e-10, abs=0)


def test_identical_points_score_one():
    point = np.random.default_rng(2).normal(size=(1, 12))
    for copies in (np.repeat(point, 30, axis=0), point * np.arange(1, 31)[:, None]):  # same direction, any length
        assert vendi_score(copies) == pytest.approx(1.0, abs=1e-10)


def test_orthogonal_points_score_their_number():
    rng = np.random.default_rng(3)
    rotation = np.linalg.qr(rng.normal(size=(40, 40)))[0]
    assert vendi_score(5 * rotation[:25]) == pytest.approx(25.0, rel=1e-12)  # n < d: 25 orthogonal rows of R^40
    # n > d (the dual route): the 8 rows of an 8 x 8 rotation, each repeated 50 times, count as 8 distinct samples.
    small = np.linalg.qr(rng.normal(size=(8, 8)))[0]
    assert vendi_score(np.repeat(small, 50, axis=0)) == pytest.approx(8.0, rel=1e-12)


def test_metric_reports_real_ceiling_and_caches_it(isolated_cache):
    real, fake = _features(300, 20, seed=4), _features(150, 20, seed=5)[:, ::-1].copy()
    reference_stats = ReferenceStatistics(real)
    assert reference_stats.cached("vendi") is None
    values = Vendi()(reference_stats, fake)
    assert values == {"vendi": pytest.approx(reference.score_dual(fake), rel=1e-10),
                      "vendi_real": pytest.approx(reference.score_dual(real), rel=1e-10)}
    assert reference_stats.cached("vendi") is not None
    assert Vendi()(ReferenceStatistics(real), fake) == values  # a new wrapper reads the cached eigenvalues


def test_float32_features_are_scored_in_float64():
    x = _features(80, 16, seed=6).astype(np.float32)
    assert vendi_score(x) == vendi_score(x.astype(np.float64))


def test_registered_with_directions():
    from curbench.bench.evaluation import MetricSet
    from curbench.plugins import load_registry

    metrics = MetricSet.build(load_registry(), ["vendi"], k=5, tie="lt", cache=False)
    assert metrics.directions() == {"vendi": True, "vendi_real": None, "n_real": None, "n_fake": None}
    real, fake = _features(60, 8, seed=7), _features(50, 8, seed=8)
    values = metrics(real, fake, cache=False)
    assert values["vendi"] == pytest.approx(reference.score_dual(fake), rel=1e-10)
    assert values["vendi_real"] == pytest.approx(reference.score_dual(real), rel=1e-10)
    assert math.isfinite(values["vendi"]) and values["n_fake"] == 50


@pytest.mark.parametrize("q", [-1, True, "two", float("nan")])
def test_bad_order_is_one_clear_error(q):
    with pytest.raises(InvalidInputError, match="q must be a number >= 0 or 'inf'"):
        Vendi(q=q)


def test_one_sample_scores_one():
    assert Vendi(cache=False)(_features(5, 3), _features(1, 3))["vendi"] == pytest.approx(1.0)
