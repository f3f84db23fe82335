"""Drift: rerun a few of a track's cells on CPU and compare them with the committed records.

The suite's ``ci_slice`` always reruns; ``sample`` more cells are drawn from the rest of the
suite, deterministically from a rotation key (the git commit in CI), so that over a few
commits every CPU cell is rerun and a hand-edited record is caught.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from curbench.bench.cells import cell_key
from curbench.bench.records import ResultRecord
from curbench.bench.suites import Suite
from curbench.boards.check import track_suite
from curbench.boards.rows import (
    CURVE_METRICS,
    RECORDS_DIR,
    generator_rows,
    group_rows,
    load_records,
    metric_names,
    number,
)
from curbench.cache import CACHE_ENV
from curbench.config import RunConfig
from curbench.errors import InvalidInputError
from curbench.stats import pooled_std

# Drift tolerance = DRIFT_SIGMAS x the pooled seed standard deviation of the metric (see docs/protocol.md).
DRIFT_SIGMAS = 4.0
DRIFT_RELATIVE_FLOOR = 1e-6


def drift_tolerances(records: Sequence[ResultRecord]) -> dict[str, float]:
    """Per metric: DRIFT_SIGMAS x the pooled standard deviation over seeds of the committed rows."""
    rows = generator_rows(group_rows(records))
    return {m: DRIFT_SIGMAS * pooled_std([row.metric_values(m) for row in rows])
            for m in metric_names(rows) if m not in CURVE_METRICS}


def compare_drift(committed: Sequence[ResultRecord], rerun: Sequence[ResultRecord]) -> list[str]:
    """One line per rerun metric that moved past its tolerance, or per rerun cell with no committed record."""
    tolerances = drift_tolerances(committed)
    by_id = {record.cell_id: record for record in committed}
    differences = []
    for record in rerun:
        reference = by_id.get(record.cell_id)
        name = f"cell {record.cell_id} ({record.config['scorer']}, retention {record.config['retention']:g}, seed {record.config['seed']})"
        if reference is None:
            differences.append(f"{name}: no committed record; rerun the sweep with --publish and commit its records")
            continue
        for metric, tolerance in tolerances.items():
            want, have = number(reference.metrics.get(metric)), number(record.metrics.get(metric))
            allowed = max(tolerance if math.isfinite(tolerance) else 0.0, DRIFT_RELATIVE_FLOOR * abs(want))
            if not abs(have - want) <= allowed:
                differences.append(f"{name}: {metric} {have:.6g} drifted from the committed {want:.6g} "
                                   f"(|Δ| {abs(have - want):.3g} > tolerance {allowed:.3g})")
    return differences


def drift_cells(suite: Suite, *, sample: int, rotation: str, **execution: Any) -> list[RunConfig]:
    """The ci_slice's cells plus ``sample`` others of the suite, chosen by ``rotation`` (same rotation, same cells)."""
    from curbench.bench.sweep import expand

    configs = expand(suite, overrides=suite.ci_slice, **execution)
    chosen = {cell_key(c) for c in configs}
    others = sorted((c for c in expand(suite, **execution) if cell_key(c) not in chosen), key=cell_key)
    return configs + random.Random(f"{suite.track}:{rotation}").sample(others, min(sample, len(others)))


def drift(
    root: str | Path, track: str, configs_dir: str | Path = "configs", output_dir: str | Path | None = None,
    *, sample: int = 0, rotation: str = "",
) -> list[str]:
    """Rerun the suite's ``ci_slice`` plus ``sample`` rotating cells on CPU; see :func:`compare_drift`.

    The rerun starts from an empty cache, so the embedders a track trains (the selection ``classifier``, the
    ``lenet`` evaluator) are trained again: the records are reproduced from scratch, not from this machine's cache.
    """
    from curbench.bench.executors import SerialExecutor
    from curbench.bench.sweep import failure_summary, run_sweep

    suite = track_suite(track, configs_dir)
    if suite is None:
        raise InvalidInputError(f"track '{track}' has no suite file {Path(configs_dir) / track}.yaml to rerun")
    committed = load_records(Path(root) / track / RECORDS_DIR)
    with tempfile.TemporaryDirectory(prefix=f"curbench-drift-{track}-") as scratch, _cache_at(Path(scratch) / "cache"):
        execution = {"output_dir": str(output_dir or Path(scratch) / "runs"), "device": "cpu"}
        result = run_sweep(drift_cells(suite, sample=sample, rotation=rotation, **execution), SerialExecutor())
    if result.failures:
        raise failure_summary(result.failures)
    return compare_drift(committed, result.records)


@contextlib.contextmanager
def _cache_at(folder: Path) -> Iterator[None]:
    """Point curbench's cache at ``folder`` for the block (the serial rerun runs in this process)."""
    previous = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(folder)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(CACHE_ENV, None)
        else:
            os.environ[CACHE_ENV] = previous
