"""Records -> rows: all seeds of one configuration pooled, with the row each is compared against.

Shared by the tables, the capacity analysis, the findings and the drift check.
"""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curbench.bench.cells import (
    GENERATOR_ROLES,
    REFERENCE_ROLES,
    Role,
    baselines_for,
    config_of,
    record_is_sample_time,
    role_of,
)
from curbench.bench.records import ResultRecord
from curbench.config import RUN_FIELDS
from curbench.errors import CurbenchError, InvalidInputError

RECORDS_DIR = "records"
STEPS_TO_FULL_FID = "steps_to_full_fid"
REACHED_FULL_FID = "reached_full_fid"
LATE_FID = "fid_late"  # FID averaged over the last LATE_POINTS evaluations of the training curve
LATE_POINTS = 3
# Derived from the training curve, not measured by a metric plugin: drift calibration skips them.
CURVE_METRICS = (STEPS_TO_FULL_FID, LATE_FID)
_ROLE_ORDER = {Role.FULL: 0, Role.RANDOM: 1, Role.METHOD: 2}
_LEADING_FIELDS = ("retention", "scorer", "scorer_options", "embedder", "embedder_options", "stage")
# Identity fields: which plugin versions produced a record. Shown in provenance, not a row's settings.
_NOT_SETTINGS = ("seed", "plugins", "inputs")


@dataclass
class Row:
    """All seeds of one configuration, and the key of the row it is compared against."""

    key: str
    config: dict[str, Any]
    role: Role
    records: list[ResultRecord]
    baseline_key: str | None
    source_key: str = ""  # reference rows: the generator row they were derived from

    def values(self, get: Callable[[ResultRecord], Any]) -> list[float]:
        """``get`` of each record as a float (NaN where it is not a number)."""
        return [number(get(record)) for record in self.records]

    @property
    def generator_parameters(self) -> int:
        """The generator's parameter count (median over the records; 0 when unrecorded)."""
        counts = [count for r in self.records if (count := r.model.get("generator_parameters"))]
        return int(statistics.median(counts)) if counts else 0

    def metric_values(self, metric: str) -> list[float]:
        """The metric per record (NaN where a record lacks it)."""
        return [number(record.metrics.get(metric)) for record in self.records]

    @property
    def label(self) -> str:
        """The role's display label."""
        return self.role.label


def number(value: Any) -> float:
    """``value`` as a float if it is an int or a float (bools excluded), else NaN: a missing or malformed metric."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else math.nan


def load_records(directory: str | Path) -> list[ResultRecord]:
    """Every ``*.json`` record in ``directory``; a malformed one is an error naming the file."""
    records = []
    for path in sorted(Path(directory).glob("*.json")):
        try:
            records.append(ResultRecord.from_dict(json.loads(path.read_text())))
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInputError(f"record {path} is not a valid result record ({exc}); delete it or rerun its cell") from None
    return records


def settings(config: dict[str, Any]) -> dict[str, Any]:
    """A record's config without the seed and the plugin identity: what a row shows and pools by."""
    return {key: value for key, value in config.items() if key not in _NOT_SETTINGS}


def group_key(config: dict[str, Any]) -> str:
    """Cells that differ only in the seed share a row."""
    return json.dumps(settings(config), sort_keys=True, default=str)


def _baselines(record: ResultRecord) -> Any:
    try:
        return baselines_for(config_of(record.config))
    except (TypeError, CurbenchError):  # a record written by a version with other config fields: compare nothing
        return None


def with_steps_to_full_fid(records: Sequence[ResultRecord]) -> list[ResultRecord]:
    """Records with ``steps_to_full_fid``: the first training-curve step whose FID is at most the final FID
    of the full-data cell of the same seed, and ``reached_full_fid`` (1 or 0). A seed that never gets
    there is censored at one evaluation interval past its last step, so every seed counts in the mean
    and the test (a lower bound for that seed). Absent without a curve or a full-data cell, and for
    sample-time cells, whose curve is the uncurated generator's."""
    final_fid = {(group_key(r.config), r.config["seed"]): r.metrics.get("fid") for r in records if role_of(r.config) is Role.FULL}
    derived = []
    for record in records:
        baselines = _baselines(record) if record.curve and not record_is_sample_time(record) else None
        target = math.nan if baselines is None else number(final_fid.get((group_key(baselines.full.cell()), record.config["seed"])))
        if math.isnan(target):
            derived.append(record)
            continue
        reached = [point["step"] for point in record.curve if number(point.get("fid")) <= target]
        censored = record.curve[-1]["step"] + record.config.get("eval_every", 0)
        steps = float(reached[0] if reached else censored)
        extra = {STEPS_TO_FULL_FID: steps, REACHED_FULL_FID: float(bool(reached))}
        derived.append(dataclasses.replace(
            record, metrics={**record.metrics, **extra}, directions={**record.directions, STEPS_TO_FULL_FID: False}
        ))
    return derived


def steps_to_target(row: Row) -> tuple[list[float], list[bool]]:
    """Per seed, the steps to the full-data FID and whether it was reached (False: censored there); seeds
    without a training curve are left out. Survival data: analyse with Kaplan-Meier and log-rank, never a mean."""
    pairs = [(number(r.metrics.get(STEPS_TO_FULL_FID)), number(r.metrics.get(REACHED_FULL_FID))) for r in row.records]
    kept = [(steps, reached == 1.0) for steps, reached in pairs if math.isfinite(steps)]
    return [steps for steps, _ in kept], [reached for _, reached in kept]


def with_late_fid(records: Sequence[ResultRecord]) -> list[ResultRecord]:
    """Records with ``fid_late``: the mean FID of the last :data:`LATE_POINTS` curve evaluations, which averages
    out the checkpoint-to-checkpoint noise of GAN training. Absent with a shorter curve, and for sample-time
    cells (their curve is the uncurated generator's)."""
    derived = []
    for record in records:
        late = [] if record_is_sample_time(record) else [number(point.get("fid")) for point in record.curve[-LATE_POINTS:]]
        if len(late) < LATE_POINTS or any(math.isnan(value) for value in late):
            derived.append(record)
            continue
        derived.append(dataclasses.replace(
            record, metrics={**record.metrics, LATE_FID: sum(late) / LATE_POINTS},
            directions={**record.directions, LATE_FID: False},
        ))
    return derived


def group_rows(records: Iterable[ResultRecord]) -> list[Row]:
    """Generator rows (one per configuration, seeds pooled) and the reference rows derived from them."""
    grouped: dict[str, list[ResultRecord]] = {}
    for record in with_late_fid(with_steps_to_full_fid(list(records))):
        grouped.setdefault(group_key(record.config), []).append(record)
    rows = []
    for key, members in grouped.items():
        members.sort(key=lambda r: r.config["seed"])
        config = members[0].config
        role = role_of(config)
        baselines = _baselines(members[0]) if role is Role.METHOD else None
        baseline = group_key(baselines.compared_with.cell()) if baselines is not None else None
        rows.append(Row(key, settings(config), role, members, baseline))
        for reference_role in (Role.REAL, Role.KEPT):
            if reference_role is Role.REAL and role is not Role.FULL:
                continue  # a sample-time cell also trains on all data: its ceiling is the full-data row's
            name = reference_role.value
            derived = [dataclasses.replace(r, metrics=r.references[name]) for r in members if name in r.references]
            if derived:
                compared = f"{name}:{baseline}" if baseline is not None else None
                rows.append(Row(f"{name}:{key}", settings(config), reference_role, derived, compared, key))
    return sorted(rows, key=_row_order)


def _row_order(row: Row) -> tuple[Any, ...]:
    """Full data and the real-data ceiling first; then by retention, random before methods, each followed by its kept row."""
    source = role_of(row.config)
    return (source is not Role.FULL, -row.config["retention"], _ROLE_ORDER[source], row.source_key or row.key,
            row.role in REFERENCE_ROLES)


def generator_rows(rows: Sequence[Row]) -> list[Row]:
    """The rows of trained generators (full data, random subset, method), without the reference rows."""
    return [row for row in rows if row.role in GENERATOR_ROLES]


def generator_records(rows: Sequence[Row]) -> list[ResultRecord]:
    """Each record once: the reference rows are derived from the generator rows' records."""
    return [record for row in generator_rows(rows) for record in row.records]


def varying_fields(rows: Sequence[Row]) -> list[str]:
    """Retention, scorer, and the config fields that differ between rows (columns; the rest go in the page header)."""
    fields = list(dict.fromkeys([*_LEADING_FIELDS, *RUN_FIELDS, *(f for r in rows for f in r.config)]))
    return [f for f in fields if f in ("retention", "scorer")
            or len({json.dumps(r.config.get(f), sort_keys=True, default=str) for r in rows}) > 1]


def directions(rows: Sequence[Row]) -> dict[str, bool]:
    """The ranked metrics of the rows' records in the order their plugins declare them: key -> higher is better."""
    found: dict[str, bool] = {}
    for row in rows:
        for record in row.records:
            for key, higher in record.directions.items():
                if higher is not None and key in record.metrics:
                    found.setdefault(key, higher)
    return found


def metric_names(rows: Sequence[Row]) -> list[str]:
    """The ranked metric keys of the rows' records, in declaration order (see :func:`directions`)."""
    return list(directions(rows))
