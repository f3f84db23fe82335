"""Fixable inputs end in one line naming the problem and the fix, never a traceback (issue #14).

Best-effort stores (the cache, cell records, training checkpoints) warn once and go on instead.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from faults.children import curbench_unprivileged
from test_cli_errors import assert_user_error, curbench

from curbench.datasets.base import Dataset
from curbench.generators.mlp import MLPGAN
from curbench.generators.train import CHECKPOINT_FILE

# A cell that trains in seconds: 200 toy points, 5 MLP steps, no baselines.
QUICK_CELL = """
dataset: toy
dataset_options: {n: 200}
generator_options: {steps: 5}
baselines: false
"""


def assert_one_warning(result, *fragments: str) -> None:
    """The command succeeded and said exactly one thing on stderr: a warning with ``fragments``."""
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "warning" in lines[0], result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture
def inputs(tmp_path):
    """Features, uint8 images, an existing directory and a plain file that blocks paths under it."""
    rng = np.random.default_rng(0)
    np.save(tmp_path / "features.npy", rng.standard_normal((40, 4)))
    np.save(tmp_path / "images.npy", rng.integers(0, 256, (30, 1, 8, 8), dtype=np.uint8))
    (tmp_path / "folder").mkdir()
    (tmp_path / "blocker").write_text("a file, not a folder")
    return tmp_path


def test_unwritable_outputs_fail_before_any_work(inputs):
    features, images, blocked = inputs / "features.npy", inputs / "images.npy", inputs / "blocker"
    assert_user_error(curbench("score", str(features), "--out", str(blocked / "s.npy")), "cannot write --out", "is an existing file")
    assert_user_error(curbench("score", str(features), "--out", str(inputs / "folder")), "is a directory", "file path")
    result = curbench("embed", "--images", str(images), "--out", str(blocked / "e.npy"))
    assert_user_error(result, "cannot write --out", str(blocked))
    assert_user_error(curbench("embed", "--images", str(images), "--out", str(inputs / "folder")), "is a directory")
    assert_user_error(curbench("show", "--out-dir", str(blocked)), "cannot write --out-dir", str(blocked))
    result = curbench("run", "--save-features", str(blocked / "features"), "--output-dir", str(inputs / "runs"))
    assert_user_error(result, "cannot write --save-features")
    assert not (inputs / "runs").exists()


def test_a_read_only_out_folder(inputs):
    readonly = inputs / "readonly"
    readonly.mkdir(mode=0o555)
    result = curbench_unprivileged("score", str(inputs / "features.npy"), "--out", str(readonly / "s.npy"))
    assert_user_error(result, "cannot write --out", "Permission denied")


def test_an_unusable_cache_warns_once_and_the_run_goes_on(inputs, monkeypatch):
    monkeypatch.setenv("CURBENCH_CACHE_DIR", str(inputs / "blocker"))  # a file where the cache folder should be
    features = str(inputs / "features.npy")
    result = curbench("metrics", features, features, "--json")
    assert_one_warning(result, "cannot write the cache", str(inputs / "blocker"), "CURBENCH_CACHE_DIR")
    assert json.loads(result.stdout)["fid"] == pytest.approx(0, abs=1e-6)
    out = inputs / "e.npy"
    assert_one_warning(curbench("embed", "--images", str(inputs / "images.npy"), "--out", str(out)), "cannot write the cache")
    assert np.load(out).shape == (30, 64)


def test_a_read_only_cache_warns_once(inputs, monkeypatch):
    cache = inputs / "readonly-cache"
    cache.mkdir(mode=0o555)
    monkeypatch.setenv("CURBENCH_CACHE_DIR", str(cache))
    features = str(inputs / "features.npy")
    assert_one_warning(curbench_unprivileged("metrics", features, features), "cannot write the cache", "Permission denied")


def test_a_directory_where_a_cache_file_belongs_is_warned_about_and_recomputed(inputs, isolated_cache):
    out = inputs / "e.npy"
    command = ("embed", "--images", str(inputs / "images.npy"), "--out", str(out))
    assert curbench(*command).returncode == 0
    expected = np.load(out)
    (entry,) = (isolated_cache / "features").glob("*.npz")
    entry.unlink()
    entry.mkdir()
    assert_one_warning(curbench(*command), str(entry), "not a file", "delete it")
    np.testing.assert_array_equal(np.load(out), expected)


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("scorer_options: 5\n", ("scorer_options must be a mapping", "got 5")),
        ("retention: fifty\n", ("retention must be a number", "'fifty'")),
        ('k: "5"\n', ("k must be an integer", "'5'")),
        ("seed: 4294967296\n", ("seed must be an integer in [0, 4294967295]",)),
    ],
)
def test_config_type_errors_name_the_key_and_the_type(tmp_path, text, fragments):
    config = tmp_path / "run.yaml"
    config.write_text("dataset: toy\n" + text)
    assert_user_error(curbench("run", "--config", str(config), "--output-dir", str(tmp_path / "runs")), *fragments)


def test_a_config_that_is_not_utf8(tmp_path):
    config = tmp_path / "latin1.yaml"
    config.write_bytes("dataset: toy\n# caf\u00e9\n".encode("latin-1"))
    assert_user_error(curbench("run", "--config", str(config)), str(config), "not UTF-8", "save it as UTF-8")


def test_a_grid_entry_of_the_wrong_type(tmp_path):
    suite = tmp_path / "suite.yaml"
    suite.write_text("track: t\ndataset: toy\ngrid:\n  scorer_options: [{k: 3}, 7]\n")
    assert_user_error(curbench("sweep", "--config", str(suite), "--dry-run"), "scorer_options must be a mapping", "got 7")


def test_an_executor_that_is_not_registered_is_refused(tmp_path):
    suite = tmp_path / "suite.yaml"
    suite.write_text("track: t" + QUICK_CELL + "grid:\n  seed: [0]\n")
    result = curbench("sweep", "--config", str(suite), "--executor", "os:system", "--output-dir", str(tmp_path / "out"))
    assert_user_error(result, "unknown executor 'os:system'", "local")
    assert not (tmp_path / "out" / "cells").exists()
    listing = curbench("sweep", "--config", str(suite), "--executor", "os:system", "--dry-run")
    assert_user_error(listing, "unknown executor 'os:system'", "local")


@pytest.mark.parametrize(
    ("settings", "fragments"),
    [
        ("k: 250\n", ("k=250", "has 200", "smaller k")),
        ("generator_options: {steps: -5}\n", ("steps must be a positive integer", "-5")),
        ("dataset_options: {n: 200, seed: -1}\n", ("seed must be an integer >= 0", "-1")),
        ("grid:\n  seed: [0, 18446744073709551616]\n", ("seed must be an integer in [0, 4294967295]",)),
    ],
)
def test_sweeps_check_every_cell_before_starting_workers(tmp_path, settings, fragments):
    suite = tmp_path / "suite.yaml"
    grid = "" if "grid:" in settings else "grid:\n  seed: [0, 1]\n"
    suite.write_text("track: t" + _without(QUICK_CELL, settings) + "selection: global\n" + settings + grid)
    result = curbench("sweep", "--config", str(suite), "--output-dir", str(tmp_path / "out"))
    assert_user_error(result, *fragments)
    assert not (tmp_path / "out").exists()


def _without(settings: str, overrides: str) -> str:
    """``settings`` less the top-level keys ``overrides`` sets (a key given twice is refused)."""
    keys = {line.split(":")[0] for line in overrides.splitlines() if line and not line.startswith(" ")}
    return "\n".join(line for line in settings.split("\n") if line.split(":")[0] not in keys)


def _cell_of(suite, output_dir) -> str:
    listing = curbench("sweep", "--config", str(suite), "--dry-run", "--output-dir", str(output_dir))
    assert listing.returncode == 0, listing.stderr
    return re.search(r"^([0-9a-f]{16})  ", listing.stdout, re.MULTILINE).group(1)


@pytest.mark.slow
def test_unreadable_cell_records_are_named_once_and_recomputed(tmp_path):
    # One cell, as `run --config` and as a one-cell suite: both name it by the same hash.
    run_config, suite = tmp_path / "run.yaml", tmp_path / "suite.yaml"
    run_config.write_text(QUICK_CELL)
    suite.write_text("track: t" + QUICK_CELL + "grid:\n  seed: [0]\n")
    out = tmp_path / "out"
    record = out / "cells" / _cell_of(suite, out) / "result.json"
    record.parent.mkdir(parents=True)
    for broken in ("[1, 2]", "metrics null"):
        if broken == "metrics null":
            record.write_text(json.dumps({**json.loads(record.read_text()), "metrics": None}))
        else:
            record.write_text(broken)
        listing = curbench("sweep", "--config", str(suite), "--dry-run", "--output-dir", str(out))
        assert_one_warning(listing, str(record), "not a valid result record", "recomputed")
        assert "  todo  " in listing.stdout
        assert_one_warning(curbench("run", "--config", str(run_config), "--output-dir", str(out)), str(record))
        assert json.loads(record.read_text())["metrics"]["fid"] > 0  # recomputed, and readable again


def test_sample_time_curators_are_not_data_scorers(inputs):
    features = str(inputs / "features.npy")
    result = curbench("score", features, "--scorer", "drs", "--out", str(inputs / "s.npy"))
    assert_user_error(result, "'drs' is a sample-time curator", "knn", "curbench run --scorer drs")
    assert not (inputs / "s.npy").exists()
    assert_user_error(curbench("show", "--scorer", "truncation", "--out-dir", str(inputs / "show")), "sample-time curator")


def test_a_truncated_record_fails_the_leaderboard_check(tmp_path):
    records = tmp_path / "boards" / "t" / "records"
    records.mkdir(parents=True)
    (records / "0123456789abcdef.json").write_text('{"cell_id": "0123456789abcdef", "config": {"data')
    (tmp_path / "configs").mkdir()
    result = curbench(
        "leaderboard", "--check", "--root", str(tmp_path / "boards"), "--configs", str(tmp_path / "configs"),
        "--readme", str(tmp_path / "README.md"),
    )
    assert_user_error(result, str(records / "0123456789abcdef.json"), "not a valid result record")


def test_an_empty_npy_file(inputs):
    empty = inputs / "empty.npy"
    empty.touch()
    result = curbench("metrics", str(empty), str(inputs / "features.npy"))
    assert_user_error(result, str(empty), "empty or truncated", "numpy.save")
    assert "Aborted" not in result.stdout + result.stderr


def test_count_selection_that_keeps_nothing_says_why(inputs):
    labels = inputs / "labels.npy"
    np.save(labels, np.repeat(np.arange(4), 10))
    result = curbench(
        "score", str(inputs / "features.npy"), "--out", str(inputs / "s.npy"), "--labels", str(labels),
        "--retention", "1", "--selection-mode", "count",
    )
    assert_user_error(result, "retention 1% keeps no instance", "4 classes (10 instances)", "at least 5")


@pytest.mark.slow
def test_a_run_whose_count_selection_keeps_nothing(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text(QUICK_CELL + "selection_mode: count\nretention: 1\n")
    result = curbench("run", "--config", str(config), "--output-dir", str(tmp_path / "out"))
    assert_user_error(result, "retention 1% keeps no instance", "8 classes")
    assert "is empty" not in result.stderr


def test_a_local_weights_file_with_the_wrong_hash(inputs, monkeypatch):
    weights = inputs / "weights"
    weights.mkdir()
    (weights / "weights-inception-2015-12-05-6726825d.pth").write_bytes(b"a download cut short")
    monkeypatch.setenv("CURBENCH_WEIGHTS_DIR", str(weights))
    monkeypatch.setenv("CURBENCH_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(inputs / "torch"))
    result = curbench("embed", "--images", str(inputs / "images.npy"), "--embedder", "inception", "--out", str(inputs / "e.npy"))
    assert_user_error(result, str(weights), "6726825d0af5f729", "has sha256", "delete it")


def test_a_corrupt_training_checkpoint_is_set_aside_and_training_starts_over(tmp_path, capsys):
    rng = np.random.default_rng(0)
    points = Dataset("blobs", rng.normal(size=(120, 2)).astype(np.float32))

    def gan() -> MLPGAN:
        return MLPGAN(steps=6, batch_size=32, hidden=16, layers=2, checkpoint_every=3, device="cpu")

    fresh = gan().fit(points, seed=1, checkpoint_dir=tmp_path / "fresh")
    checkpoint = tmp_path / "cut" / CHECKPOINT_FILE
    gan().fit(points, seed=1, checkpoint_dir=checkpoint.parent)
    checkpoint.write_bytes(checkpoint.read_bytes()[:200])  # a copy or a disk that cut it short
    capsys.readouterr()
    retrained = gan().fit(points, seed=1, checkpoint_dir=checkpoint.parent)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and "warning" in lines[0] and str(checkpoint) in lines[0] and ".corrupt" in lines[0], lines
    assert checkpoint.with_name(CHECKPOINT_FILE + ".corrupt").is_file()
    for name, tensor in fresh.state()["generator"].items():
        assert torch.equal(tensor, retrained.state()["generator"][name]), name
