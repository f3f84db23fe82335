"""Faults: two runs of the same cell, and a run killed while it holds a lock."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from filelock import FileLock

from curbench.bench.runner import LOCK_FILE, CellRunner, locked
from curbench.config import RunConfig

CELL = dict(dataset="toy", dataset_options={"n": 200}, generator="mlp", generator_options={"steps": 20}, embedder="pixels",
            eval_embedder="pixels", samples=200, scorer="random", retention=100.0)
CHILD = (
    "import json, sys; from curbench.bench.runner import CellRunner; from curbench.config import RunConfig; "
    "record = CellRunner().run(RunConfig(**json.loads(sys.argv[1]))); print(record.provenance.finished_at)"
)


@pytest.mark.slow
def test_a_second_run_of_a_running_cell_waits_and_reuses_its_record(tmp_path):
    config = RunConfig(**CELL, output_dir=str(tmp_path))
    runner = CellRunner()
    with locked(runner.cell_dir(config), "cell"):  # this process is computing the cell
        child = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(dataclasses.asdict(config))],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(3)
        assert child.poll() is None  # it waits instead of computing the same cell
        record = runner._compute(config)
    out, err = child.communicate(timeout=300)
    assert child.returncode == 0, err
    assert out.strip() == record.provenance.finished_at  # it read this run's record, it did not recompute


def test_a_lock_held_by_a_killed_process_is_taken_over(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", f"from filelock import FileLock; lock = FileLock({str(tmp_path / LOCK_FILE)!r}); lock.acquire(); "
                               "print('held', flush=True); import time; time.sleep(600)"],
        stdout=subprocess.PIPE, text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    assert not _free(tmp_path)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=30)
    assert _free(tmp_path)  # no stale lock: the OS released it with the process
    with locked(tmp_path, "cell"):
        assert not _free(tmp_path)


def _free(directory) -> bool:
    lock = FileLock(directory / LOCK_FILE)
    try:
        lock.acquire(timeout=0.2)
    except TimeoutError:
        return False
    lock.release()
    return True
