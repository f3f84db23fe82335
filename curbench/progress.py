"""Progress: bars in a single process, one coherent display for multi-worker sweeps, quiet on request.

In a single process, work shows as tqdm bars on a terminal. Inside sweep workers no bar is
drawn (several processes would overdraw one line); instead every bar and stage writes one
status line per worker into a shared mapping, and the parent renders it (:class:`SweepDisplay`):
a live panel on a terminal, timestamped log lines at a bounded rate otherwise.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")

QUIET_ENV = "CURBENCH_QUIET"
LOG_INTERVAL_S = 30.0  # without a terminal: one status block per interval (plus one line per finished cell)

# Set in sweep workers: where this process reports, and which cell it is running.
_status: MutableMapping[str, str] | None = None
_cell = ""


def quiet() -> bool:
    """True when ``--quiet`` (``CURBENCH_QUIET`` set, and not to 0) silences bars and notes."""
    return os.environ.get(QUIET_ENV, "") not in ("", "0")


def enabled() -> bool:
    """Whether to draw bars: not quiet, and stderr is a terminal."""
    return not quiet() and sys.stderr.isatty()


def set_quiet(quiet: bool) -> None:
    """Silence every progress bar in this process and its children (``--quiet``)."""
    if quiet:
        os.environ[QUIET_ENV] = "1"


def note(message: str) -> None:
    """One line on stderr for the user (e.g. how approximate a search was); silenced by ``--quiet``."""
    if not quiet():
        print(f"curbench: {message}", file=sys.stderr)


# What this process warned about, kept in the environment so the workers it starts do not repeat it.
WARNED_ENV = "CURBENCH_WARNED"


def warn(message: str, key: str | None = None) -> None:
    """One warning line on stderr, at most once per ``key`` (default: the message) in this process and its workers.

    Unlike :func:`note`, ``--quiet`` does not hide it: it reports something the user should fix.
    """
    key = message if key is None else key
    try:
        warned = list(json.loads(os.environ.get(WARNED_ENV) or "[]"))
    except ValueError:
        warned = []
    if key not in warned:
        os.environ[WARNED_ENV] = json.dumps([*warned, key])
        print(f"curbench: warning: {message}", file=sys.stderr, flush=True)


def attach_status(status: MutableMapping[str, str] | None) -> None:
    """Report to ``status`` (a mapping shared with the parent) instead of drawing bars; used by worker initialisers."""
    global _status
    _status = status


def cell_name(key: str, scorer: str, seed: int, *, retention: float | None = None,
              options: Mapping[str, Any] | None = None) -> str:
    """How progress names a cell: ``<id> knn 50% seed 0`` for data-stage selection (``retention``), and
    ``<id> truncation psi 0.5 seed 0`` for sample-time curation, which keeps all the data: its options
    instead of a retention (``sample-time`` when it has none)."""
    if retention is not None:
        return f"{key} {scorer} {retention:g}% seed {seed}"
    shown = ", ".join(f"{name} {value:g}" if isinstance(value, float) else f"{name} {value}"
                      for name, value in sorted((options or {}).items()))
    return f"{key} {scorer} {shown or 'sample-time'} seed {seed}"


@contextmanager
def cell(label: str) -> Iterator[None]:
    """Name the cell this process works on in its status line while the block runs."""
    global _cell
    _cell = label
    stage("starting")
    try:
        yield
    finally:
        _cell = ""
        if _status is not None:
            _status.pop(str(os.getpid()), None)


def stage(text: str) -> None:
    """Say what this worker is doing now (no-op outside sweep workers)."""
    if _status is not None:
        _status[str(os.getpid())] = f"{_cell}: {text}" if _cell else text


class _StatusBar:
    """The parts of tqdm's interface curbench uses, reporting ``desc n/total`` as the worker's stage."""

    def __init__(self, iterable: Iterable[T] | None, total: int | None, desc: str) -> None:
        self.iterable, self.total, self.desc, self.n = iterable, total, desc, 0
        self._postfix = ""
        self._reported = 0.0

    def __iter__(self) -> Iterator[Any]:
        for item in () if self.iterable is None else self.iterable:
            yield item
            self.update(1)

    def __enter__(self) -> _StatusBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, n: int = 1) -> None:
        self.n += n
        if time.monotonic() - self._reported > 0.5:  # the shared mapping is a remote call: keep it rare
            self._report()

    def set_postfix(self, values: dict[str, Any]) -> None:
        self._postfix = ", ".join(f"{k}={v}" for k, v in values.items())

    def close(self) -> None:
        self._report()

    def _report(self) -> None:
        self._reported = time.monotonic()
        total = f"/{self.total}" if self.total else ""
        stage(f"{self.desc} {self.n}{total}" + (f" ({self._postfix})" if self._postfix else ""))


def progress(iterable: Iterable[T] | None = None, *, total: int | None = None, desc: str = "", unit: str = "it") -> Any:
    """A tqdm bar (disabled unless :func:`enabled`); in sweep workers, a status line instead."""
    if _status is not None:
        return _StatusBar(iterable, total if total is not None else _length(iterable), desc)
    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=not enabled(), leave=False, dynamic_ncols=True)


def _length(iterable: Iterable[Any] | None) -> int | None:
    try:
        return len(iterable)  # type: ignore[arg-type]
    except TypeError:
        return None


class SweepDisplay:
    """The parent's view of a sweep: cells done/total (reused, failed) and one line per busy worker.

    On a terminal a rich live panel redraws in place; otherwise timestamped plain lines, one per
    finished cell and a status block at most every ``LOG_INTERVAL_S`` seconds. ``--quiet``: nothing.
    """

    def __init__(self, total: int, reused: int, status: Callable[[], MutableMapping[str, str] | None]) -> None:
        self.total, self.reused, self.status = total, reused, status
        self.done = self.failed = 0
        self._live: Any = None
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    def __enter__(self) -> SweepDisplay:
        if enabled():
            from rich.console import Console
            from rich.live import Live

            self._live = Live(self._render(), console=Console(stderr=True), refresh_per_second=4,
                              get_renderable=self._render, transient=True)
            self._live.__enter__()
        elif not quiet():
            self._heartbeat = threading.Thread(target=self._beat, name="curbench-progress", daemon=True)
            self._heartbeat.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join()
        if self._live is not None:
            self._live.__exit__(None, None, None)

    def finished(self, label: str, error: str | None) -> None:
        """Count a finished cell (failed when ``error`` is set); without the live panel, also log it unless quiet."""
        self.done += 1
        self.failed += error is not None
        if self._live is None and not quiet():
            outcome = f"failed: {error}" if error else "done"
            self._log(f"cell {self.done}/{self.total} {outcome}: {label}")

    def _beat(self) -> None:
        """Without a terminal: the summary and what each worker does, every LOG_INTERVAL_S seconds."""
        while not self._stop.wait(LOG_INTERVAL_S):
            for line in [self.summary(), *self._worker_lines()]:
                self._log(line)

    def summary(self) -> str:
        """The head line: cells finished out of the total, and how many were reused or failed."""
        return f"cells {self.done}/{self.total} finished ({self.reused} reused, {self.failed} failed)"

    def _worker_lines(self) -> list[str]:
        try:
            lines = [str(text) for _, text in sorted(dict(self.status() or {}).items())]
        except (OSError, EOFError):  # the manager process is gone (interrupted): show what we know
            lines = []
        return [f"worker {i}: {line}" for i, line in enumerate(lines, start=1)]

    def _render(self) -> Any:
        from rich.text import Text

        return Text("\n".join([self.summary(), *self._worker_lines()]))

    def _log(self, line: str) -> None:
        print(f"[{datetime.now().strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)
