"""Ends a local Ray instance when the sweep that started it dies, even by SIGKILL.

Ray's own processes (GCS server, raylet, its workers) outlive a killed driver for a minute or two. The
reaper, a small process in a session of its own, watches the driver and kills them once it is gone.
Processes are named by (pid, start time), so a reused pid is never killed. Linux only (it reads /proc);
elsewhere :func:`start` does nothing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

PROC = Path("/proc")
POLL_SECONDS = 0.5


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, start time in clock ticks) of a live process, or None."""
    try:
        fields = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), int(fields[19])


def descendants(pid: int) -> dict[int, int]:
    """Every live descendant of ``pid``, as pid -> start time."""
    parents: dict[int, list[tuple[int, int]]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (found := _stat(int(entry.name))) is not None:
            parents.setdefault(found[0], []).append((int(entry.name), found[1]))
    found_all: dict[int, int] = {}
    frontier = [pid]
    while frontier:
        for child, started in parents.get(frontier.pop(), []):
            if child not in found_all:
                found_all[child] = started
                frontier.append(child)
    return found_all


def _same(pid: int, started: int) -> bool:
    found = _stat(pid)
    return found is not None and found[1] == started


def watch(driver: int, driver_started: int, noted: dict[int, int]) -> None:
    """While the driver lives, note its descendants (Ray starts agents after ``ray.init`` returns); once it is
    gone, kill every noted process that is still the same one, and its own descendants."""
    me = os.getpid()
    while _same(driver, driver_started):
        noted.update({pid: started for pid, started in descendants(driver).items() if pid != me})
        time.sleep(POLL_SECONDS)
    doomed = dict(noted)
    for pid, started in noted.items():
        if _same(pid, started):
            doomed.update(descendants(pid))
    for pid, started in doomed.items():
        if _same(pid, started):
            with contextlib.suppress(OSError):  # it ended between the check and the kill
                os.kill(pid, signal.SIGKILL)


def start() -> subprocess.Popen[bytes] | None:
    """Watch this process and what it starts (a local Ray instance); None without /proc."""
    mine = _stat(os.getpid())
    if mine is None:
        return None
    # What runs now is named here, so that a driver killed before the reaper's first look is still covered.
    now = [f"{pid}:{started}" for pid, started in descendants(os.getpid()).items()]
    return subprocess.Popen([sys.executable, "-m", "curbench.bench.reaper", str(os.getpid()), str(mine[1]), *now],
                            start_new_session=True, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


if __name__ == "__main__":
    pairs = (argument.split(":") for argument in sys.argv[3:])
    watch(int(sys.argv[1]), int(sys.argv[2]), {int(pid): int(started) for pid, started in pairs})
