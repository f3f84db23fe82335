"""Files curbench writes (issue #24): they follow the umask, the leftovers of a killed write are removed by the
next write into the folder, and a name that is not a safe identifier never becomes a file name."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from curbench import atomic
from curbench.errors import InvalidInputError


@pytest.fixture
def umask():
    """Set the process umask for the test; the previous one comes back after it."""
    previous = os.umask(0o022)
    os.umask(previous)
    yield os.umask
    os.umask(previous)


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_atomic_writes_follow_the_umask(tmp_path, umask, mask, mode):
    umask(mask)
    atomic.write_json(tmp_path / "record.json", {"a": 1})
    atomic.save_npy(tmp_path / "array.npy", np.zeros(3))
    atomic.save_npz(tmp_path / "arrays.npz", a=np.zeros(3))
    for name in ("record.json", "array.npy", "arrays.npz"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode, name
    assert atomic.current_umask() == mask


KILLED_WRITE = """
import os, signal, sys
from curbench import atomic

with atomic.atomic_path(sys.argv[1]) as tmp:
    tmp.write_bytes(b"half a checkpoint")
    os.kill(os.getpid(), signal.SIGKILL)
"""
NEXT_WRITE = """
import sys
from curbench import atomic

atomic.write_text(sys.argv[1], "resumed")
"""


def _python(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True,
                          timeout=120)


def test_a_killed_write_leaves_a_temporary_file_that_the_next_write_removes(tmp_path):
    folder = tmp_path / "cell"
    killed = _python(KILLED_WRITE, str(folder / "checkpoint.pt"))
    assert killed.returncode == -9
    (leftover,) = folder.glob(".checkpoint.pt.*.tmp")
    live = folder / f".result.json.{os.getpid()}-{atomic._HOST}.abcdefgh.tmp"  # this process is alive: its file stays
    live.write_text("being written")
    foreign = folder / ".notes.txt.tmp"  # not an atomic write's name: never touched
    foreign.write_text("someone else's")
    resumed = _python(NEXT_WRITE, str(folder / "result.json"))
    assert resumed.returncode == 0, resumed.stderr
    assert not leftover.exists()
    assert live.exists() and foreign.exists()
    assert (folder / "result.json").read_text() == "resumed" and not (folder / "checkpoint.pt").exists()


def test_old_temporary_files_are_stale_whoever_wrote_them(tmp_path):
    old = tmp_path / ".result.json.k3j4h5g6.tmp"  # an older curbench's name: no pid to ask
    old.write_text("x")
    young = tmp_path / ".table.csv.abcdefgh.tmp"
    young.write_text("y")
    day_ago = old.stat().st_mtime - atomic.STALE_AFTER_S - 60
    os.utime(old, (day_ago, day_ago))
    assert atomic.remove_stale_temporaries(tmp_path, force=True) == [old]
    assert young.exists()


@pytest.mark.parametrize("name", ["../escaped.png", "a/b.png", ".hidden", "x..y", "", "/abs"])
def test_unsafe_names_never_become_file_names(tmp_path, name):
    with pytest.raises(InvalidInputError, match="cannot name a file"):
        atomic.safe_child(tmp_path, name, "the grid file")


def test_safe_names_do(tmp_path):
    assert atomic.safe_child(tmp_path, "typicality_digits_classifier_knn.png", "f") == tmp_path / (
        "typicality_digits_classifier_knn.png")
    assert atomic.is_safe_name("fashion-mnist") and atomic.is_safe_name("kid_std") and atomic.is_safe_name("v1.2")


def test_check_writable_names_a_file_in_the_way(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    with pytest.raises(InvalidInputError, match="is an existing file, not a folder"):
        atomic.check_writable(blocker, "--output-dir", folder=True)
    with pytest.raises(InvalidInputError, match="lies under .*blocker, which is a file"):
        atomic.check_writable(blocker / "sub" / "out.npy", "--out")
    target = tmp_path / "new" / "folder"
    assert atomic.check_writable(target, "--out-dir", folder=True, create=False) == target
    assert not (tmp_path / "new").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["blocker"]
