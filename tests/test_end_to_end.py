"""The whole pipeline through the CLI on small, fast settings: digits with DCGAN, toy with the MLP GAN."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from curbench.bench.records import read_record
from curbench.datasets.digits import load_digits

pytestmark = pytest.mark.slow


def curbench(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "curbench", *args], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    return result


def _records(output_dir: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in (output_dir / "cells").glob("*/result.json")}


def test_digits_run_with_baselines_is_recorded_and_reused(tmp_path):
    out = tmp_path / "runs"
    args = ("run", "--generator-option", "steps=40", "--samples", "300", "--output-dir", str(out), "--quiet")
    first = curbench(*args)
    records = _records(out)
    assert len(records) == 3  # method, full data, random subset
    by_scorer = {(r["config"]["scorer"], r["config"]["retention"]): r for r in records.values()}
    method, full, random = by_scorer[("knn", 50.0)], by_scorer[("random", 100.0)], by_scorer[("random", 50.0)]
    labels = load_digits().labels
    # Strictly above each class's median keeps floor(c / 2) of a class of c when scores are distinct
    # (random scores are); k-NN scores can tie at the median (mutual k-th neighbours), which keeps fewer.
    expected_kept = int(sum(c // 2 for c in np.bincount(labels)))
    assert random["selection"]["n_kept"] == expected_kept
    assert expected_kept - 30 <= method["selection"]["n_kept"] <= expected_kept
    assert full["selection"]["n_kept"] == len(labels)
    for record in records.values():
        metrics = record["metrics"]
        assert metrics["fid"] >= 0 and 0 <= metrics["precision"] <= 1 and 0 <= metrics["coverage"] <= 1
        assert record["provenance"]["wall_time_s"] > 0 and "torch" in record["provenance"]["packages"]
        assert set(record["selection"]["retention_by_group"]["class"]) == {str(c) for c in range(10)}
    # Every cell is measured with the same trained evaluator: one checksum of its weights.
    assert len({r["spaces"]["evaluation"]["weights"] for r in records.values()}) == 1
    assert len(method["spaces"]["selection"]["weights"]) == 16
    method_id = next(cell for cell, r in records.items() if r["config"]["scorer"] == "knn")
    assert (out / "comparisons" / f"{method_id}.md").exists() and "random subset" in first.stdout
    for cell in records:
        assert str(out / "cells" / cell / "result.json") in first.stdout
    for cell in records:
        assert (out / "cells" / cell / "samples.png").exists()

    mtimes = {p: p.stat().st_mtime_ns for p in (out / "cells").glob("*/result.json")}
    # A rerun reads the finished cells back: no worker pool, no model, not even torch is loaded.
    probe = "import sys; from curbench.cli import app; app(sys.argv[1:], standalone_mode=False); print('torch loaded:', 'torch' in sys.modules)"
    rerun = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert "torch loaded: False" in rerun.stdout and "reused from earlier runs (not recomputed): method, full data, random subset" in rerun.stdout
    assert {p: p.stat().st_mtime_ns for p in (out / "cells").glob("*/result.json")} == mtimes


def test_toy_track_with_sample_time_curation(tmp_path):
    out = tmp_path / "runs"
    curbench(
        "run", "--dataset", "toy", "--embedder", "pixels", "--eval-embedder", "pixels", "--generator", "mlp",
        "--scorer", "truncation", "--option", "psi=1.0", "--samples", "500", "--output-dir", str(out), "--quiet",
    )
    records = [read_record(p) for p in (out / "cells").glob("*/result.json")]
    assert sorted(r.config["scorer"] for r in records) == ["random", "truncation"]  # no random-subset row
    truncated = next(r for r in records if r.config["scorer"] == "truncation")
    assert truncated.metrics["n_fake"] == 500


def test_saved_features_reproduce_the_records_metrics_through_the_metrics_command(tmp_path):
    out, features = tmp_path / "runs", tmp_path / "features"
    curbench("run", "--dataset", "toy", "--generator-option", "steps=30", "--samples", "400", "--output-dir", str(out),
             "--save-features", str(features), "--quiet")
    assert sorted(p.name for p in features.glob("*.npy")) == ["full.npy", "method.npy", "random.npy", "real.npy"]
    method = next(r for r in map(read_record, (out / "cells").glob("*/result.json")) if r.config["scorer"] == "knn")
    printed = json.loads(curbench("metrics", str(features / "real.npy"), str(features / "method.npy"), "--json").stdout)
    for name in ("fid", "kid", "precision", "recall", "density", "coverage"):
        assert printed[name] == pytest.approx(method.metrics[name], rel=1e-9, abs=1e-12), name
