"""The knn scorer against scikit-learn's NearestNeighbors."""

from __future__ import annotations

import json

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


# ----------------------------------------------------------------------------- approximate indexes (faiss)


def _clustered(n=3000, d=32, seed=5):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((30, d)) * 4
    return (centres[rng.integers(0, 30, n)] + rng.standard_normal((n, d))).astype(np.float32)


def test_ivf_searching_every_list_is_exact():
    pytest.importorskip("faiss")
    x = _clustered()
    scorer = KNNScorer(k=5, index="ivf", lists=20, probes=20).fit(x)
    np.testing.assert_allclose(scorer.score(x), -_kth_distance_excluding_self(x, 5), rtol=1e-4)
    assert scorer.search_report.recall == 1.0 and scorer.search_report.queries == 1000


@pytest.mark.parametrize("index", ["ivf", "hnsw"])
def test_search_report_matches_an_independent_recall(index, capsys, monkeypatch):
    pytest.importorskip("faiss")
    monkeypatch.delenv("CURBENCH_QUIET", raising=False)  # the report line is printed unless --quiet
    x = _clustered(seed=6)
    scorer = KNNScorer(k=5, index=index, lists=40, probes=2, breadth=16, checked_queries=300, seed=3).fit(x)
    scores = scorer.score(x)
    report = scorer.search_report
    rows = np.sort(np.random.default_rng(3).choice(len(x), 300, replace=False))
    _, exact = NearestNeighbors(n_neighbors=6).fit(x).kneighbors(x[rows])
    # The approximate k-th distance is the score; the exact neighbours come from scikit-learn.
    approx_kth = -scores[rows]
    exact_kth = np.linalg.norm(x[rows] - x[exact[:, 5]], axis=1)
    np.testing.assert_allclose(report.kth_distance_error, np.mean(np.abs(approx_kth - exact_kth) / exact_kth), rtol=1e-4, atol=1e-7)
    assert 0.3 < report.recall <= 1.0 and report.queries == 300
    assert f"{index} index: recall@5 {report.recall:.3f}" in capsys.readouterr().err


def test_approximate_scores_of_new_points():
    pytest.importorskip("faiss")
    fitted, new = _clustered(seed=7), _clustered(n=200, seed=8)
    scorer = KNNScorer(k=4, index="ivf", lists=10, probes=10).fit(fitted)
    distances, _ = NearestNeighbors(n_neighbors=4).fit(fitted).kneighbors(new)
    np.testing.assert_allclose(scorer.score(new), -distances[:, 3], rtol=1e-4)
    assert scorer.search_report.queries == 200 and scorer.search_report.recall == 1.0


def test_without_self_drops_the_point_itself_not_its_duplicate():
    from curbench.ann import without_self

    distances = np.array([[0.0, 0.0, 1.0], [0.5, 1.0, 2.0]])
    indices = np.array([[3, 0, 7], [4, 5, 6]])  # row 0 found a duplicate (3) first; row 1 missed itself
    kept_d, kept_i = without_self(distances, indices, np.array([0, 1]))
    np.testing.assert_array_equal(kept_i, [[3, 7], [4, 5]])
    np.testing.assert_array_equal(kept_d, [[0.0, 1.0], [0.5, 1.0]])


def test_approximate_index_errors_are_one_line(monkeypatch):
    with pytest.raises(InvalidInputError, match="index must be one of exact, ivf, hnsw"):
        KNNScorer(index="annoy")
    with pytest.raises(InvalidInputError, match="probes must be a positive integer"):
        KNNScorer(index="ivf", probes=0)
    monkeypatch.setitem(__import__("sys").modules, "faiss", None)  # as if faiss were not installed
    with pytest.raises(InvalidInputError, match=r"need faiss: pip install 'curbench\[faiss\]'") as error:
        KNNScorer(index="hnsw").fit(_clustered(n=100))
    assert "\n" not in str(error.value)


def test_a_cells_record_keeps_each_fitted_scorers_search_recall(tmp_path):
    """Per-class selection fits one approximate index per class; the record keeps their recall's mean and minimum."""
    pytest.importorskip("faiss")
    from curbench.bench.runner import CellRunner
    from curbench.config import RunConfig

    options = {"index": "ivf", "lists": 4, "probes": 1, "checked_queries": 500}
    config = RunConfig(
        dataset="toy", dataset_options={"n": 600}, embedder="pixels", eval_embedder="pixels", generator="mlp",
        generator_options={"steps": 10, "hidden": 8, "batch_size": 32}, scorer="knn", scorer_options=options,
        retention=50.0, selection="per-class", samples=100, baselines=False, seed=2, output_dir=str(tmp_path),
    )
    runner = CellRunner()
    record = runner.run(config)
    dataset = runner.registry.create("dataset", "toy", {"n": 600})
    features = runner.registry.create("embedder", "pixels", {}).embed(dataset.data)
    recalls = []
    for label in np.unique(dataset.labels):
        members = features[dataset.labels == label]
        scorer = KNNScorer(seed=2, **options).fit(members)
        scorer.score(members)
        recalls.append(scorer.search_report.recall)
    assert len(recalls) > 1 and min(recalls) < 1.0  # a one-probe search misses neighbours: the check can fail
    assert record.selection.diagnostics["ann_recall"] == pytest.approx(
        {"mean": np.mean(recalls), "min": min(recalls), "fits": len(recalls)}
    )
    assert json.loads((tmp_path / "cells" / record.cell_id / "result.json").read_text())["selection"]["diagnostics"]
