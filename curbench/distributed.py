"""torch.distributed helpers for sharded work inside one cell (torchrun; gloo on CPU, nccl on GPU).

Every helper degrades to the single-process case when no process group is up,
so callers write one code path.
"""

from __future__ import annotations

import atexit
import contextlib
import os
from datetime import timedelta

import numpy as np
import torch
import torch.distributed as dist

SHUTDOWN_TIMEOUT = timedelta(seconds=30)


def init_from_env() -> bool:
    """Join the process group torchrun describes (WORLD_SIZE > 1); False when not launched that way."""
    if dist.is_available() and dist.is_initialized():
        return True
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or not dist.is_available():
        return False
    use_nccl = torch.cuda.is_available() and dist.is_nccl_available()
    if use_nccl:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend="nccl" if use_nccl else "gloo")
    # Left to interpreter teardown, the backend's threads can abort the process after its work is done.
    atexit.register(shutdown)
    return True


def shutdown() -> None:
    """Leave the process group together: wait (briefly) for every rank, then tear the backend down.

    A rank that tears gloo down while a peer is still talking to it can abort with "terminate called
    without an active exception"; the monitored barrier gives up after SHUTDOWN_TIMEOUT when a peer is gone.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return
    if dist.get_backend() == "gloo" and dist.get_world_size() > 1:
        with contextlib.suppress(RuntimeError):  # a peer already exited or died: leave anyway
            dist.monitored_barrier(timeout=SHUTDOWN_TIMEOUT)
    dist.destroy_process_group()


def is_active() -> bool:
    """True in an initialised process group of more than one rank; the helpers act single-process otherwise."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank; 0 outside a multi-rank process group."""
    return dist.get_rank() if is_active() else 0


def world_size() -> int:
    """The number of ranks; 1 outside a multi-rank process group."""
    return dist.get_world_size() if is_active() else 1


def is_main() -> bool:
    """True on rank 0, and in a single process: the rank that writes shared files."""
    return rank() == 0


def barrier() -> None:
    """Wait for every rank; a no-op in a single process."""
    if is_active():
        dist.barrier()


def shard(n: int) -> np.ndarray:
    """This rank's indices of ``range(n)``: one contiguous block, so rank order is data order."""
    size, r = world_size(), rank()
    return np.arange(r * n // size, (r + 1) * n // size)


def all_agree(flag: bool) -> bool:
    """True only if ``flag`` is true on every rank (e.g. "the cache hit everywhere")."""
    if not is_active():
        return flag
    value = torch.tensor([int(flag)], device=_comm_device())
    dist.all_reduce(value, op=dist.ReduceOp.MIN)
    return bool(value.item())


def gather_rows(local: np.ndarray) -> np.ndarray:
    """Concatenate every rank's rows in rank order; all ranks receive the result.

    With :func:`shard`'s contiguous blocks this restores the original order.
    Blocks may differ in length by one, so they are padded to a common length.
    """
    if not is_active():
        return local
    device = _comm_device()
    lengths = [torch.zeros(1, dtype=torch.int64, device=device) for _ in range(world_size())]
    dist.all_gather(lengths, torch.tensor([len(local)], device=device))
    longest = max(int(n.item()) for n in lengths)
    padded = torch.zeros((longest, *local.shape[1:]), dtype=torch.from_numpy(local[:0]).dtype, device=device)
    padded[: len(local)] = torch.from_numpy(local).to(device)
    blocks = [torch.empty_like(padded) for _ in range(world_size())]
    dist.all_gather(blocks, padded)
    return np.concatenate([b[: int(n.item())].cpu().numpy() for b, n in zip(blocks, lengths, strict=True)])


def _comm_device() -> torch.device:
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")
