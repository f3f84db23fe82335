"""`torchrun -m curbench embed` on CPU (gloo, 2 processes) gives exactly the single-process features."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def test_torchrun_embed_equals_single_process(tmp_path):
    args = ["-m", "curbench", "embed", "--dataset", "digits", "--embedder", "random-cnn", "--no-cache", "--quiet"]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    sharded = subprocess.run([*launcher, *args, "--out", str(tmp_path / "two.npy")], capture_output=True, text=True, timeout=300)
    assert sharded.returncode == 0, sharded.stderr
    single = subprocess.run([sys.executable, *args, "--out", str(tmp_path / "one.npy")], capture_output=True, text=True, timeout=300)
    assert single.returncode == 0, single.stderr
    two, one = np.load(tmp_path / "two.npy"), np.load(tmp_path / "one.npy")
    assert one.shape == (1797, two.shape[1])
    np.testing.assert_array_equal(two, one)
