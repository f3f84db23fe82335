"""User errors that used to end in "internal error", or late, or silently (issue #24): each ends in one line
naming what was wrong and how to fix it, exit 2, before any work starts."""

from __future__ import annotations

import numpy as np
import pytest
from faults.children import curbench_unprivileged
from test_cli_errors import curbench
from test_untrusted_yaml import assert_refused

# A cell that trains in seconds; with baselines, so that a check made only after work started would leave cells.
QUICK = "dataset: toy\ndataset_options: {n: 200}\ngenerator_options: {steps: 5}\n"


@pytest.fixture
def features(tmp_path):
    path = tmp_path / "f.npy"
    np.save(path, np.random.default_rng(0).standard_normal((40, 4)))
    return path


@pytest.mark.parametrize(
    ("setting", "fragments"),
    [
        ("device: [cpu]\n", ("device must be one of auto, cpu, cuda", "['cpu']")),
        ("output_dir: 5\n", ("output_dir must be a folder path", "got 5")),
        ('output_dir: ""\n', ("output_dir must be a folder path", "got ''")),
        ("data_root: [a]\n", ("data_root must be a path",)),
    ],
)
def test_wrong_types_in_a_run_config(tmp_path, setting, fragments):
    config = tmp_path / "run.yaml"
    config.write_text(QUICK + setting)
    result = curbench("run", "--config", str(config), cwd=tmp_path)
    assert_refused(result, *fragments)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.yaml"]  # nothing written, not even into the cwd


def test_ci_slice_that_is_not_a_mapping(tmp_path):
    suite = tmp_path / "suite.yaml"
    suite.write_text("track: t\n" + QUICK + "grid: {seed: [0]}\nci_slice: 5\n")
    assert_refused(curbench("sweep", "--config", str(suite), "--dry-run"), str(suite), "ci_slice must be a mapping")


@pytest.mark.parametrize(
    ("flags", "fragments"),
    [
        (("--device", "tpu"), ("device must be one of auto, cpu, cuda", "'tpu'")),
        (("--option", "k=-3"), ("knn scorer k must be a positive integer", "-3")),
        (("--option", "k=3", "--option", "k=4"), ("--option sets 'k' twice", "'k=3'", "'k=4'")),
        (("--seed", str(2**64)), ("seed must be an integer in [0, 4294967295]",)),
    ],
)
def test_run_refuses_bad_flags_before_the_baselines_train(tmp_path, flags, fragments):
    config = tmp_path / "run.yaml"
    config.write_text(QUICK)
    out = tmp_path / "out"
    assert_refused(curbench("run", "--config", str(config), "--output-dir", str(out), "--quiet", *flags), *fragments)
    assert not (out / "cells").exists()


def test_sweep_refuses_a_bad_scorer_option_before_any_cell(tmp_path):
    suite = tmp_path / "suite.yaml"
    suite.write_text("track: t\n" + QUICK + "scorer_options: {k: -3}\ngrid: {seed: [0, 1]}\n")
    out = tmp_path / "out"
    assert_refused(curbench("sweep", "--config", str(suite), "--output-dir", str(out), "--quiet"), "knn scorer k", "-3")
    assert not (out / "cells").exists()


def test_an_output_path_that_is_an_existing_file(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file")
    config = tmp_path / "run.yaml"
    config.write_text(QUICK)
    result = curbench("run", "--config", str(config), "--output-dir", str(blocker))
    assert_refused(result, "cannot write --output-dir", str(blocker), "is an existing file", "folder")
    suite = tmp_path / "suite.yaml"
    suite.write_text("track: t\n" + QUICK + "grid: {seed: [0]}\n")
    result = curbench("sweep", "--config", str(suite), "--output-dir", str(blocker / "runs"))
    assert_refused(result, "cannot write --output-dir", f"lies under {blocker}, which is a file")
    assert blocker.read_text() == "a file"


def test_a_read_only_publish_target_fails_before_the_sweep_runs(tmp_path):
    leaderboards = tmp_path / "leaderboards"
    leaderboards.mkdir(mode=0o555)
    suite = tmp_path / "suite.yaml"
    suite.write_text("track: t\n" + QUICK + "baselines: false\ngrid: {seed: [0]}\n")
    out = tmp_path / "out"
    result = curbench_unprivileged("sweep", "--config", str(suite), "--output-dir", str(out), "--publish",
                                   "--leaderboards", str(leaderboards), "--quiet")
    assert_refused(result, "cannot write the --publish target", str(leaderboards / "t"), "Permission denied")
    assert not (out / "cells").exists()
    assert list(leaderboards.iterdir()) == []


def test_seeds_beyond_what_numpy_accepts(features, tmp_path):
    huge = str(2**64)
    assert_refused(curbench("metrics", str(features), str(features), "--seed", huge), "--seed must be an integer in [0, ")
    result = curbench("score", str(features), "--scorer", "random", "--seed", huge, "--out", str(tmp_path / "s.npy"))
    assert_refused(result, "--seed must be an integer in [0, ")
    assert not (tmp_path / "s.npy").exists()


def test_negative_drift_sample(tmp_path):
    result = curbench("leaderboard", "--check", "--drift", "--drift-sample", "-3", "--root", str(tmp_path))
    assert_refused(result, "--drift-sample must be an integer >= 0", "-3")


def test_score_refuses_the_same_file_for_scores_and_kept_indices(features, tmp_path):
    out = tmp_path / "s.npy"
    result = curbench("score", str(features), "--out", str(out), "--kept-out", str(tmp_path / "." / "s.npy"),
                      "--retention", "50")
    assert_refused(result, "--out and --kept-out are the same file")
    assert not out.exists()
    assert_refused(curbench("score", str(features), "--out", str(features)), "an output is the input")
    assert np.load(features).shape == (40, 4)


def test_repeated_options_are_refused_not_last_wins(features, tmp_path):
    result = curbench("score", str(features), "--option", "k=3", "--option", "k=7", "--out", str(tmp_path / "s.npy"))
    assert_refused(result, "--option sets 'k' twice", "'k=3'", "'k=7'")
    assert not (tmp_path / "s.npy").exists()


def test_a_quoted_boolean_option_of_a_plugin_is_refused(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("dataset: digits\ngenerator_options: {conditional: 'false'}\n")
    result = curbench("run", "--config", str(config), "--output-dir", str(tmp_path / "out"))
    assert_refused(result, "option 'conditional' of generator 'dcgan' must be bool", "'false'")


def test_a_tilde_in_the_cache_dir_means_home(features, tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("CURBENCH_CACHE_DIR", "~/curbench-cache")
    result = curbench("metrics", str(features), str(features), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "~").exists()
    assert (home / "curbench-cache").is_dir() and any((home / "curbench-cache").rglob("*"))


def test_run_checks_the_device_before_work_on_a_machine_without_cuda(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    config = tmp_path / "run.yaml"
    config.write_text(QUICK)
    out = tmp_path / "out"
    result = curbench("run", "--config", str(config), "--output-dir", str(out), "--device", "cuda", "--quiet")
    assert_refused(result, "CUDA is not available", "--device cpu")
    assert not (out / "cells").exists()


def test_embed_refuses_to_overwrite_its_input(tmp_path):
    images = tmp_path / "images.npy"
    np.save(images, np.zeros((30, 1, 8, 8), dtype=np.uint8))
    assert_refused(curbench("embed", "--images", str(images), "--out", str(tmp_path / "." / "images.npy")),
                   "--out is the input --images file")
    assert np.load(images).shape == (30, 1, 8, 8)


def test_non_finite_option_values_are_refused(features, tmp_path):
    result = curbench("score", str(features), "--scorer", "gaussian", "--option", "reg_covar=.inf",
                      "--out", str(tmp_path / "s.npy"))
    assert_refused(result, "option 'reg_covar' of scorer 'gaussian' must be a finite number", "inf")
    assert not (tmp_path / "s.npy").exists()
