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
from concurrent.futures.process import BrokenProcessPool
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
        """Run the items in order in this process, yielding each outcome as soon as its item is done."""
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


_running: Any = None  # in a worker: the managed dict of {worker pid: index of the item it runs}


def _init_worker(threads: int, status: Any, parent: int, running: Any = None) -> None:
    """Worker initializer: split the cores between workers instead of oversubscribing them, report progress
    to the parent's display through ``status`` (a managed dict) instead of drawing bars, and die with the parent.
    ``running`` (a managed dict) learns which item each worker runs, so that a worker that dies fails only its own."""
    global _running
    import torch
    from threadpoolctl import threadpool_limits

    from curbench import progress

    _child_of(parent)
    torch.set_num_threads(threads)
    threadpool_limits(threads)
    progress.attach_status(status)
    _running = running


def _tracked_call(fn: Callable[[Any], Any], item: Any, index: int) -> tuple[Any, str | None]:
    """:func:`call`, with the worker's pid and the item's index noted in the parent's ``running`` dict meanwhile."""
    pid = os.getpid()
    if _running is not None:
        _running[pid] = index
    try:
        return call(fn, item)
    finally:
        if _running is not None:
            _running.pop(pid, None)


def _death(exitcode: int | None) -> str:
    """How a worker process ended, in words: 'killed by SIGKILL (e.g. by the out-of-memory killer)'."""
    if exitcode is None:
        return "ended without an exit status"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = " (e.g. by the out-of-memory killer)" if -exitcode == signal.SIGKILL else ""
        return f"was killed by {name}{hint}"
    return f"exited with status {exitcode}"


class LocalExecutor:
    """A ``concurrent.futures`` process pool on this machine; ``spawn`` start, so CUDA and torch threads are safe.

    A worker process that dies (killed for memory, a crash in native code) fails only the item it was running:
    the pool that broke with it is replaced and the other items go on.
    """

    # Rounds in which the pool broke without telling which item killed it, before the items it ran are failed.
    MAX_UNEXPLAINED_BREAKS = 2

    def __init__(self, workers: int | None = None) -> None:
        if workers is not None and workers < 1:
            raise InvalidInputError(f"workers must be at least 1, got {workers}")
        self.workers = workers or default_workers()
        self.status: Any = None  # while mapping: the workers' status lines, shared through a manager

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[Outcome]:
        """Run the items in a ``spawn`` process pool, yielding outcomes as they finish.

        A dead worker fails only the item it ran; the pool is replaced and the other items go on.
        """
        if not items:
            return
        context = multiprocessing.get_context("spawn")
        manager = SyncManager(ctx=context)
        manager.start(_child_of, (os.getpid(),))
        self.status = manager.dict()
        running = manager.dict()
        remaining = list(range(len(items)))
        strikes: dict[int, int] = {}
        rounds = 0
        try:
            while remaining:
                rounds += 1
                if rounds > (self.MAX_UNEXPLAINED_BREAKS + 1) * len(items) + 1:  # a guard; every round settles some
                    for index in remaining:
                        yield Outcome(items[index], None, "the worker pool kept breaking; rerun the sweep")
                    return
                done: list[int] = []
                try:
                    for index, result, error in self._round(fn, items, remaining, context, running, strikes):
                        done.append(index)
                        yield Outcome(items[index], result, error)
                finally:
                    remaining = [index for index in remaining if index not in set(done)]
        finally:
            self.status = None
            manager.shutdown()

    def _round(
        self, fn: Callable[[Any], Any], items: Sequence[Any], todo: list[int], context: Any, running: Any,
        strikes: dict[int, int],
    ) -> Iterator[tuple[int, Any, str | None]]:
        """Run ``todo`` in one pool; yields (index, result, error) for each item finished or failed. When a worker
        dies, the item it ran fails; the items the broken pool took down with it are left for the next round."""
        workers = min(self.workers, len(todo))
        threads = max(1, (os.cpu_count() or 1) // workers)
        running.clear()
        pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=_init_worker,
            initargs=(threads, self.status, os.getpid(), running),
        )
        completed = False
        processes: dict[int, Any] = {}
        broken: list[int] = []
        try:
            futures = {pool.submit(_tracked_call, fn, items[index], index): index for index in todo}
            processes.update(pool._processes or {})
            for future in concurrent.futures.as_completed(futures):
                index = futures[future]
                try:
                    result, error = future.result()
                except BrokenProcessPool:
                    broken.append(index)
                    continue
                except Exception as exc:  # the call could not reach a worker (e.g. an item that cannot be pickled)
                    result, error = None, _describe(exc)
                yield index, result, error
            completed = True
        finally:
            processes.update(pool._processes or {})
            if not completed:  # interrupted: stop the running cells instead of waiting for them to finish
                for process in list(processes.values()):
                    process.terminate()
            in_flight = dict(running)  # read before shutdown: {pid: index} of the items running when the pool broke
            pool.shutdown(wait=True, cancel_futures=True)
        if broken:
            yield from self._after_break(broken, processes, in_flight, strikes)

    def _after_break(
        self, broken: list[int], processes: dict[int, Any], in_flight: dict[int, int], strikes: dict[int, int]
    ) -> Iterator[tuple[int, Any, str | None]]:
        """Fail the items whose own worker died; the others are run again in a new pool."""
        dead = {}
        for pid, process in processes.items():
            process.join(timeout=5)
            if process.exitcode not in (0, -signal.SIGTERM) and pid in in_flight:  # SIGTERM: the pool ended it
                dead[in_flight[pid]] = process.exitcode
        for index, exitcode in dead.items():
            if index in broken:
                yield index, None, (f"its worker process {_death(exitcode)} while running it; the other cells went "
                                    "on (free memory, or use fewer --workers, and rerun)")
        if dead:
            return
        for index in set(in_flight.values()) & set(broken):  # the pool broke and no dead worker says why
            strikes[index] = strikes.get(index, 0) + 1
            if strikes[index] >= self.MAX_UNEXPLAINED_BREAKS:
                yield index, None, ("its worker process died while running it, twice; the other cells went on "
                                    "(rerun with --executor serial --debug to see why)")
        if not in_flight:  # nothing was running: retrying cannot help forever
            for index in broken:
                strikes[index] = strikes.get(index, 0) + 1
                if strikes[index] > self.MAX_UNEXPLAINED_BREAKS:
                    yield index, None, "the worker pool kept breaking before it could run this cell; rerun the sweep"


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
        """One Ray task per item, outcomes as they finish; without ``address``, a local Ray reaped with the sweep.

        Tasks still pending when the caller stops iterating are cancelled.
        """
        ray = self.ray
        if not ray.is_initialized():
            local = {"num_cpus": self.workers} if self.address is None else {}
            if self.address is None:  # a local instance this sweep starts must not outlive it, even killed
                from curbench.bench import reaper

                reaper.start()
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

    executor: Executor = default_registry().create("executor", name, options or {}, workers=workers)
    return executor
