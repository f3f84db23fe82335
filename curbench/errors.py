"""User-facing errors: the CLI prints these as one line and exits non-zero (with a traceback under --debug)."""

import os
import sys
import traceback
from pathlib import Path

DEBUG_ENV = "CURBENCH_DEBUG"
# Frames in these packages are never "where it failed": the caller that handed them bad input is.
_LIBRARY_PACKAGES = ("numpy", "torch", "scipy", "sklearn", "pandas", "concurrent", "multiprocessing", "pluggy")


def debug_enabled() -> bool:
    """``--debug`` or ``CURBENCH_DEBUG=1``: print full tracebacks."""
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


class CurbenchError(Exception):
    """An error caused by input the user can fix; its message says what and how."""

    exit_code = 2


class InvalidInputError(CurbenchError):
    """A file, array or option the user passed is missing or malformed."""


class PluginError(CurbenchError):
    """A plugin is unknown, duplicated, or failed to load."""


class MissingWeightsError(CurbenchError):
    """Pretrained weights are not on disk and cannot be downloaded."""


# How a disk-full message begins: a sweep's workers report failures as text, and this one stops the sweep.
DISK_FULL = "disk full"


class DiskFullError(CurbenchError, OSError):
    """A write failed for want of space (disk, quota or file-size limit), made with ``(errno, strerror, path)``.

    Also an OSError, so best-effort writers (the caches) still catch it, warn and go on.
    """

    def __str__(self) -> str:
        return (f"{DISK_FULL}: cannot write {self.filename} ({self.strerror}); free some space there "
                "or choose another output folder (e.g. another --output-dir)")


def failure_line(exc: BaseException, skip: str = "") -> str:
    """One line for a failure: a user error's message, else the exception with the file:line where it was raised.

    The location is the innermost frame outside the standard library and the numeric libraries,
    so a bug in a plugin names the plugin's own file; ``skip`` is the calling wrapper's file.
    """
    text = str(exc).splitlines()[0] if str(exc) else ""
    if isinstance(exc, CurbenchError):
        return text
    return f"{type(exc).__name__}: {text}{_location(exc, skip)}"


def _location(exc: BaseException, skip: str) -> str:
    stdlib = Path(os.__file__).parent
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        path = Path(frame.filename)
        if frame.filename == skip:
            continue
        if path.is_relative_to(stdlib) and "site-packages" not in path.parts:
            continue
        if any(part in _LIBRARY_PACKAGES for part in path.parts):
            continue
        return f" (at {_short(path)}:{frame.lineno} in {frame.name})"
    return ""


def _short(path: Path) -> str:
    """The path from its top-level package on (``curbench_outliers/scorers.py``), else the full path."""
    for entry in sorted((Path(p) for p in sys.path if p), key=lambda p: len(p.parts), reverse=True):
        if path.is_relative_to(entry):
            return str(path.relative_to(entry))
    return str(path)
