"""Benchmark suites: a YAML grid over run settings, expanded into independent, cached cells.

A suite file holds fixed :class:`~curbench.config.RunConfig` fields (same keys as
``curbench run --config``), a ``grid:`` of lists over RunConfig fields, and a few
suite keys (``track``, ``description``, ``gpu``, ``ci_slice``). Expansion adds each
cell's full-data and random-subset baselines (same seed) and drops duplicates by cell id.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from curbench import atomic, progress
from curbench.config import RUN_FIELDS, RunConfig, check_keys, fitted_defaults, load_yaml
from curbench.errors import CurbenchError, InvalidInputError
from curbench.executors import Executor, Outcome
from curbench.records import RECORD_FILE, ResultRecord, cell_id, read_record

SUITE_FIELDS = ("track", "description", "gpu", "grid", "ci_slice")
TRACK_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")  # a folder under leaderboards/, never a path
DETECTION_FILE = "detection.json"
GROUND_TRUTH_GROUP = "corrupted"  # the 0/1 group that datasets with injected corruptions carry

Role = Literal["method", "full", "random"]


@dataclass(frozen=True)
class Suite:
    """A parsed suite file: the grid, the fixed settings, and what the leaderboard needs to know."""

    track: str
    grid: dict[str, list[Any]]
    fixed: dict[str, Any]
    description: str = ""
    gpu: bool = False
    ci_slice: dict[str, Any] = field(default_factory=dict)
    path: str = ""


def load_suite(path: str | Path) -> Suite:
    values = load_yaml(path)
    check_keys(values, SUITE_FIELDS + RUN_FIELDS, str(path))
    grid = values.pop("grid", None) or {}
    if not isinstance(grid, dict):
        raise InvalidInputError(f"'grid' in {path} must map RunConfig fields to lists, e.g. grid: {{seed: [0, 1, 2]}}")
    check_keys(grid, RUN_FIELDS, f"the grid of {path}")
    for key, choices in grid.items():
        if not isinstance(choices, list) or not choices:
            raise InvalidInputError(f"grid entry '{key}' in {path} must be a non-empty list, e.g. {key}: [{choices!r}]")
    ci_slice = values.pop("ci_slice", None) or {}
    check_keys(ci_slice, RUN_FIELDS, f"the ci_slice of {path}")
    track = str(values.pop("track", Path(path).stem))
    if not TRACK_NAME.fullmatch(track):
        raise InvalidInputError(
            f"track name {track!r} in {path} must be letters, digits, '.', '_' or '-' (no path); e.g. track: my-track"
        )
    suite = Suite(
        track=track,
        description=str(values.pop("description", "")),
        gpu=bool(values.pop("gpu", False)),
        grid=grid,
        fixed=values,
        ci_slice=ci_slice,
        path=str(path),
    )
    suite_configs(suite)  # validates every field value now rather than mid-sweep
    return suite


def _product(grid: dict[str, list[Any]]) -> Iterable[dict[str, Any]]:
    keys = list(grid)
    for values in itertools.product(*(grid[key] for key in keys)):
        yield dict(zip(keys, values, strict=True))


def suite_configs(suite: Suite, overrides: dict[str, Any] | None = None) -> list[RunConfig]:
    """The grid's method cells, without baselines; ``overrides`` replace grid lists (list) or fix fields (scalar)."""
    grid = dict(suite.grid)
    fixed = dict(suite.fixed)
    for key, value in (overrides or {}).items():
        if isinstance(value, list):
            grid[key] = value
        else:
            grid.pop(key, None)
            fixed[key] = value
    configs = []
    for choice in _product(grid):
        try:
            configs.append(RunConfig(**fitted_defaults({**fixed, **choice})))
        except TypeError as exc:
            raise InvalidInputError(f"invalid cell in suite {suite.path or suite.track}: {exc}") from None
    return configs


def role_of(config: dict[str, Any] | RunConfig) -> Role:
    """'full' = random scorer keeping everything, 'random' = random subset, else 'method'."""
    cell = config.cell() if isinstance(config, RunConfig) else config
    if cell["scorer"] == "random" and cell["stage"] == "data":
        return "full" if cell["retention"] >= 100 else "random"
    return "method"


def with_baselines(configs: Sequence[RunConfig], is_sample_time: Callable[[RunConfig], bool]) -> list[RunConfig]:
    """Each config followed by its full-data and (for data-stage methods) random baseline, deduplicated by cell id."""
    from curbench.runner import baselines_for

    cells: dict[str, RunConfig] = {}
    for config in configs:
        group = [config]
        if config.baselines:
            baselines = baselines_for(config, sample_time=is_sample_time(config))
            group += [baselines.full] + ([baselines.random] if baselines.random is not None else [])
        for member in group:
            cells.setdefault(cell_id(member.cell()), member)
    return list(cells.values())


def expand(
    suite: Suite,
    *,
    overrides: dict[str, Any] | None = None,
    is_sample_time: Callable[[RunConfig], bool] | None = None,
    **execution: Any,
) -> list[RunConfig]:
    """Every cell to run: grid x baselines. ``execution`` sets fields left out of the hash (output_dir, device)."""
    if is_sample_time is None:
        is_sample_time = _runner().is_sample_time
    configs = [config.replace(**execution) for config in suite_configs(suite, overrides)]
    return with_baselines(configs, is_sample_time)


@functools.cache
def _runner() -> Any:
    """One CellRunner per process: the registry is read once, not per cell."""
    from curbench.runner import CellRunner

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
    """AUROC / precision@k of the cell's scores at flagging corrupted items, cached in the cell directory.

    None for cells that select nothing (full data, sample-time curation) or whose dataset has no
    ``corrupted`` group. Scores are the ones the selection uses (per class when selection is per class).
    """
    from curbench.device import resolve_device
    from curbench.groundtruth import detection_scores

    runner = _runner()
    path = runner.cell_dir(config) / DETECTION_FILE
    if path.is_file():
        return json.loads(path.read_text())
    if config.stage != "data" or config.retention >= 100 or runner.is_sample_time(config):
        return None
    dataset = runner.registry.create("dataset", config.dataset, config.dataset_options, root=config.data_root)
    if GROUND_TRUTH_GROUP not in dataset.groups:
        return None
    scores = runner.scores(config, dataset, resolve_device(config.device))
    detection = detection_scores(scores, dataset.groups[GROUND_TRUTH_GROUP])
    atomic.write_json(path, detection)
    return detection


class Interrupted(CurbenchError):
    """Ctrl-C during a sweep: not a failure of any cell."""

    exit_code = 130


@dataclass
class SweepResult:
    records: list[ResultRecord]
    failures: list[tuple[RunConfig, str]]
    cached: int
    wall_time_s: float


def is_finished(config: RunConfig) -> bool:
    from curbench.runner import CELLS_DIR

    return read_record(Path(config.output_dir) / CELLS_DIR / cell_id(config.cell()) / RECORD_FILE, config.cell()) is not None


def cell_label(config: RunConfig) -> str:
    """How progress names a cell: id, scorer, retention and seed."""
    return f"{cell_id(config.cell())} {config.scorer} {config.retention:g}% seed {config.seed}"


def run_sweep(configs: Sequence[RunConfig], executor: Executor) -> SweepResult:
    """Run every cell through ``executor``; finished cells are read back by the runner, failures are collected."""
    started = time.perf_counter()
    cached = sum(is_finished(config) for config in configs)
    payloads = [dataclasses.asdict(config) for config in configs]
    records, failures = [], []
    outcome: Outcome
    try:
        with progress.SweepDisplay(len(payloads), cached, lambda: getattr(executor, "status", None)) as display:
            for outcome in executor.map(run_cell, payloads):
                display.finished(cell_label(RunConfig(**outcome.item)), outcome.error)
                if outcome.error is None:
                    records.append(ResultRecord.from_dict(outcome.result))
                else:
                    failures.append((RunConfig(**outcome.item), outcome.error))
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted; {len(records)} of {len(payloads)} cells finished and are kept; "
            "rerun the same command to resume"
        ) from None
    return SweepResult(records, failures, cached, time.perf_counter() - started)


def publish(records: Iterable[ResultRecord], records_dir: str | Path) -> list[Path]:
    """Copy records into a track's ``records/`` folder, one ``<cell_id>.json`` each (commit-ready)."""
    paths = []
    for record in records:
        path = Path(records_dir) / f"{record.cell_id}.json"
        atomic.write_json(path, record.to_dict())
        paths.append(path)
    return paths


def failure_summary(failures: Sequence[tuple[RunConfig, str]]) -> CurbenchError:
    first_config, first_error = failures[0]
    return CurbenchError(
        f"{len(failures)} cell(s) failed, first {cell_id(first_config.cell())} ({first_config.scorer}, "
        f"retention {first_config.retention:g}, seed {first_config.seed}): {first_error}; fix it and rerun "
        "the sweep (finished cells are reused)"
    )
