"""Progress: worker status lines instead of bars, and the sweep display without a terminal."""

from __future__ import annotations

import re

import numpy as np
import pytest

from curbench import progress


@pytest.fixture
def status(monkeypatch):
    monkeypatch.delenv(progress.QUIET_ENV, raising=False)
    shared: dict[str, str] = {}
    progress.attach_status(shared)
    yield shared
    progress.attach_status(None)


def test_bars_in_workers_become_one_status_line_naming_the_cell(status):
    seen = []
    with progress.cell("abc knn 50% seed 1"):
        for _ in progress.progress(np.arange(3), desc="covariance"):  # numpy iterables too
            seen.append(next(iter(status.values())))
        with progress.progress(total=10, desc="train dcgan") as bar:
            bar.update(10)
            bar.set_postfix({"steps/s": "30.0"})
        final = next(iter(status.values()))
    assert seen[:2] == ["abc knn 50% seed 1: starting", "abc knn 50% seed 1: covariance 1/3"]
    assert final == "abc knn 50% seed 1: train dcgan 10/10 (steps/s=30.0)"
    assert status == {}  # a finished cell leaves no line behind


def test_without_a_terminal_the_display_logs_finished_cells_and_a_bounded_heartbeat(status, monkeypatch, capsys):
    monkeypatch.setattr(progress, "LOG_INTERVAL_S", 0.05)
    status["1"] = "abc knn 50% seed 0: train dcgan 40/1200"
    with progress.SweepDisplay(total=3, reused=1, status=lambda: status) as display:
        display.finished("abc knn 50% seed 0", None)
        display.finished("def random 50% seed 0", "ValueError: bad")
        progress.time.sleep(0.2)
    lines = capsys.readouterr().err.splitlines()
    assert all(re.match(r"\[\d\d:\d\d:\d\d\] ", line) for line in lines)
    assert "cell 1/3 done: abc knn 50% seed 0" in lines[0] and "cell 2/3 failed: ValueError: bad" in lines[1]
    assert any("cells 2/3 finished (1 reused, 1 failed)" in line for line in lines)
    assert any("worker 1: abc knn 50% seed 0: train dcgan 40/1200" in line for line in lines)
    assert len(lines) < 2 + 3 * 2 * (0.2 / 0.05 + 1)  # bounded by the interval


def test_quiet_prints_nothing(status, monkeypatch, capsys):
    monkeypatch.setenv(progress.QUIET_ENV, "1")
    with progress.SweepDisplay(total=1, reused=0, status=lambda: status) as display:
        display.finished("x", None)
    assert capsys.readouterr().err == ""


def test_cells_are_named_by_retention_or_by_the_sample_time_options():
    assert progress.cell_name("abc", "knn", 1, retention=50.0) == "abc knn 50% seed 1"
    assert progress.cell_name("abc", "knn", 0, retention=12.5) == "abc knn 12.5% seed 0"
    assert progress.cell_name("def", "truncation", 0, options={"psi": 0.5}) == "def truncation psi 0.5 seed 0"
    assert progress.cell_name("def", "drs", 2, options={}) == "def drs sample-time seed 2"
    assert "%" not in progress.cell_name("def", "truncation", 0, options={"psi": 0.5})
