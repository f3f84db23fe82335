"""Checks on user-supplied arrays and files, each failing with one actionable line."""

from __future__ import annotations

from pathlib import Path
from typing import overload

import numpy as np

from curbench.errors import InvalidInputError


def check_positive_int(value: object, what: str) -> int:
    """``value`` as an int when it is a positive integer (bools excluded), else one clear error."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InvalidInputError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def load_npy(path: str | Path, what: str) -> np.ndarray:
    """Load a ``.npy`` file without unpickling; ``what`` names it in errors."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"{what} file not found: {path} (check the path)")
    try:
        array: np.ndarray = np.load(path, allow_pickle=False)  # a .npy file holds one array
        return array
    except EOFError:  # empty or cut short; left to propagate, the CLI would print only "Aborted."
        raise InvalidInputError(f"{what} file {path} is empty or truncated; save it again with numpy.save") from None
    except (ValueError, OSError) as exc:
        raise InvalidInputError(f"{what} file {path} is not a readable .npy array ({exc}); save it with numpy.save") from None


def check_features(features: np.ndarray, what: str = "features", *, min_rows: int = 1) -> np.ndarray:
    """Return ``features`` as a C-contiguous float array of shape (N, D) with N >= min_rows."""
    array = np.asarray(features)
    if array.dtype.kind not in "fiub":
        raise InvalidInputError(f"{what} must be numeric, got dtype {array.dtype}; pass a float array")
    if array.ndim != 2:
        raise InvalidInputError(f"{what} must be 2-D (N samples x D features), got shape {array.shape}; reshape it")
    if array.shape[0] < min_rows or array.shape[1] == 0:
        raise InvalidInputError(
            f"{what} has shape {array.shape} but needs at least {min_rows} rows and 1 column; pass more samples"
        )
    if array.dtype.kind != "f":
        array = array.astype(np.float64)
    # min and max propagate NaN and inf: two passes with no array-sized temporary (the common case).
    if not (np.isfinite(array.min()) and np.isfinite(array.max())):
        bad = int((~np.isfinite(array)).any(axis=1).sum())
        raise InvalidInputError(f"{what} contains NaN or inf in {bad} row(s); remove or impute them")
    return np.ascontiguousarray(array)


def check_same_dim(real: np.ndarray, fake: np.ndarray) -> None:
    """Raise :class:`InvalidInputError` unless the real and fake (N, D) features have the same D."""
    if real.shape[1] != fake.shape[1]:
        raise InvalidInputError(
            f"real features have {real.shape[1]} dimensions but fake features have {fake.shape[1]}; "
            "embed both with the same embedder"
        )


@overload
def check_labels(labels: None, n: int, what: str = ...) -> None: ...
@overload
def check_labels(labels: np.ndarray, n: int, what: str = ...) -> np.ndarray: ...
@overload
def check_labels(labels: np.ndarray | None, n: int, what: str = ...) -> np.ndarray | None: ...
def check_labels(labels: np.ndarray | None, n: int, what: str = "labels") -> np.ndarray | None:
    """``labels`` as an array if 1-D with ``n`` entries (one per sample), else one clear error; None stays None."""
    if labels is None:
        return None
    array = np.asarray(labels)
    if array.ndim != 1 or array.shape[0] != n:
        raise InvalidInputError(f"{what} must be 1-D with {n} entries (one per sample), got shape {array.shape}")
    return array


def check_images(images: np.ndarray, what: str = "images") -> np.ndarray:
    """Images are uint8 arrays of shape (N, C, H, W) with C in {1, 3}."""
    array = np.asarray(images)
    if array.dtype != np.uint8:
        raise InvalidInputError(f"{what} must be uint8 (0-255), got {array.dtype}; convert with (x*255).astype('uint8')")
    if array.ndim != 4 or array.shape[1] not in (1, 3) or array.shape[0] == 0:
        raise InvalidInputError(
            f"{what} must have shape (N, C, H, W) with C = 1 or 3 and N >= 1, got {array.shape}; transpose NHWC with .transpose(0, 3, 1, 2)"
        )
    return array
