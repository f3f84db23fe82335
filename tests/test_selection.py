"""Selection rules against hand-computed cases and a loop-based re-derivation; per-class scoring; random baseline."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.mixture import GaussianMixture

from curbench.errors import InvalidInputError
from curbench.plugins import load_registry
from curbench.scorers import retention_by_group, score_instances, select
from curbench.scorers.density import GaussianScorer
from curbench.scorers.random import RandomScorer


def linear_percentile(values: list[float], q: float) -> float:
    """The textbook linear-interpolation percentile, written without numpy."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (position - low) * (ordered[high] - ordered[low])


def reference_select(scores, retention, labels):
    kept = []
    for label in sorted(set(labels)):
        members = [i for i, value in enumerate(labels) if value == label]
        cutoff = linear_percentile([scores[i] for i in members], 100 - retention)
        kept += [i for i in members if scores[i] > cutoff]
    return sorted(kept)


@pytest.mark.parametrize(
    ("retention", "expected"),
    [(30, [7, 8, 9]), (50, [5, 6, 7, 8, 9]), (5, [9]), (99, list(range(1, 10))), (100, list(range(10)))],
)
def test_percentile_rule_hand_computed(retention, expected):
    # Percentiles of 0..9: the 70th is 6.3 (keeps 7, 8, 9), the 95th 8.55, the 1st 0.09 (drops only 0).
    assert select(np.arange(10.0), retention).tolist() == expected


def test_percentile_rule_drops_every_tie_at_the_cutoff():
    assert select(np.array([1.0, 1.0, 1.0, 1.0, 2.0]), 50).tolist() == [4]


def test_retention_100_keeps_the_minimum_too():
    scores = np.array([3.0, -1.0, 2.0, -1.0])
    assert select(scores, 100).tolist() == [0, 1, 2, 3]
    assert select(scores, 100, mode="count").tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize("retention", [10, 37.5, 50, 80, 99.9])
def test_percentile_per_class_and_global_match_a_loop_rederivation(retention):
    rng = np.random.default_rng(int(retention * 10))
    scores = rng.normal(size=301).round(1)  # rounding creates ties
    labels = rng.integers(0, 4, size=301)
    kept = select(scores, retention, labels=labels)
    assert kept.dtype == np.int64
    assert kept.tolist() == reference_select(scores.tolist(), retention, labels.tolist())
    assert select(scores, retention, labels=labels, per_class=False).tolist() == reference_select(
        scores.tolist(), retention, [0] * 301
    )
    assert select(scores, retention).tolist() == select(scores, retention, labels=labels, per_class=False).tolist()


def test_count_mode_exact_counts_and_ties_by_lower_index():
    assert select(np.array([3.0, 1.0, 3.0, 2.0, 3.0]), 40, mode="count").tolist() == [0, 2]
    assert select(np.zeros(10), 25, mode="count").tolist() == [0, 1, 2]  # 2.5 rounds half up
    labels = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    assert select(np.ones(8), 50, labels=labels, mode="count").tolist() == [0, 1, 2, 3]


def test_count_mode_keeps_the_highest_per_class():
    rng = np.random.default_rng(5)
    scores, labels = rng.permutation(200).astype(float), rng.integers(0, 3, 200)
    kept = select(scores, 70, labels=labels, mode="count")
    for label in range(3):
        members = np.flatnonzero(labels == label)
        kept_members = np.intersect1d(kept, members)
        assert len(kept_members) == int(np.floor(0.7 * len(members) + 0.5))
        dropped = np.setdiff1d(members, kept_members)
        assert scores[kept_members].min() > scores[dropped].max()


@pytest.mark.parametrize("retention", [0, -5, 100.5, float("nan"), True, "50"])
def test_invalid_retention_is_a_one_line_error(retention):
    with pytest.raises(InvalidInputError, match=r"retention must be a percentage in \(0, 100\]"):
        select(np.arange(5.0), retention)


def test_invalid_selection_inputs():
    with pytest.raises(InvalidInputError, match="selection mode must be one of percentile, count"):
        select(np.arange(5.0), 50, mode="top")
    with pytest.raises(InvalidInputError, match="scores must be a non-empty 1-D numeric array"):
        select(np.zeros((2, 2)), 50)
    with pytest.raises(InvalidInputError, match="NaN or inf in 1 entries"):
        select(np.array([1.0, np.nan, 2.0]), 50)
    with pytest.raises(InvalidInputError, match="labels must be 1-D with 3 entries"):
        select(np.arange(3.0), 50, labels=np.zeros(4))


def test_score_instances_fits_one_density_per_class():
    rng = np.random.default_rng(0)
    labels = np.repeat([2, 7], [60, 40])
    features = rng.normal(size=(100, 3)) + labels[:, None]
    scores = score_instances(GaussianScorer, features, labels)
    for label in (2, 7):
        members = labels == label
        reference = GaussianMixture(1, reg_covar=1e-5).fit(features[members]).score_samples(features[members])
        np.testing.assert_allclose(scores[members], reference, rtol=1e-6)
    np.testing.assert_allclose(
        score_instances(GaussianScorer, features, labels, per_class=False),
        GaussianMixture(1, reg_covar=1e-5).fit(features).score_samples(features),
        rtol=1e-6,
    )


def test_score_instances_rejects_a_scorer_returning_the_wrong_shape():
    class Broken:
        stage = "data"

        def fit(self, features, labels=None):
            return self

        def score(self, features):
            return np.zeros(len(features) + 1)

    with pytest.raises(InvalidInputError, match="scorer returned scores of shape"):
        score_instances(Broken, np.zeros((4, 2)))


def test_retention_by_group_hand_computed():
    groups = np.array([0, 0, 0, 0, 1, 1, 5])
    assert retention_by_group(np.array([0, 1, 4, 6]), groups) == {"0": 0.5, "1": 0.5, "5": 1.0}
    assert retention_by_group(np.array([], dtype=np.int64), groups) == {"0": 0.0, "1": 0.0, "5": 0.0}
    with pytest.raises(InvalidInputError, match=r"kept indices must be integers in \[0, 7\)"):
        retention_by_group(np.array([7]), groups)


def test_random_scorer_is_numpy_default_rng_and_deterministic_per_seed():
    features = np.zeros((50, 2))
    scores = RandomScorer(seed=4).fit(features).score(features)
    np.testing.assert_array_equal(scores, np.random.default_rng(4).random(50))
    np.testing.assert_array_equal(load_registry().create("scorer", "random", {}, seed=4).fit(features).score(features), scores)
    assert not np.array_equal(RandomScorer(seed=5).fit(features).score(features), scores)
    with pytest.raises(InvalidInputError, match="seed must be a non-negative integer"):
        RandomScorer(seed=-1)


def test_random_baseline_gives_independent_uniform_subsets_per_class():
    labels = np.tile([0, 1], 2000)  # classes interleaved: same positions within each class
    features = np.zeros((4000, 1))
    scores = score_instances(lambda: RandomScorer(seed=0), features, labels)
    np.testing.assert_array_equal(scores, score_instances(lambda: RandomScorer(seed=0), features, labels))
    kept = select(scores, 50, labels=labels)
    assert retention_by_group(kept, labels) == {"0": 0.5, "1": 0.5}  # median cut of 2000 distinct scores
    kept_mask = np.zeros(4000, bool)
    kept_mask[kept] = True
    # Independent classes agree on ~half the positions; a shared stream would agree on all of them.
    agreement = np.mean(kept_mask[0::2] == kept_mask[1::2])
    assert 0.45 < agreement < 0.55
    # Uniform: the kept fraction of each quarter of a class is ~1/2 (binomial sd ~0.022).
    quarters = kept_mask[0::2].reshape(4, 500).mean(axis=1)
    assert np.all(np.abs(quarters - 0.5) < 0.1)
