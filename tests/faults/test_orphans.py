"""A sweep killed with SIGKILL (or by the OOM killer), or stopped with Ctrl-C, leaves no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SUITE = """
track: orphans
dataset: toy
dataset_options: {n: 300}
generator_options: {steps: 100000}
samples: 300
grid: {scorer: [knn], retention: [50], seed: [0]}
"""


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc to find the worker processes")
def test_workers_exit_when_the_sweep_is_killed(tmp_path):
    suite = tmp_path / "orphans.yaml"
    suite.write_text(SUITE)
    sweep = subprocess.Popen(
        [sys.executable, "-m", "curbench", "sweep", "--config", str(suite), "--output-dir", str(tmp_path / "runs"),
         "--workers", "2", "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    children: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while len(_children(sweep.pid)) < 3 and time.monotonic() < deadline:  # the manager and two workers
            time.sleep(0.5)
        children = _children(sweep.pid)
        assert len(children) >= 3, "the sweep never started its workers"
        os.kill(sweep.pid, signal.SIGKILL)
        sweep.wait()
        deadline = time.monotonic() + 20
        while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not [pid for pid in children if _alive(pid)], "workers outlived the killed sweep"
    finally:  # never leave a process behind, whatever happened above
        for pid in children + _children(sweep.pid):
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        if sweep.poll() is None:
            sweep.kill()


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc to find the worker processes")
def test_ctrl_c_stops_the_workers_and_says_so_in_one_line(tmp_path):
    suite = tmp_path / "orphans.yaml"
    suite.write_text(SUITE)
    sweep = subprocess.Popen(  # its own process group, like a terminal's foreground job
        [sys.executable, "-m", "curbench", "sweep", "--config", str(suite), "--output-dir", str(tmp_path / "runs"),
         "--workers", "2", "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
        # A terminal's foreground job takes Ctrl-C; pytest run as a background job (`cmd &` in a script) passes on an
        # ignored SIGINT, which Python keeps, and the sweep would never see the interrupt.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    children: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while len(_children(sweep.pid)) < 3 and time.monotonic() < deadline:
            time.sleep(0.5)
        children = _children(sweep.pid)
        assert len(children) >= 3, "the sweep never started its workers"
        time.sleep(2)  # let the workers get into a cell
        os.killpg(sweep.pid, signal.SIGINT)  # what Ctrl-C sends: every process of the foreground group
        _, stderr = sweep.communicate(timeout=60)
        assert sweep.returncode == 130
        lines = [line for line in stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "interrupted; 0 of 3 cells finished" in lines[0] and "Traceback" not in stderr
        deadline = time.monotonic() + 10  # multiprocessing's resource tracker leaves once its pipe closes
        while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in children if _alive(pid)], "workers outlived the interrupted sweep"
    finally:
        for pid in children + _children(sweep.pid):
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        if sweep.poll() is None:
            sweep.kill()
