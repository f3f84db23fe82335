"""Content-addressed on-disk cache of arrays, verified on every read.

Used for reference statistics, features and trained embedders: anything that is
expensive, reused across cells, and fully determined by a key.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from curbench import atomic
from curbench.progress import warn

CACHE_ENV = "CURBENCH_CACHE_DIR"
_CHECKSUM_FIELD = "__checksum__"


def cache_root() -> Path:
    """``$CURBENCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/curbench``, else ``~/.cache/curbench``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "curbench"


def cache_unusable(exc: OSError) -> None:
    """The cache is best-effort: say once that it cannot be written, and go on without it."""
    warn(f"cannot write the cache in {cache_root()} ({atomic.reason(exc)}); continuing without caching; "
         f"set {CACHE_ENV} to a writable folder", key="cache-unwritable")


def check_cache_writable() -> None:
    """Try the cache once in this process (before starting workers), so a problem is reported once."""
    try:
        atomic.probe_folder(cache_root())
    except OSError as exc:
        cache_unusable(exc)


def array_digest(*arrays: np.ndarray) -> str:
    """A sha256 over dtype, shape and bytes: equal arrays give equal digests."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.data.cast("B"))  # the same view; numpy's stubs type no Buffer on 3.10
    return digest.hexdigest()


def key_digest(**parts: object) -> str:
    """A sha256 of JSON-serialisable key parts, independent of their order."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def arrays_checksum(arrays: Mapping[str, np.ndarray]) -> str:
    """A sha256 over named arrays, in name order: the same arrays under the same names give the same checksum."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        digest.update(name.encode())
        digest.update(array_digest(arrays[name]).encode())
    return digest.hexdigest()


def save_verified(path: str | os.PathLike[str], arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``arrays`` atomically as one ``.npz`` with a checksum of their contents beside them."""
    arrays = {name: np.asarray(value) for name, value in arrays.items()}
    atomic.save_npz(path, **arrays, **{_CHECKSUM_FIELD: np.array(arrays_checksum(arrays))})


def load_verified(path: str | os.PathLike[str]) -> dict[str, np.ndarray] | None:
    """The arrays :func:`save_verified` wrote, or None when the file cannot be read or its checksum does not match."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
        expected = str(arrays.pop(_CHECKSUM_FIELD))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    return arrays if expected == arrays_checksum(arrays) else None


class ArrayCache:
    """Named arrays stored as one ``.npz`` per key under ``root/namespace``.

    A file that fails to open or whose checksum does not match is deleted and
    reported as a miss, so a corrupted entry is rebuilt rather than trusted.
    The cache never fails a run: what cannot be read is recomputed, what cannot be written is skipped.
    """

    def __init__(self, namespace: str, root: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(root or cache_root()) / namespace

    def path(self, key: str) -> Path:
        """Where the entry for ``key`` lives: ``<directory>/<key>.npz``."""
        return self.directory / f"{key}.npz"

    def get(self, key: str) -> dict[str, np.ndarray] | None:
        """The arrays under ``key``, or None on a miss; a corrupt entry is deleted (where possible) and misses."""
        path = self.path(key)
        if not path.exists():
            return None
        if not path.is_file():  # e.g. a directory: it can be neither read nor replaced
            warn(f"cache entry {path} is not a file; recomputing it (delete it to cache this entry again)")
            return None
        arrays = load_verified(path)
        if arrays is not None:
            return arrays
        with contextlib.suppress(OSError):  # a read-only cache keeps the bad entry; it is recomputed on every read
            path.unlink(missing_ok=True)
        return None

    def put(self, key: str, arrays: Mapping[str, np.ndarray]) -> None:
        """Store ``arrays`` under ``key`` atomically with a checksum; an unwritable cache is warned about once."""
        path = self.path(key)
        if path.exists() and not path.is_file():  # get() warned about it already
            return
        try:
            save_verified(path, arrays)
        except OSError as exc:
            cache_unusable(exc)

    def get_or_compute(
        self, key: str, compute: Callable[[], Mapping[str, np.ndarray]]
    ) -> dict[str, np.ndarray]:
        """The arrays cached under ``key``, else ``compute()``'s, stored for next time."""
        cached = self.get(key)
        if cached is not None:
            return cached
        arrays = {name: np.asarray(value) for name, value in compute().items()}
        self.put(key, arrays)
        return arrays
