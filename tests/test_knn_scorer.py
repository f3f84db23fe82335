"""The knn scorer against scikit-learn's NearestNeighbors."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from curbench.errors import InvalidInputError
from curbench.plugins import load_registry
from curbench.scorers.knn import KNNScorer


def _kth_distance_excluding_self(x, k):
    distances, _ = NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x)
    return distances[:, k]


def test_fitted_set_scores_are_minus_kth_neighbour_distance_excluding_self():
    x = np.random.default_rng(0).standard_normal((400, 16))
    scores = KNNScorer(k=5).fit(x).score(x)
    np.testing.assert_allclose(scores, -_kth_distance_excluding_self(x, 5), rtol=1e-12)


def test_equal_content_counts_as_the_fitted_set():
    x = np.random.default_rng(1).standard_normal((200, 6))
    scorer = KNNScorer(k=3).fit(x)
    np.testing.assert_array_equal(scorer.score(x.copy()), scorer.score(x))


def test_new_points_use_plain_kth_neighbour_in_fitted_set():
    rng = np.random.default_rng(2)
    fitted, new = rng.standard_normal((300, 10)), rng.standard_normal((50, 10)) * 2
    distances, _ = NearestNeighbors(n_neighbors=5).fit(fitted).kneighbors(new)
    np.testing.assert_allclose(KNNScorer().fit(fitted).score(new), -distances[:, 4], rtol=1e-12)


def test_duplicates_are_neighbours_at_distance_zero():
    x = np.random.default_rng(3).standard_normal((100, 4))
    x[:6] = x[0]  # six copies: each has five others at distance 0
    scores = KNNScorer(k=5).fit(x).score(x)
    assert np.all(scores[:6] == 0.0) and np.all(scores[6:] < 0)


def test_registered_and_validated():
    scorer = load_registry().create("scorer", "knn", {"k": 2})
    assert isinstance(scorer, KNNScorer) and scorer.k == 2
    with pytest.raises(InvalidInputError, match="more than k=5 samples"):
        KNNScorer().fit(np.zeros((5, 3)))
    with pytest.raises(InvalidInputError, match="positive integer"):
        KNNScorer(k=0)
    with pytest.raises(InvalidInputError, match="not fitted"):
        KNNScorer().score(np.zeros((10, 3)))
