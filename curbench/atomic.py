"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from curbench.errors import DiskFullError, InvalidInputError

# Out of disk space, out of quota, or over the file-size limit: retrying cannot help, the user must make room.
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` on success.

    The temporary file never outlives a failure; a write that fails for want of space raises
    :class:`DiskFullError` naming ``path`` (the temporary name would mean nothing to the user).
    """
    target = Path(path)
    tmp = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        yield tmp
        os.replace(tmp, target)
    except OSError as exc:
        if exc.errno in _NO_SPACE and not isinstance(exc, DiskFullError):
            raise DiskFullError(exc.errno, exc.strerror, str(target)) from exc
        raise
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def check_writable(path: str | os.PathLike, what: str, *, folder: bool = False) -> Path:
    """``path`` when a file (with ``folder``: files in it) can be written there; else one line naming the
    problem, so that a bad output path fails before any work is done."""
    target = Path(path)
    if not folder and target.is_dir():
        raise InvalidInputError(f"{what} {target} is a directory; pass a file path inside it, e.g. {target / 'out.npy'}")
    try:
        probe_folder(target if folder else target.parent)
    except OSError as exc:
        raise InvalidInputError(f"cannot write {what} {target} ({reason(exc)}); pass a path in a writable folder") from None
    return target


def probe_folder(directory: str | os.PathLike) -> None:
    """Create ``directory`` if needed and a file in it; raises OSError where that is not possible."""
    Path(directory).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=directory):
        pass


def reason(exc: OSError) -> str:
    """An OSError in a few words: 'Permission denied: /path'."""
    return f"{exc.strerror}: {exc.filename}" if exc.strerror and exc.filename else str(exc)


def write_bytes(path: str | os.PathLike, data: bytes | memoryview) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def save_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.save(_WriteOnly(handle), array, allow_pickle=False)


class _WriteOnly:
    """A file numpy sees only through write(), so it writes in chunks: its fast path for real files (tofile) turns
    a full disk into an OSError without errno ('1000 requested and 112 written'), write() keeps the errno."""

    def __init__(self, handle: BinaryIO) -> None:
        self.write = handle.write


def save_npz(path: str | os.PathLike, **arrays: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **arrays)
