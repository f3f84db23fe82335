"""Reference rows: the split-half real-data ceiling and the kept data without a generator, against prdc."""

from __future__ import annotations

import numpy as np
import pytest
from prdc import compute_prdc

from curbench.bench.evaluation import MetricSet
from curbench.bench.references import kept_reference, real_reference, split_half
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
