"""User errors end in one line on stderr, a non-zero exit, no traceback and no output file."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest


def curbench(*args: str, cwd=None, preexec_fn=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "curbench", *args], capture_output=True, text=True, cwd=cwd, timeout=300,
                          preexec_fn=preexec_fn)


def assert_user_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture
def features(tmp_path):
    rng = np.random.default_rng(0)
    real, fake = tmp_path / "real.npy", tmp_path / "fake.npy"
    np.save(real, rng.standard_normal((40, 4)))
    np.save(fake, rng.standard_normal((40, 4)))
    return real, fake


def test_missing_file(tmp_path, features):
    assert_user_error(curbench("metrics", str(tmp_path / "nope.npy"), str(features[1])), "not found", "nope.npy")


def test_nan_features(tmp_path, features):
    bad = np.random.default_rng(1).standard_normal((40, 4))
    bad[3, 1] = np.nan
    np.save(tmp_path / "bad.npy", bad)
    assert_user_error(curbench("metrics", str(features[0]), str(tmp_path / "bad.npy")), "NaN")


def test_wrong_shape_and_dims(tmp_path, features):
    np.save(tmp_path / "flat.npy", np.zeros(10))
    assert_user_error(curbench("metrics", str(tmp_path / "flat.npy"), str(features[1])), "2-D")
    np.save(tmp_path / "wide.npy", np.random.default_rng(2).standard_normal((40, 5)))
    assert_user_error(curbench("metrics", str(features[0]), str(tmp_path / "wide.npy")), "dimensions")


def test_too_few_samples_for_k(tmp_path, features):
    np.save(tmp_path / "few.npy", np.random.default_rng(3).standard_normal((5, 4)))
    assert_user_error(curbench("metrics", str(features[0]), str(tmp_path / "few.npy"), "--k", "5"))


def test_unknown_scorer_suggests_and_writes_nothing(tmp_path, features):
    out = tmp_path / "scores.npy"
    assert_user_error(curbench("score", str(features[0]), "--scorer", "gausian", "--out", str(out)), "did you mean 'gaussian'")
    assert not out.exists()


def test_unknown_scorer_option(tmp_path, features):
    out = tmp_path / "scores.npy"
    result = curbench("score", str(features[0]), "--scorer", "knn", "--option", "kk=3", "--out", str(out))
    assert_user_error(result, "unknown option 'kk'")
    assert not out.exists()


def test_unknown_run_flag_value(tmp_path):
    assert_user_error(curbench("run", "--retention", "150", "--output-dir", str(tmp_path)), "retention")
    assert_user_error(curbench("run", "--generator", "stylegan9", "--output-dir", str(tmp_path)), "unknown generator")


def test_metrics_json_keys(features):
    import json

    result = curbench("metrics", str(features[0]), str(features[1]), "--json")
    assert result.returncode == 0, result.stderr
    assert {"fid", "kid", "kid_std", "precision", "recall", "density", "coverage"} <= set(json.loads(result.stdout))


def test_missing_weights_fail_before_any_cell_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("CURBENCH_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("CURBENCH_OFFLINE", "1")
    result = curbench("run", "--embedder", "inception", "--output-dir", str(tmp_path / "runs"))
    assert_user_error(result, "weights-inception-2015-12-05", "https://", "--weights")
    assert not (tmp_path / "runs" / "cells").exists()


def test_version_and_bare_command_succeed():
    from importlib.metadata import version

    assert curbench("--version").stdout.strip() == f"curbench {version('curbench')}"
    bare = curbench()
    assert bare.returncode == 0 and "Usage" in bare.stdout and "leaderboard" in bare.stdout


def test_run_help_lists_the_installed_plugin_names(monkeypatch):
    from curbench.plugins import load_registry

    monkeypatch.setenv("COLUMNS", "400")
    text = " ".join(curbench("run", "--help").stdout.split())
    registry = load_registry()
    for kind in ("dataset", "embedder", "scorer", "generator"):
        assert f"Installed: {', '.join(registry.names(kind))}." in text, kind
