"""The GPU check (benchmarks/gpu_check.py) in its tiny CPU mode: every section runs and reports its checks."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore")]

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    path = tmp_path_factory.mktemp("gpu-check") / "report.json"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--cpu", "--tiny", "--report", str(path)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(path.read_text())


def test_every_section_passed(report):
    assert report["mode"] == "cpu-tiny" and report["passed"]
    assert set(report["sections"]) == {"metrics", "prdc_scale", "dcgan", "torchrun", "embedders"}
    for name, section in report["sections"].items():
        assert section["ok"] and section["error"] is None and section["checks"], name


def test_metrics_agree_with_the_cpu_engine(report):
    metrics = report["sections"]["metrics"]
    assert metrics["checks"]["prdc_identical_to_cpu"] and metrics["checks"]["prdc_with_shared_kid_identical"]
    for name in ("fid", "kid", "kid_shared"):
        assert metrics[f"{name}_relative_difference"] <= 1e-6
    assert set(metrics["timings"]) == {"prdc", "fid", "kid", "kid_and_prdc"}
    scale = report["sections"]["prdc_scale"]
    assert scale["n"] == scale["target_n"] and all(math.isfinite(v) for v in scale["metrics"].values())


def test_training_losses_are_finite_and_resume_matches(report):
    dcgan = report["sections"]["dcgan"]
    assert set(dcgan["runs"]) == {"fp32", "amp", "channels_last", "amp_channels_last"}
    assert all(run["steps_per_second"] > 0 for run in dcgan["runs"].values())
    assert dcgan["checks"]["resume_matches_uninterrupted"] and dcgan["resume_largest_weight_difference"] == 0.0
    assert dcgan["resumed_from_step"] > 0


def test_torchrun_and_embedders(report):
    torchrun = report["sections"]["torchrun"]
    assert torchrun["backend"] == "gloo" and torchrun["world_size"] == 1
    embedders = report["sections"]["embedders"]
    assert {name: embedders[name]["feature_dim"] for name in ("inception", "clip", "swav")} == {"inception": 2048, "clip": 32, "swav": 2048}
    assert all(embedders[name]["images_per_second"] > 0 for name in ("inception", "clip", "swav"))


def test_gpu_mode_without_cuda_refuses_with_one_line(tmp_path):
    """Without CUDA the GPU mode does not start (the CPU mode is the fallback)."""
    done = subprocess.run([sys.executable, str(SCRIPT), "--report", str(tmp_path / "r.json")], capture_output=True, text=True, timeout=120)
    if done.returncode == 0:
        pytest.skip("a GPU is present")
    assert done.returncode == 2 and "no CUDA device" in done.stderr
