"""Sharded embedding under torchrun (2 CPU processes, gloo) equals a single-process run."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from curbench import distributed
from curbench.datasets.base import Dataset
from curbench.embedders.features import embed_dataset
from curbench.embedders.offline import ClassifierEmbedder, RandomCNNEmbedder

N_IMAGES = 23  # odd, so the two shards differ in length

SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    from curbench import distributed
    from curbench.datasets.base import Dataset
    from curbench.embedders.features import embed_dataset
    from curbench.embedders.offline import ClassifierEmbedder, RandomCNNEmbedder

    out = sys.argv[1]
    assert distributed.init_from_env() and distributed.world_size() == 2
    rng = np.random.default_rng(0)
    data = Dataset("d", rng.integers(0, 256, ({n}, 1, 8, 8), dtype=np.uint8), labels=np.arange({n}) % 3)
    r = distributed.rank()
    np.save(f"{{out}}/shard{{r}}.npy", distributed.shard(len(data)))
    np.save(f"{{out}}/random{{r}}.npy", embed_dataset(RandomCNNEmbedder(seed=1), data, batch_size=4))
    clf = ClassifierEmbedder(epochs=1, width=4, feature_size=8, device="cpu")
    np.save(f"{{out}}/classifier{{r}}.npy", embed_dataset(clf, data, batch_size=4))
    # Second call: every rank must agree that the cache hit (rank 0 wrote it).
    np.save(f"{{out}}/again{{r}}.npy", embed_dataset(RandomCNNEmbedder(seed=1), data, batch_size=4))
    """
).format(n=N_IMAGES)


def _dataset() -> Dataset:
    rng = np.random.default_rng(0)
    return Dataset("d", rng.integers(0, 256, (N_IMAGES, 1, 8, 8), dtype=np.uint8), labels=np.arange(N_IMAGES) % 3)


@pytest.mark.slow
def test_torchrun_two_processes_match_single_process(tmp_path):
    script = tmp_path / "embed_script.py"
    script.write_text(SCRIPT)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(script), str(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]

    shards = [np.load(tmp_path / f"shard{r}.npy") for r in range(2)]
    np.testing.assert_array_equal(np.concatenate(shards), np.arange(N_IMAGES))
    assert min(len(s) for s in shards) > 0

    data = _dataset()
    single_random = embed_dataset(RandomCNNEmbedder(seed=1), data, cache=False, batch_size=4)
    single_clf = embed_dataset(ClassifierEmbedder(epochs=1, width=4, feature_size=8, device="cpu"), data, cache=False)
    for r in range(2):  # every rank holds all features, in dataset order
        np.testing.assert_array_equal(np.load(tmp_path / f"random{r}.npy"), single_random)
        np.testing.assert_array_equal(np.load(tmp_path / f"again{r}.npy"), single_random)
        np.testing.assert_allclose(np.load(tmp_path / f"classifier{r}.npy"), single_clf, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("world", [1, 2, 3, 5])
def test_shards_partition_the_range_in_order(monkeypatch, world):
    n = 11
    monkeypatch.setattr(distributed, "world_size", lambda: world)
    pieces = []
    for r in range(world):
        monkeypatch.setattr(distributed, "rank", lambda r=r: r)
        pieces.append(distributed.shard(n))
    np.testing.assert_array_equal(np.concatenate(pieces), np.arange(n))
    assert max(map(len, pieces)) - min(map(len, pieces)) <= 1


def test_single_process_helpers_are_identities():
    assert not distributed.init_from_env() or distributed.world_size() == 1
    assert distributed.rank() == 0 and distributed.is_main()
    rows = np.arange(6.0).reshape(3, 2)
    assert distributed.gather_rows(rows) is rows
    assert distributed.all_agree(True) and not distributed.all_agree(False)
