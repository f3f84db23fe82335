"""The memorization metric against scikit-learn's exact neighbours, and as an installed curbench plugin."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from curbench_memorization.metric import Memorization
from sklearn.neighbors import NearestNeighbors

from curbench.plugins import load_registry


def _reference(real: np.ndarray, fake: np.ndarray) -> tuple[float, float]:
    radius = NearestNeighbors(n_neighbors=2).fit(real).kneighbors(real)[0][:, 1]
    distance, nearest = NearestNeighbors(n_neighbors=1).fit(real).kneighbors(fake)
    return float(np.mean(distance[:, 0] < radius[nearest[:, 0]])), float(np.median(distance[:, 0] / radius[nearest[:, 0]]))


def test_agrees_with_sklearn_neighbours_on_a_mix_of_copies_and_new_points():
    rng = np.random.default_rng(0)
    real = rng.standard_normal((3000, 8))
    copies = real[:400] + rng.normal(0, 1e-3, (400, 8))  # near-copies: memorized by construction
    fresh = rng.standard_normal((600, 8))
    result = Memorization()(real, np.vstack([copies, fresh]))
    memorized, ratio = _reference(real, np.vstack([copies, fresh]))
    assert result["memorization"] == pytest.approx(memorized, abs=1e-12)
    assert result["nn_distance_ratio"] == pytest.approx(ratio, rel=1e-9)
    assert memorized >= 0.4  # every copy, plus the fresh points that happen to land that close


def test_exact_copies_are_all_memorized_and_distant_points_none():
    real = np.random.default_rng(1).standard_normal((200, 4))
    assert Memorization()(real, real[:50])["memorization"] == 1.0
    assert Memorization()(real, real[:50] + 100.0)["memorization"] == 0.0


def test_registered_as_an_installed_distribution_with_its_directions():
    record = load_registry().get("metric", "memorization")
    assert record.distribution == "curbench-memorization" and record.version == "0.1.0"
    assert dict(record.higher_is_better) == {"memorization": False, "nn_distance_ratio": None}
    assert record.identity() == {"distribution": "curbench-memorization", "version": "0.1.0"}


def test_runs_in_a_cell_and_lands_in_the_record_and_the_table(tmp_path):
    out = tmp_path / "runs"
    command = [
        sys.executable, "-m", "curbench", "run", "--dataset", "toy", "--dataset-option", "n=300",
        "--generator-option", "steps=30", "--samples", "300", "--retention", "50", "--output-dir", str(out),
        "--metric", "fid", "--metric", "memorization", "--quiet",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "memorization ↓" in done.stdout or "memorization" in done.stdout
    records = [json.loads(p.read_text()) for p in out.glob("cells/*/result.json")]
    assert len(records) == 3
    for record in records:
        assert set(record["metrics"]) == {"fid", "memorization", "nn_distance_ratio", "n_real", "n_fake"}
        assert dict(record["directions"])["memorization"] is False
        assert record["config"]["plugins"]["metric:memorization"] == {"distribution": "curbench-memorization", "version": "0.1.0"}
