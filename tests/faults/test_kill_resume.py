"""Faults: a cell SIGKILLed while embedding, training, evaluating or writing resumes to the same record.

The child process injects the kill by wrapping one internal function (test code only); the
rerun is a plain, unpatched run. Records must equal an uninterrupted run's in everything but
provenance (wall time, timestamps).
"""

from __future__ import annotations

import dataclasses
import json
import signal
import subprocess
import sys

import pytest

from curbench.bench.cells import cell_key, finished_record
from curbench.bench.executors import SerialExecutor
from curbench.bench.sweep import run_sweep
from curbench.config import RunConfig

CELL = RunConfig(dataset="toy", dataset_options={"n": 300}, generator="mlp",
                 generator_options={"steps": 60, "checkpoint_every": 20}, embedder="pixels", eval_embedder="pixels",
                 samples=300, scorer="knn", retention=50.0, selection="global", baselines=False)
# Where to die: the module attribute the child wraps so that its first call kills the process.
KILL_POINTS = {
    "embedding": ("curbench.embedders.features", "embed_dataset"),
    "training": ("curbench.generators.train", "write_checkpoint"),
    "metrics": ("curbench.bench.evaluation", "MetricSet.__call__"),
    "writing": ("curbench.atomic", "write_json"),
}
CHILD = """
import dataclasses, importlib, json, os, signal, sys
from curbench.bench.executors import SerialExecutor
from curbench.bench.sweep import run_sweep
from curbench.config import RunConfig

module_name, attribute = sys.argv[2], sys.argv[3]
module = importlib.import_module(module_name)
owner, _, name = attribute.rpartition(".")
target = getattr(module, owner) if owner else module
original = getattr(target, name)

def killing(*args, **kwargs):
    if name == "write_checkpoint":  # die right after the first checkpoint is on disk, mid-training
        original(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)

setattr(target, name, killing)
run_sweep([RunConfig(**json.loads(sys.argv[1]))], SerialExecutor())
"""


def _without_provenance(record) -> dict:
    data = record.to_dict()
    data.pop("provenance")
    return data


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    config = CELL.replace(output_dir=str(tmp_path_factory.mktemp("uninterrupted")))
    with pytest.MonkeyPatch.context() as patch:  # a fresh cache, like each test's own (module fixtures run first)
        patch.setenv("CURBENCH_CACHE_DIR", str(tmp_path_factory.mktemp("uninterrupted-cache")))
        [record] = run_sweep([config], SerialExecutor()).records
    return _without_provenance(record)


@pytest.mark.slow
@pytest.mark.parametrize("point", sorted(KILL_POINTS))
def test_sigkill_then_resume_gives_the_uninterrupted_record(point, tmp_path, uninterrupted):
    config = CELL.replace(output_dir=str(tmp_path))
    module, attribute = KILL_POINTS[point]
    killed = subprocess.run([sys.executable, "-c", CHILD, json.dumps(dataclasses.asdict(config)), module, attribute],
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert finished_record(config) is None  # nothing half-written passes for a finished cell
    [record] = run_sweep([config], SerialExecutor()).records
    assert record.cell_id == cell_key(config)
    assert _without_provenance(record) == uninterrupted
