"""Executors run independent cells: a local process pool by default, Ray for clusters, or a plugin.

Every executor has the same one-method interface, ``map(fn, items)``, which yields an
:class:`Outcome` per item as it finishes (in any order). A failing item becomes an
outcome carrying its error, so one broken cell never stops the others. Scheduling is
left to existing engines (``concurrent.futures``, Ray); curbench only submits and collects.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.managers import SyncManager
from typing import Any

from curbench.errors import InvalidInputError, PluginError, debug_enabled, failure_line
from curbench.plugins.contracts import Executor, Outcome


def _describe(exc: BaseException) -> str:
    """The failure's line; under --debug its full traceback follows (printed by the sweep, one per failed cell)."""
    line = failure_line(exc, skip=__file__)
    return f"{line}\n{''.join(traceback.format_exception(exc))}" if debug_enabled() else line


def call(fn: Callable[[Any], Any], item: Any) -> tuple[Any, str | None]:
    """``fn(item)`` with any exception turned into a one-line error (runs inside workers)."""
    try:
        return fn(item), None
    except Exception as exc:  # a cell's failure, whatever raised it, must not kill the sweep
        return None, _describe(exc)


class SerialExecutor:
    """Runs items one after another in this process (debugging, tests, a single GPU)."""

    def __init__(self, workers: int | None = None) -> None:
        del workers  # accepted so every executor takes the same arguments
        self.status: dict[str, str] | None = None

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[Outcome]:
        from curbench import progress

        self.status = {}
        progress.attach_status(self.status)  # one display for the sweep, not bars under it
        try:
            for item in items:
                result, error = call(fn, item)
                yield Outcome(item, result, error)
        finally:
            progress.attach_status(None)
            self.status = None


def default_workers() -> int:
    """One worker per GPU when CUDA is present (cells do not share a GPU well), else one per CPU core."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.device_count()
    return os.cpu_count() or 1


PARENT_POLL_S = 1.0  # how often a worker checks that the sweep that started it is still alive


def _die_with_parent(parent: int) -> None:
    """Exit when ``parent`` is gone: a worker must not outlive the sweep that started it (e.g. after the OOM
    killer or a SIGKILL took the parent), or it would keep computing next to a rerun."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="curbench-parent-watch", daemon=True).start()


def _child_of(parent: int) -> None:
    """For the pool's helper processes: Ctrl-C is the parent's to handle (it stops them), and they die with it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(parent)


def _init_worker(threads: int, status: Any, parent: int) -> None:
    """Worker initializer: split the cores between workers instead of oversubscribing them, report progress
    to the parent's display through ``status`` (a managed dict) instead of drawing bars, and die with the parent."""
    import torch
    from threadpoolctl import threadpool_limits

    from curbench import progress

    _child_of(parent)
    torch.set_num_threads(threads)
    threadpool_limits(threads)
    progress.attach_status(status)


class LocalExecutor:
    """A ``concurrent.futures`` process pool on this machine; ``spawn`` start, so CUDA and torch threads are safe."""

    def __init__(self, workers: int | None = None) -> None:
        if workers is not None and workers < 1:
            raise InvalidInputError(f"workers must be at least 1, got {workers}")
        self.workers = workers or default_workers()
        self.status: Any = None  # while mapping: the workers' status lines, shared through a manager

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[Outcome]:
        if not items:
            return
        workers = min(self.workers, len(items))
        threads = max(1, (os.cpu_count() or 1) // workers)
        context = multiprocessing.get_context("spawn")
        manager = SyncManager(ctx=context)
        manager.start(_child_of, (os.getpid(),))
        self.status = manager.dict()
        pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=workers,
            mp_context=context,
            initializer=_init_worker,
            initargs=(threads, self.status, os.getpid()),
        )
        completed = False
        try:
            futures = {pool.submit(call, fn, item): item for item in items}
            for future in concurrent.futures.as_completed(futures):
                try:
                    result, error = future.result()
                except Exception as exc:  # the worker process itself died (e.g. killed for memory)
                    result, error = None, _describe(exc)
                yield Outcome(futures[future], result, error)
            completed = True
        finally:
            if not completed:  # interrupted: stop the running cells instead of waiting for them to finish
                for process in list((pool._processes or {}).values()):
                    process.terminate()
            pool.shutdown(wait=True, cancel_futures=True)
            self.status = None
            manager.shutdown()


class RayExecutor:
    """Ray tasks, one per item: a local Ray instance by default, or a cluster given ``address``.

    ``cpus_per_cell`` / ``gpus_per_cell`` are the resources Ray reserves for each cell.
    """

    def __init__(
        self, workers: int | None = None, address: str | None = None, cpus_per_cell: float = 1, gpus_per_cell: float = 0
    ) -> None:
        try:
            import ray
        except ImportError:
            raise PluginError("the ray executor needs Ray; install it with pip install 'curbench[ray]'") from None
        self.ray = ray
        self.workers = workers
        self.address = address
        self.resources = {"num_cpus": cpus_per_cell, "num_gpus": gpus_per_cell}

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[Outcome]:
        ray = self.ray
        if not ray.is_initialized():
            local = {"num_cpus": self.workers} if self.address is None else {}
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False, **local)
        task = ray.remote(**self.resources)(call)
        pending = {task.remote(fn, item): item for item in items}
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    item = pending.pop(ref)
                    try:
                        result, error = ray.get(ref)
                    except Exception as exc:  # the Ray worker died
                        result, error = None, _describe(exc)
                    yield Outcome(item, result, error)
        finally:
            for ref in pending:
                ray.cancel(ref)


def make_executor(name: str, workers: int | None = None, options: dict[str, Any] | None = None) -> Executor:
    """A registered executor by name (built-ins: local, serial, ray; plugins add more)."""
    from curbench.plugins.registry import default_registry

    return default_registry().create("executor", name, options or {}, workers=workers)
