"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from curbench.errors import InvalidInputError


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` on success."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
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


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def save_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.save(handle, array, allow_pickle=False)


def save_npz(path: str | os.PathLike, **arrays: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **arrays)
