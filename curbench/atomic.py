"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from curbench.errors import DiskFullError, InvalidInputError

# A name that may become part of a file name (a component, a metric key, a track): no path, no hidden file.
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
SAFE_NAME_RULE = "letters, digits, '_', '.' or '-', starting with a letter or digit, without '..'"


def is_safe_name(name: object) -> bool:
    """True for a name that is safe as a file name: it matches SAFE_NAME and holds no '..' (nor any separator)."""
    return isinstance(name, str) and SAFE_NAME.fullmatch(name) is not None and ".." not in name


def safe_child(folder: str | os.PathLike[str], name: str, what: str) -> Path:
    """``folder / name``, refused in one line when ``name`` could leave ``folder`` (a separator, '..', a leading dot)."""
    if not is_safe_name(name):
        raise InvalidInputError(f"{what} {name!r} cannot name a file ({SAFE_NAME_RULE}); rename it")
    return Path(folder) / name


# Out of disk space, out of quota, or over the file-size limit: retrying cannot help, the user must make room.
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


# Temporary files are named .<target>.<pid>-<host>.<random>.tmp, so that a later write can tell a killed
# writer's leftovers (its process is gone) from a live writer's file.
_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
_TMP_NAME = re.compile(r"\.(?P<target>.+?)\.(?:(?P<pid>\d+)-(?P<host>[0-9a-f]{8})\.)?[A-Za-z0-9_]{8}\.tmp")
STALE_AFTER_S = 24 * 3600  # a temporary file this old is stale whoever wrote it (another host, a reused pid)
_cleaned: set[Path] = set()
_cleaned_lock = threading.Lock()


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` on success.

    The file gets the permissions the umask gives a new file (mkstemp's are 0600). The temporary file
    never outlives a failure, and the temporary files that killed writers left in the folder are removed
    by the first write into it. A write that fails for want of space raises :class:`DiskFullError`
    naming ``path`` (the temporary name would mean nothing to the user).
    """
    target = Path(path)
    tmp = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(target.parent)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}-{_HOST}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        yield tmp
        if tmp.exists():
            os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, target)
    except OSError as exc:
        if exc.errno in _NO_SPACE and not isinstance(exc, DiskFullError):
            raise DiskFullError(exc.errno, exc.strerror, str(target)) from exc
        raise
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def current_umask() -> int:
    """The process's umask, read without changing it where the system allows (Linux), else by setting it back."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _cleaned_lock:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def remove_stale_temporaries(folder: str | os.PathLike[str], *, force: bool = False) -> list[Path]:
    """Remove the temporary files of atomic writes that were killed (their process is gone, or they are older
    than STALE_AFTER_S); once per folder and process unless ``force``. Returns what it removed."""
    directory = Path(folder)
    with _cleaned_lock:
        if directory in _cleaned and not force:
            return []
        _cleaned.add(directory)
    removed = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return []
    for entry in entries:
        match = _TMP_NAME.fullmatch(entry.name)
        if match is None or not _is_stale(entry, match):
            continue
        try:
            os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            continue  # gone already, or not ours to remove
    return removed


def _is_stale(entry: os.DirEntry[str], match: re.Match[str]) -> bool:
    try:
        if not entry.is_file(follow_symlinks=False):
            return False
        age = time.time() - entry.stat(follow_symlinks=False).st_mtime
    except OSError:
        return False
    if age > STALE_AFTER_S:
        return True
    if match["pid"] is None or match["host"] != _HOST:
        return False  # an older curbench's file, or another machine's: only its age tells
    pid = int(match["pid"])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # alive, under another user
    return False


def check_writable(path: str | os.PathLike[str], what: str, *, folder: bool = False, create: bool = True) -> Path:
    """``path`` when a file (with ``folder``: files in it) can be written there; else one line naming the
    problem, so that a bad output path fails before any work is done.

    With ``create=False`` a missing folder is not created: its nearest existing ancestor must be a writable folder.
    """
    target = Path(path)
    if not folder and target.is_dir():
        raise InvalidInputError(f"{what} {target} is a directory; pass a file path inside it, e.g. {target / 'out.npy'}")
    directory = target if folder else target.parent
    blocker = _file_in_the_way(directory)
    if blocker is not None:
        where = "is an existing file" if blocker == directory else f"lies under {blocker}, which is a file"
        raise InvalidInputError(f"cannot write {what} {target}: {directory} {where}, not a folder; pass a folder path")
    try:
        if create or directory.is_dir():
            probe_folder(directory)
        else:
            ancestor = next(parent for parent in directory.parents if parent.exists())
            os.rmdir(tempfile.mkdtemp(prefix=".curbench-probe.", dir=ancestor))  # a folder could be made there
    except OSError as exc:
        raise InvalidInputError(f"cannot write {what} {target} ({reason(exc)}); pass a path in a writable folder") from None
    return target


def _file_in_the_way(directory: Path) -> Path | None:
    """``directory`` or the ancestor of it that exists as something other than a folder, if any."""
    for candidate in (directory, *directory.parents):
        if candidate.exists():
            return None if candidate.is_dir() else candidate
    return None


def probe_folder(directory: str | os.PathLike[str]) -> None:
    """Create ``directory`` if needed and a file in it; raises OSError where that is not possible."""
    Path(directory).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=directory):
        pass


def reason(exc: OSError) -> str:
    """An OSError in a few words: 'Permission denied: /path'."""
    return f"{exc.strerror}: {exc.filename}" if exc.strerror and exc.filename else str(exc)


def write_bytes(path: str | os.PathLike[str], data: bytes | memoryview) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically, UTF-8 encoded."""
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` to ``path`` atomically as indented, key-sorted JSON (``str()`` of what JSON cannot hold)."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def save_npy(path: str | os.PathLike[str], array: np.ndarray) -> None:
    """Save ``array`` to ``path`` atomically as ``.npy``; object arrays are refused (no pickles)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.save(_WriteOnly(handle), array, allow_pickle=False)


class _WriteOnly:
    """A file numpy sees only through write(), so it writes in chunks: its fast path for real files (tofile) turns
    a full disk into an OSError without errno ('1000 requested and 112 written'), write() keeps the errno."""

    def __init__(self, handle: BinaryIO) -> None:
        self.write = handle.write


def save_npz(path: str | os.PathLike[str], **arrays: np.ndarray) -> None:
    """Save the named ``arrays`` to ``path`` atomically as one uncompressed ``.npz``."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        # Untyped alias: numpy's stubs match **arrays against allow_pickle, and naming allow_pickle instead would
        # save it as an array on numpy < 2.2.
        savez: Any = np.savez
        savez(handle, **arrays)
