"""Errors you can debug: one line naming where a failure happened, full tracebacks with --debug."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from curbench.bench.executors import SerialExecutor
from curbench.errors import failure_line


def _load(path, source: str):
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("buggy_plugin", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_bug_in_plugin_code_names_its_file_and_line(tmp_path):
    module = _load(tmp_path / "buggy_plugin.py", "import numpy as np\n\ndef score(x):\n    return np.arange(3)[x]\n")
    with pytest.raises(IndexError) as raised:
        module.score(7)
    line = failure_line(raised.value)
    assert line.startswith("IndexError: index 7 is out of bounds") and "buggy_plugin.py:4 in score" in line
    assert "\n" not in line  # numpy's own frames are not "where it failed"


def test_a_failing_cell_is_one_line_and_the_traceback_follows_only_in_debug(tmp_path, monkeypatch):
    module = _load(tmp_path / "buggy_plugin.py", "def cell(item):\n    return {}[item]\n")
    [outcome] = SerialExecutor().map(module.cell, ["missing"])
    assert outcome.error.startswith("KeyError: 'missing' (at ") and outcome.error.endswith("buggy_plugin.py:2 in cell)")
    monkeypatch.setenv("CURBENCH_DEBUG", "1")
    [outcome] = SerialExecutor().map(module.cell, ["missing"])
    assert "Traceback (most recent call last)" in outcome.error and 'return {}[item]' in outcome.error


def _curbench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "curbench", *args], capture_output=True, text=True, timeout=120)


def test_debug_flag_prints_the_traceback_of_a_user_error(tmp_path):
    missing = str(tmp_path / "missing.npy")
    plain = _curbench("metrics", missing, missing)
    assert plain.returncode == 2 and "Traceback" not in plain.stderr and plain.stderr.count("\n") == 1
    debug = _curbench("--debug", "metrics", missing, missing)
    assert debug.returncode == 2 and "Traceback (most recent call last)" in debug.stderr
    assert debug.stderr.strip().splitlines()[-1] == plain.stderr.strip()


@pytest.mark.parametrize("command", ["metrics", "score"])
def test_debug_is_accepted_after_the_subcommand_too(tmp_path, command):
    missing = str(tmp_path / "missing.npy")
    args = (missing, missing) if command == "metrics" else (missing, "--out", str(tmp_path / "s.npy"))
    after = _curbench(command, *args, "--debug")
    assert after.returncode == 2 and "Traceback (most recent call last)" in after.stderr
    assert "No such option" not in after.stderr
