"""The third-party path end to end: an installed plugin distribution, listed and used through the CLI."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from sklearn.ensemble import IsolationForest


def curbench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "curbench", *args], capture_output=True, text=True, timeout=300)


def test_plugins_lists_kind_name_distribution_and_description():
    result = curbench("plugins")
    assert result.returncode == 0, result.stderr
    rows = {tuple(line.split()[:2]): line for line in result.stdout.splitlines()}
    assert "curbench-outliers 0.1.0" in rows[("scorer", "isolation-forest")]
    assert "curbench 0.1.0" in rows[("scorer", "knn")]
    assert "nearest neighbour" in rows[("scorer", "knn")]


def test_third_party_scorer_through_cli_matches_sklearn(tmp_path):
    features = np.random.default_rng(0).standard_normal((120, 6))
    np.save(tmp_path / "f.npy", features)
    result = curbench(
        "score", str(tmp_path / "f.npy"), "--scorer", "isolation-forest", "--option", "n_estimators=50",
        "--seed", "3", "--retention", "25", "--out", str(tmp_path / "s.npy"),
    )
    assert result.returncode == 0, result.stderr
    expected = IsolationForest(n_estimators=50, random_state=3).fit(features).score_samples(features)
    np.testing.assert_allclose(np.load(tmp_path / "s.npy"), expected)
    kept = np.load(tmp_path / "s_kept.npy")
    np.testing.assert_array_equal(kept, np.flatnonzero(expected > np.percentile(expected, 75)))
