"""Reference rows (split-half or held-out ceiling, kept data) and the memorization check, against prdc and scipy."""

from __future__ import annotations

import numpy as np
import pytest
from prdc import compute_prdc

from curbench.bench.evaluation import MetricSet
from curbench.bench.references import (
    heldout_real_reference,
    kept_reference,
    real_reference,
    reference_rows,
    split_half,
)
from curbench.config import DEFAULT_METRICS
from curbench.metrics.fid import FID
from curbench.plugins import load_registry

RNG = np.random.default_rng(3)


def _metrics() -> MetricSet:
    return MetricSet.build(load_registry(), DEFAULT_METRICS, k=5, tie="lt", cache=False)


@pytest.mark.parametrize("n", [30, 31])
def test_split_half_is_a_seeded_random_disjoint_cover(n):
    a, b = split_half(n, seed=4)
    assert len(a) == n // 2 and np.intersect1d(a, b).size == 0 and np.array_equal(np.union1d(a, b), np.arange(n))
    assert np.array_equal(split_half(n, seed=4)[0], a) and not np.array_equal(split_half(n, seed=5)[0], a)
    counts = np.zeros(n)
    for seed in range(2000):  # every index is equally likely in either half
        counts[split_half(n, seed=seed)[0]] += 1
    assert np.allclose(counts / 2000, (n // 2) / n, atol=0.05)


def test_real_reference_evaluates_one_half_against_the_other_like_a_generator():
    features = RNG.normal(size=(200, 6)).astype(np.float32)
    result = real_reference(_metrics(), features, seed=1)
    fake_rows, real_rows = split_half(200, seed=1)
    expected = compute_prdc(features[real_rows], features[fake_rows], nearest_k=5)
    for name, value in expected.items():
        assert result[name] == pytest.approx(value, abs=1e-12)
    assert result["fid"] == pytest.approx(FID(cache=False)(features[real_rows], features[fake_rows])["fid"], rel=1e-9)
    assert result["n_real"] == len(real_rows) and result["n_fake"] == len(fake_rows) == 100


def test_kept_reference_scores_the_selected_real_instances_against_all_of_them():
    features = RNG.normal(size=(150, 4))
    kept = np.sort(RNG.choice(150, 60, replace=False))
    result = kept_reference(_metrics(), features, kept)
    expected = compute_prdc(features, features[kept], nearest_k=5)
    for name, value in expected.items():
        assert result[name] == pytest.approx(value, abs=1e-12)
    assert result["precision"] == 1.0  # every kept point is the centre of its own real ball
    everything = kept_reference(_metrics(), features, np.arange(150))
    assert everything["fid"] == pytest.approx(0.0, abs=1e-9) and everything["recall"] == 1.0


def test_heldout_ceiling_draws_as_many_training_instances_as_a_generator_samples():
    reference, training = RNG.normal(size=(120, 5)), RNG.normal(size=(300, 5))
    result = heldout_real_reference(_metrics(), reference, training, n_samples=120, seed=2)
    draw = np.sort(np.random.default_rng([2, 5]).choice(300, 120, replace=False))
    expected = compute_prdc(reference, training[draw], nearest_k=5)
    for name, value in expected.items():
        assert result[name] == pytest.approx(value, abs=1e-12)
    assert result["n_fake"] == 120 and result["n_real"] == 120


def test_reference_rows_pick_kept_or_ceiling_and_the_heldout_reference_when_given():
    reference, training = RNG.normal(size=(80, 4)), RNG.normal(size=(150, 4))
    kept = np.arange(0, 150, 3)
    heldout_kept = reference_rows(_metrics(), training, kept, heldout_reference=reference, n_samples=80, seed=0)["kept"]
    expected = compute_prdc(reference, training[kept], nearest_k=5)
    assert heldout_kept["precision"] == pytest.approx(expected["precision"], abs=1e-12)
    own = reference_rows(_metrics(), training, kept, heldout_reference=None, n_samples=80, seed=0)
    assert own["kept"]["precision"] == 1.0
    assert set(reference_rows(_metrics(), training, np.arange(150), heldout_reference=None, n_samples=80, seed=0)) == {"real"}


def test_memorization_check_against_brute_force():
    from scipy.spatial.distance import cdist

    from curbench import streams
    from curbench.bench.memorization import memorization_check

    train, heldout = RNG.normal(size=(90, 3)), RNG.normal(size=(60, 3))
    fake = np.concatenate([train[:20] + 1e-3, RNG.normal(size=(40, 3))])  # 20 near-copies
    result = memorization_check(train, heldout, fake, seed=7)
    rng = np.random.default_rng([7, streams.MEMORIZATION])
    trained = train[np.sort(rng.choice(90, 60, replace=False))]
    unseen = heldout[np.sort(rng.choice(60, 60, replace=False))]
    to_train, to_unseen = cdist(fake, trained), cdist(fake, unseen)
    assert result["nn_train_share"] == pytest.approx(np.mean(to_train.min(1) < to_unseen.min(1)), abs=1e-12)
    own = cdist(trained, trained) + np.diag(np.full(60, np.inf))
    copies = to_train.min(1) < own.min(1)[to_train.argmin(1)]
    assert result["copies"] == pytest.approx(copies.mean(), abs=1e-12) and result["n_each"] == 60
