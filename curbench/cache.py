"""Content-addressed on-disk cache of arrays, verified on every read.

Used for reference statistics, features and trained embedders: anything that is
expensive, reused across cells, and fully determined by a key.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from curbench import atomic

CACHE_ENV = "CURBENCH_CACHE_DIR"
_CHECKSUM_FIELD = "__checksum__"


def cache_root() -> Path:
    """``$CURBENCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/curbench``, else ``~/.cache/curbench``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "curbench"


def array_digest(*arrays: np.ndarray) -> str:
    """A sha256 over dtype, shape and bytes: equal arrays give equal digests."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


def key_digest(**parts: object) -> str:
    """A sha256 of JSON-serialisable key parts, independent of their order."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _checksum(arrays: Mapping[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    for name in sorted(arrays):
        digest.update(name.encode())
        digest.update(array_digest(arrays[name]).encode())
    return digest.hexdigest()


class ArrayCache:
    """Named arrays stored as one ``.npz`` per key under ``root/namespace``.

    A file that fails to open or whose checksum does not match is deleted and
    reported as a miss, so a corrupted entry is rebuilt rather than trusted.
    """

    def __init__(self, namespace: str, root: str | os.PathLike | None = None) -> None:
        self.directory = Path(root or cache_root()) / namespace

    def path(self, key: str) -> Path:
        return self.directory / f"{key}.npz"

    def get(self, key: str) -> dict[str, np.ndarray] | None:
        path = self.path(key)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as stored:
                arrays = {name: stored[name] for name in stored.files}
            expected = str(arrays.pop(_CHECKSUM_FIELD))
            if expected == _checksum(arrays):
                return arrays
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            pass
        path.unlink(missing_ok=True)
        return None

    def put(self, key: str, arrays: Mapping[str, np.ndarray]) -> None:
        arrays = {name: np.asarray(value) for name, value in arrays.items()}
        atomic.save_npz(self.path(key), **arrays, **{_CHECKSUM_FIELD: np.array(_checksum(arrays))})

    def get_or_compute(
        self, key: str, compute: Callable[[], Mapping[str, np.ndarray]]
    ) -> dict[str, np.ndarray]:
        cached = self.get(key)
        if cached is not None:
            return cached
        arrays = {name: np.asarray(value) for name, value in compute().items()}
        self.put(key, arrays)
        return arrays
