"""Reference rows: the split-half real-data ceiling and the kept data without a generator, against prdc."""

from __future__ import annotations

import numpy as np
import pytest
from prdc import compute_prdc

from curbench.metrics.fid import FID
from curbench.references import kept_reference, real_reference, split_half

RNG = np.random.default_rng(3)


@pytest.mark.parametrize("labels", [None, np.repeat(np.arange(4), [7, 10, 11, 2])])
def test_split_half_is_a_disjoint_cover_balanced_per_label(labels):
    n = 30
    a, b = split_half(n, labels, seed=4)
    assert np.intersect1d(a, b).size == 0 and np.array_equal(np.union1d(a, b), np.arange(n))
    groups = np.zeros(n, dtype=int) if labels is None else labels
    for group in np.unique(groups):
        size = int((groups == group).sum())
        assert int((groups[a] == group).sum()) == size // 2
    assert np.array_equal(split_half(n, labels, seed=4)[0], a)  # seeded
    assert not np.array_equal(split_half(n, labels, seed=5)[0], a)


def test_real_reference_evaluates_one_half_against_the_other_like_a_generator():
    features = RNG.normal(size=(200, 6)).astype(np.float32)
    labels = np.arange(200) % 5
    result = real_reference(features, labels, seed=1, k=5, tie="lt")
    fake_rows, real_rows = split_half(200, labels, seed=1)
    expected = compute_prdc(features[real_rows], features[fake_rows], nearest_k=5)
    for name, value in expected.items():
        assert result[name] == pytest.approx(value, abs=1e-12)
    assert result["fid"] == pytest.approx(FID(cache=False)(features[real_rows], features[fake_rows])["fid"], rel=1e-9)
    assert result["n_real"] == len(real_rows) and result["n_fake"] == len(fake_rows) == 100


def test_kept_reference_scores_the_selected_real_instances_against_all_of_them():
    features = RNG.normal(size=(150, 4))
    kept = np.sort(RNG.choice(150, 60, replace=False))
    result = kept_reference(features, kept, seed=0, k=5, tie="lt")
    expected = compute_prdc(features, features[kept], nearest_k=5)
    for name, value in expected.items():
        assert result[name] == pytest.approx(value, abs=1e-12)
    assert result["precision"] == 1.0  # every kept point is the centre of its own real ball
    everything = kept_reference(features, np.arange(150), seed=0, k=5, tie="lt")
    assert everything["fid"] == pytest.approx(0.0, abs=1e-9) and everything["recall"] == 1.0
