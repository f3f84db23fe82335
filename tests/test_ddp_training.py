"""DDP training on CPU: two gloo processes under torchrun end with identical weights, close to one process."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from curbench.datasets.base import Dataset
from curbench.generators.mlp import MLPGAN

pytestmark = pytest.mark.slow

OPTIONS = {"steps": 8, "batch_size": 32, "hidden": 16, "layers": 2, "checkpoint_every": 4}

SCRIPT = """
import sys
import numpy as np
import torch
import torch.distributed as dist
from curbench.datasets.base import Dataset
from curbench.generators.mlp import MLPGAN

dist.init_process_group("gloo")
rng = np.random.default_rng(0)
data = Dataset("blobs", rng.normal(size=(200, 2)).astype(np.float32), labels=rng.integers(0, 3, 200))
out = sys.argv[1]
gan = MLPGAN(**{options}).fit(data, seed=4, checkpoint_dir=out + "/ckpt")
torch.save(gan.state(), f"{{out}}/rank{{dist.get_rank()}}.pt")
dist.destroy_process_group()
"""


def test_two_gloo_ranks_train_identical_weights(tmp_path):
    script = tmp_path / "train_ddp.py"
    script.write_text(textwrap.dedent(SCRIPT.format(options=OPTIONS)))
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(script), str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    for part in ("generator", "discriminator", "ema"):
        for key, value in ranks[0][part].items():
            assert torch.equal(value, ranks[1][part][key]), f"{part}.{key}"
    assert torch.load(tmp_path / "ckpt" / "last.pt", weights_only=True)["step"] == OPTIONS["steps"]

    # Averaged gradients over two halves of each batch equal the full-batch gradient: one process agrees.
    rng = np.random.default_rng(0)
    data = Dataset("blobs", rng.normal(size=(200, 2)).astype(np.float32), labels=rng.integers(0, 3, 200))
    single = MLPGAN(**OPTIONS).fit(data, seed=4).state()
    for key, value in single["generator"].items():
        torch.testing.assert_close(ranks[0]["generator"][key], value, rtol=1e-3, atol=1e-4)
