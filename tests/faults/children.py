"""Faults injected into a CLI child before it starts: a file-size limit (a full disk), or root without its bypass."""

from __future__ import annotations

import ctypes
import functools
import os
import resource
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from test_cli_errors import curbench

_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None
_PR_CAPBSET_DROP = 24
# The capabilities that let root write into read-only folders and read unreadable ones.
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 1, 2


def file_size_limit(limit: int) -> Callable[[], None]:
    """A preexec_fn: no file can grow past ``limit`` bytes, as on a full disk (writes fail with EFBIG).

    SIGXFSZ is ignored, else the kernel kills the process at the first write past the limit.
    """

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))

    return apply


def _without_permission_bypass() -> None:
    """Root without CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH obeys permission bits like any user.

    Dropped from the bounding set, they are gone from the program this child execs. The child keeps
    uid 0, so it still reads what only root may read here (the interpreter under /root, pytest's
    0700 temporary folders), which user nobody could not.
    """
    for capability in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if _LIBC is None or _LIBC.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


@functools.cache
def _bypass_kept() -> str | None:
    """Why a child started without the bypass can still write into a read-only folder; None when it cannot."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "read-only"
        folder.mkdir(mode=0o555)
        probe = [sys.executable, "-c", f"open({str(folder / 'x')!r}, 'w')"]
        try:
            result = subprocess.run(probe, capture_output=True, timeout=60, preexec_fn=_without_permission_bypass)
        except subprocess.SubprocessError as exc:  # preexec_fn failed: no CAP_SETPCAP, or not Linux
            return f"root cannot give up its permission bypass here ({exc})"
    if result.returncode == 0:
        return "a child of root without CAP_DAC_OVERRIDE still wrote into a read-only folder here"
    return None


def curbench_unprivileged(*args: str) -> subprocess.CompletedProcess:
    """``curbench ARGS`` as a user bound by permission bits: as root, without the capabilities that bypass them.

    Skips the test where root cannot give them up, rather than letting it pass without testing anything.
    """
    if os.geteuid() != 0:
        return curbench(*args)
    reason = _bypass_kept()
    if reason is not None:
        pytest.skip(reason)
    return curbench(*args, preexec_fn=_without_permission_bypass)


def doubled_unless_fatal(item: str) -> str:
    """An executor's work item, run in a worker: "die" kills its own worker process as the OOM killer would."""
    import time

    time.sleep(0.2)  # the other workers are busy when it dies
    if item == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    return item * 2
