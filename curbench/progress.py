"""Progress bars that stay quiet when asked to or when stderr is not a terminal."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")

QUIET_ENV = "CURBENCH_QUIET"


def quiet() -> bool:
    return os.environ.get(QUIET_ENV, "") not in ("", "0")


def enabled() -> bool:
    return not quiet() and sys.stderr.isatty()


def set_quiet(quiet: bool) -> None:
    """Silence every progress bar in this process and its children (``--quiet``)."""
    if quiet:
        os.environ[QUIET_ENV] = "1"


def note(message: str) -> None:
    """One line on stderr for the user (e.g. how approximate a search was); silenced by ``--quiet``."""
    if not quiet():
        print(f"curbench: {message}", file=sys.stderr)


def progress(iterable: Iterable[T] | None = None, *, total: int | None = None, desc: str = "", unit: str = "it") -> tqdm:
    """A tqdm bar; disabled unless :func:`enabled`."""
    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=not enabled(), leave=False, dynamic_ncols=True)
