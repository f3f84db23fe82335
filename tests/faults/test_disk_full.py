"""Faults: a full disk, simulated by a file-size limit in the child (portable; mounting a small tmpfs needs privileges).

A write past the limit fails with EFBIG as one on a full disk fails with ENOSPC. Expected: one line naming
the file and what to do, a non-zero exit, nothing half-written, and the same command resumes once there is room.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from faults.children import file_size_limit
from test_cli_errors import assert_user_error, curbench

from curbench.bench.cells import finished_record
from curbench.cache import ArrayCache
from curbench.config import build_run_config
from curbench.generators.train import CHECKPOINT_FILE

LIMIT = 1024  # bytes: the cell's first write, its training checkpoint (about 1 MB), does not fit
CELL = dict(dataset="toy", dataset_options={"n": 300}, generator_options={"steps": 20}, samples=300, baselines=False)
RUN = ("run", "--dataset", "toy", "--dataset-option", "n=300", "--generator-option", "steps=20", "--samples", "300",
       "--no-baselines", "--quiet")
SUITE = """
track: full-disk
dataset: toy
dataset_options: {n: 300}
generator_options: {steps: 20}
samples: 300
baselines: false
grid: {seed: [0]}
"""
WRITERS = """
import json, sys
import numpy as np
from curbench import atomic
from curbench.errors import DiskFullError

array = np.zeros(1000)
writers = {"json": lambda path: atomic.write_json(path, array.tolist()), "npy": lambda path: atomic.save_npy(path, array),
           "npz": lambda path: atomic.save_npz(path, array=array)}
said = {}
for name, write in writers.items():
    try:
        write(f"{sys.argv[1]}/{name}")
    except DiskFullError as exc:
        said[name] = str(exc)
print(json.dumps(said))
"""


def test_atomic_writers_on_a_full_disk_keep_the_old_file_and_no_temporary_one(tmp_path):
    for name in ("json", "npy", "npz"):
        (tmp_path / name).write_text("the previous version")
    result = subprocess.run([sys.executable, "-c", WRITERS, str(tmp_path)], capture_output=True, text=True, timeout=120,
                            preexec_fn=file_size_limit(LIMIT))
    assert result.returncode == 0, result.stderr
    said = json.loads(result.stdout)
    for name in ("json", "npy", "npz"):
        assert said[name].startswith(f"disk full: cannot write {tmp_path / name} (File too large); free some space"), said
        assert (tmp_path / name).read_text() == "the previous version"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["json", "npy", "npz"]  # no temporary file left


def test_a_full_disk_leaves_the_cache_behind_with_one_warning(tmp_path, isolated_cache):
    features = tmp_path / "features.npy"
    np.save(features, np.random.default_rng(0).standard_normal((40, 4)))
    result = curbench("metrics", str(features), str(features), "--json", preexec_fn=file_size_limit(LIMIT))
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "warning: cannot write the cache" in lines[0] and "File too large" in lines[0], lines
    assert f"{isolated_cache}/" in lines[0] and ".tmp" not in lines[0]  # names the entry, not its temporary file
    assert json.loads(result.stdout)["fid"] == pytest.approx(0, abs=1e-6)
    _assert_nothing_half_written(isolated_cache)


@pytest.mark.slow
def test_a_full_disk_stops_run_and_sweep_in_one_line_and_they_resume(tmp_path, isolated_cache):
    out, reference = tmp_path / "out", tmp_path / "reference"
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE)
    sweep = ("sweep", "--config", str(suite), "--executor", "serial", "--quiet")
    config = build_run_config(None, {**CELL, "output_dir": str(out)})
    for command in (RUN, sweep):
        result = curbench(*command, "--output-dir", str(out), preexec_fn=file_size_limit(LIMIT))
        assert_user_error(result, f"disk full: cannot write {out / 'generators'}", CHECKPOINT_FILE, "File too large",
                          "free some space", "--output-dir", "rerun the same command to resume")
    assert finished_record(config) is None
    assert not (out / "comparisons").exists() and not (out / "board").exists()
    _assert_nothing_half_written(isolated_cache, tmp_path)

    for output_dir in (out, reference):  # the sweep resumes; the reference runs without a limit from the start
        result = curbench(*sweep, "--output-dir", str(output_dir))
        assert result.returncode == 0, result.stderr
    assert finished_record(config).metrics == finished_record(config.replace(output_dir=str(reference))).metrics
    result = curbench(*RUN, "--output-dir", str(out))
    assert result.returncode == 0, result.stderr
    assert "reused from earlier runs" in result.stdout


def _assert_nothing_half_written(cache, *folders) -> None:
    """No temporary file outlived the failure, and every cache entry left behind reads back as valid."""
    for folder in (cache, *folders):
        assert not list(folder.rglob("*.tmp"))
    for entry in cache.rglob("*.npz"):
        assert ArrayCache(str(entry.parent.relative_to(cache)), cache).get(entry.stem) is not None, entry
