"""Sweeps: a suite's cells plus their baselines, run through an executor; finished cells are reused.

Expansion adds each cell's full-data and random-subset baselines (same seed) and drops
duplicates by cell id (see :mod:`curbench.bench.cells`).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

from curbench import atomic, progress
from curbench.bench import cells
from curbench.bench.cells import Role, role_of, with_baselines
from curbench.bench.executors import LocalExecutor, default_workers
from curbench.bench.records import RECORD_FILE, ResultRecord, read_record, read_side_file
from curbench.bench.runner import CellRunner
from curbench.bench.suites import Suite, suite_configs
from curbench.cache import check_cache_writable
from curbench.config import RunConfig
from curbench.errors import DISK_FULL, CurbenchError
from curbench.plugins.contracts import Executor, Outcome, ReportsStatus
from curbench.progress import note

DETECTION_FILE = "detection.json"
# The 0/1 groups that mark instances a scorer should rank lowest: injected corruptions, or the least
# typical instances of a dataset whose typicality is known (glyphs).
GROUND_TRUTH_GROUPS = ("corrupted", "atypical")


def expand(
    suite: Suite,
    *,
    overrides: dict[str, Any] | None = None,
    **execution: Any,
) -> list[RunConfig]:
    """Every cell to run: grid x baselines. ``execution`` sets fields left out of the id (output_dir, device, data_root)."""
    return with_baselines([config.replace(**execution) for config in suite_configs(suite, overrides)])


def published_record(config: RunConfig, records_dirs: Sequence[str | Path]) -> ResultRecord | None:
    """The cell's record from the first of ``records_dirs`` (tracks' ``records/`` folders) that holds it."""
    key, cell = cells.cell_key(config), cells.cell_of(config)
    return next((record for directory in records_dirs
                 if (record := read_record(Path(directory) / f"{key}.json", cell)) is not None), None)


def adopt_published(configs: Sequence[RunConfig], records_dirs: Sequence[str | Path]) -> list[RunConfig]:
    """Copy the published records of unfinished ``configs`` into their cell folders; the configs adopted.

    So a sweep resumes from committed records on any machine: a study longer than one machine's session is
    published cell by cell and never reruns a published cell, nor one another track shares (a record is
    read only when it is really the cell's, see :func:`~curbench.bench.records.read_record`).
    """
    adopted = []
    for config in configs:
        if cells.is_finished(config) or (published := published_record(config, records_dirs)) is None:
            continue
        directory = cells.cell_dir(config)
        if "detection" in published.audit:  # what detection_for would otherwise recompute from the scores
            atomic.write_json(directory / DETECTION_FILE, published.audit["detection"])
        atomic.write_json(directory / RECORD_FILE, published.to_dict())
        adopted.append(config)
    return adopted


@functools.cache
def _runner() -> CellRunner:
    """One CellRunner per process: the registry is read once, not per cell."""
    return CellRunner()


def run_cell(config: dict[str, Any]) -> dict[str, Any]:
    """Run one cell (a RunConfig as a dict, picklable for any executor); the record as a dict.

    On datasets with known corruptions, also scores how well the cell's scorer finds
    them and caches that beside the record (see :func:`detection_for`).
    """
    run_config = RunConfig(**config)
    with progress.cell(cell_label(run_config)):
        record = _runner().run(run_config)
        detection = detection_for(run_config)
    if detection is not None:
        record.audit = {**record.audit, "detection": detection}
    return record.to_dict()


def detection_for(config: RunConfig) -> dict[str, float] | None:
    """AUROC / precision@k of the cell's scores at flagging corrupted (or atypical) items, cached in the cell directory.

    None for cells that select nothing (full data, sample-time curation) or whose dataset has none of
    :data:`GROUND_TRUTH_GROUPS`. Where the dataset knows each instance's typicality, also the Spearman
    correlation of the scores with it. Scores are the ones the selection uses (per class when selection is per class).
    """
    from scipy.stats import spearmanr

    from curbench.bench.groundtruth import detection_scores
    from curbench.device import resolve_device

    runner = _runner()
    path = runner.cell_dir(config) / DETECTION_FILE
    stored = read_side_file(path, "detection score file", _is_detection)
    if stored is not None:
        return stored
    if not config.selects_data:
        return None
    dataset = runner.registry.create("dataset", config.dataset, config.dataset_options, root=config.data_root)
    truth = next((name for name in GROUND_TRUTH_GROUPS if name in dataset.groups), None)
    if truth is None:
        return None
    scores = runner.scores(config, dataset, resolve_device(config.device))
    detection = detection_scores(scores, dataset.groups[truth])
    if dataset.typicality is not None:
        detection["typicality_spearman"] = float(spearmanr(scores, dataset.typicality).statistic)
    atomic.write_json(path, detection)
    return detection


def _is_detection(data: Any) -> TypeGuard[dict[str, float]]:
    return isinstance(data, dict) and "auroc" in data and all(isinstance(value, (int, float)) for value in data.values())


class Interrupted(CurbenchError):
    """Ctrl-C during a sweep: not a failure of any cell."""

    exit_code = 130


@dataclass
class SweepResult:
    records: list[ResultRecord]
    failures: list[tuple[RunConfig, str]]
    cached: int
    wall_time_s: float


def cell_label(config: RunConfig) -> str:
    """How progress names a cell: id, scorer, retention (or a curator's options) and seed."""
    key = cells.cell_key(config)
    if config.stage == "sample":
        return progress.cell_name(key, config.scorer, config.seed, options=config.scorer_options)
    return progress.cell_name(key, config.scorer, config.seed, retention=config.retention)


def run_sweep(
    configs: Sequence[RunConfig], executor: Executor, on_record: Callable[[ResultRecord], Any] | None = None
) -> SweepResult:
    """Run every cell through ``executor``; finished cells are read back by the runner, failures are collected.

    ``on_record`` sees each record as its cell finishes (a long sweep publishes as it goes). A full disk is
    not collected: it raises at once, as every cell still to run would fail writing too.
    """
    started = time.perf_counter()
    check_cache_writable()  # here, so an unusable cache is reported once, not by every worker
    cached = sum(cells.is_finished(config) for config in configs)
    payloads = [dataclasses.asdict(config) for config in configs]
    records, failures = [], []
    outcome: Outcome
    try:
        with progress.SweepDisplay(len(payloads), cached, lambda: executor.status if isinstance(executor, ReportsStatus) else None) as display:
            for outcome in executor.map(run_cell, payloads):
                display.finished(cell_label(RunConfig(**outcome.item)), outcome.error)
                if outcome.error is None:
                    records.append(ResultRecord.from_dict(outcome.result))
                    if on_record is not None:
                        on_record(records[-1])
                elif outcome.error.startswith(DISK_FULL):  # every other cell would fail writing too: stop now
                    raise CurbenchError(
                        f"{outcome.error.splitlines()[0]}; {len(records)} of {len(payloads)} cells finished and are "
                        "kept, rerun the same command to resume"
                    )
                else:
                    failures.append((RunConfig(**outcome.item), outcome.error))
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted; {len(records)} of {len(payloads)} cells finished and are kept; "
            "rerun the same command to resume"
        ) from None
    return SweepResult(records, failures, cached, time.perf_counter() - started)


def publish(records: Iterable[ResultRecord], records_dir: str | Path) -> list[Path]:
    """Copy records into a track's ``records/`` folder, one ``<cell_id>.json`` each (commit-ready); the paths
    written. A record that is there already, unchanged, is left alone (a resumed sweep re-reads its cells)."""
    paths = []
    for record in records:
        path, data = Path(records_dir) / f"{record.cell_id}.json", record.to_dict()
        if _holds(path, data):
            continue
        atomic.write_json(path, data)
        paths.append(path)
    return paths


def _holds(path: Path, data: dict[str, Any]) -> bool:
    try:
        return bool(json.loads(path.read_text()) == data)
    except (OSError, ValueError):
        return False


def failure_summary(failures: Sequence[tuple[RunConfig, str]]) -> CurbenchError:
    """A :class:`CurbenchError` to raise for failed cells: how many, and the first one's cell, settings and error."""
    first_config, first_error = failures[0]
    return CurbenchError(
        f"{len(failures)} cell(s) failed, first {cells.cell_key(first_config)} ({first_config.scorer}, "
        f"retention {first_config.retention:g}, seed {first_config.seed}): {first_error}; fix it and rerun "
        "the sweep (finished cells are reused)"
    )


@dataclass(frozen=True)
class CellResults:
    """A run's records by role (method, full, random), and the roles read back from earlier runs."""

    records: dict[Role, ResultRecord]
    reused: frozenset[Role]


def run_with_baselines(config: RunConfig, executor: Executor | None = None) -> CellResults:
    """The method cell plus its baselines.

    Finished cells are read back without starting workers or loading any model; the
    others run in a local process pool by default (they are independent).
    """
    runner = _runner()
    method = runner.finished(config)
    if method is None:
        runner.validate(config)
    configs = with_baselines([config])
    finished = {cells.cell_key(c): runner.finished(c) for c in configs}
    todo = [c for c in configs if finished[cells.cell_key(c)] is None]
    records = [record for record in finished.values() if record is not None]
    note(f"{len(configs)} cells ({len(records)} reused) -> {Path(config.output_dir) / cells.CELLS_DIR}")
    if todo:
        if method is not None:
            runner.validate(config)
        result = run_sweep(todo, executor or LocalExecutor(workers=min(len(todo), default_workers())))
        if result.failures:
            raise failure_summary(result.failures)
        records += result.records
    by_role = {role_of(record.config): record for record in records}
    reused = frozenset(role_of(record.config) for record in finished.values() if record is not None)
    return CellResults({role: by_role[role] for role in (Role.METHOD, Role.FULL, Role.RANDOM) if role in by_role}, reused)
