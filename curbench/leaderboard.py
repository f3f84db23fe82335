"""Leaderboards: result records -> Markdown + CSV tables per track, ``--check`` against the committed ones, drift.

A track is a folder ``leaderboards/<track>/`` with one record JSON per cell under
``records/``; its suite is ``configs/<track>.yaml``. Everything else in the folder
is generated from the records by :func:`render_track` and must not be edited by hand.
"""

from __future__ import annotations

import dataclasses
import json
import math
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from curbench import atomic, report
from curbench.capacity import capacity_frame, gain_trend, save_capacity_plot
from curbench.config import RUN_FIELDS, RunConfig
from curbench.errors import InvalidInputError
from curbench.records import ResultRecord, cell_id, is_sample_time
from curbench.report import METRIC_COLUMNS
from curbench.rows import Row, number
from curbench.stats import ALPHA, CONFIDENCE, Interval, indistinguishable, mean_ci, pooled_std, welch_p
from curbench.sweep import Suite, load_suite, role_of
from curbench.tables import format_cell, to_markdown

RECORDS_DIR = "records"
PAGE_FILE = "leaderboard.md"
TABLE_FILE = "leaderboard.csv"
AUDIT_FILE = "audit.csv"
TRAINING_FILE = "training_curve.csv"
CURVES_DIR = "curves"
README_TRACK = "digits"
README_RETENTION = 50.0  # the README shows this retention (and full data); the track page shows every one
STEPS_TO_FULL_FID = "steps_to_full_fid"
REACHED_FULL_FID = "reached_full_fid"
BOARD_METRICS = (*METRIC_COLUMNS, STEPS_TO_FULL_FID)
LOWER_IS_BETTER = frozenset({"fid", "kid", STEPS_TO_FULL_FID})
ROLE_LABELS = {**report.ROLE_LABELS, "real": "real data (split half)", "kept": "kept data, no generator"}
GENERATOR_ROLES = frozenset({"full", "random", "method"})
# Reference rows derived from each record's `references` (see curbench.references), by role.
REFERENCE_ROLES = {"real": "real", "kept": "kept"}
_ROLE_ORDER = {"full": 0, "random": 1, "method": 2}
DETECTION_COLUMNS = ("auroc", "precision_at_k")
AUDIT_QUANTITIES = ("retention", "recall", "coverage")
# Drift tolerance = DRIFT_SIGMAS x the pooled seed standard deviation of the metric (see docs/protocol.md).
DRIFT_SIGMAS = 4.0
DRIFT_RELATIVE_FLOOR = 1e-6
_LEADING_FIELDS = ("retention", "scorer", "scorer_options", "embedder", "embedder_options", "stage")


# ---------------------------------------------------------------- records -> rows


def load_records(directory: str | Path) -> list[ResultRecord]:
    """Every ``*.json`` record in ``directory``; a malformed one is an error naming the file."""
    records = []
    for path in sorted(Path(directory).glob("*.json")):
        try:
            records.append(ResultRecord.from_dict(json.loads(path.read_text())))
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInputError(f"record {path} is not a valid result record ({exc}); delete it or rerun its cell") from None
    return records


def _without_seed(config: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in config.items() if key != "seed"}


def group_key(config: dict[str, Any]) -> str:
    """Cells that differ only in the seed share a row."""
    return json.dumps(_without_seed(config), sort_keys=True, default=str)


def _baseline_key(config: dict[str, Any], sample_time: bool) -> str | None:
    """Random subset at the same retention; the full-data cell for sample-time curation (runner.baselines_for)."""
    from curbench.runner import baselines_for

    try:
        baselines = baselines_for(RunConfig(**config), sample_time=sample_time)
    except TypeError:  # a record written by a version with other config fields: compare nothing
        return None
    target = baselines.random or baselines.full
    return group_key(target.cell())


def with_steps_to_full_fid(records: Sequence[ResultRecord]) -> list[ResultRecord]:
    """Records with ``steps_to_full_fid``: the first training-curve step whose FID is at most the final FID
    of the full-data cell of the same seed, and ``reached_full_fid`` (1 or 0). A seed that never gets
    there is censored at one evaluation interval past its last step, so every seed counts in the mean
    and the test (a lower bound for that seed). Absent without a curve or a full-data cell."""
    from curbench.runner import baselines_for

    final_fid = {(group_key(r.config), r.config["seed"]): r.metrics.get("fid") for r in records if role_of(r.config) == "full"}
    derived = []
    for record in records:
        if not record.curve:
            derived.append(record)
            continue
        try:
            full = baselines_for(RunConfig(**record.config), sample_time=is_sample_time(record)).full
        except TypeError:  # a record written by a version with other config fields
            derived.append(record)
            continue
        target = number(final_fid.get((group_key(full.cell()), record.config["seed"])))
        if math.isnan(target):
            derived.append(record)
            continue
        reached = [point["step"] for point in record.curve if number(point.get("fid")) <= target]
        censored = record.curve[-1]["step"] + record.config.get("eval_every", 0)
        steps = float(reached[0] if reached else censored)
        extra = {STEPS_TO_FULL_FID: steps, REACHED_FULL_FID: float(bool(reached))}
        derived.append(dataclasses.replace(record, metrics={**record.metrics, **extra}))
    return derived


def group_rows(records: Iterable[ResultRecord]) -> list[Row]:
    """Generator rows (one per configuration, seeds pooled) and the reference rows derived from them."""
    grouped: dict[str, list[ResultRecord]] = {}
    for record in with_steps_to_full_fid(list(records)):
        grouped.setdefault(group_key(record.config), []).append(record)
    rows = []
    for key, members in grouped.items():
        members.sort(key=lambda r: r.config["seed"])
        config = members[0].config
        role = role_of(config)
        baseline = _baseline_key(config, is_sample_time(members[0])) if role == "method" else None
        rows.append(Row(key, _without_seed(config), role, members, baseline))
        for name, reference_role in REFERENCE_ROLES.items():
            derived = [dataclasses.replace(r, metrics=r.references[name]) for r in members if name in r.references]
            if derived:
                compared = f"{name}:{baseline}" if baseline is not None else None
                rows.append(Row(f"{name}:{key}", _without_seed(config), reference_role, derived, compared, key))
    return sorted(rows, key=_row_order)


def _row_order(row: Row) -> tuple:
    """Full data and the real-data ceiling first; then by retention, random before methods, each followed by its kept row."""
    source = role_of(row.config)
    return (source != "full", -row.config["retention"], _ROLE_ORDER[source], row.source_key or row.key, row.role in REFERENCE_ROLES)


def generator_rows(rows: Sequence[Row]) -> list[Row]:
    return [row for row in rows if row.role in GENERATOR_ROLES]


def varying_fields(rows: Sequence[Row]) -> list[str]:
    """Retention, scorer, and the config fields that differ between rows (columns; the rest go in the page header)."""
    fields = list(dict.fromkeys([*_LEADING_FIELDS, *RUN_FIELDS, *(f for r in rows for f in r.config)]))
    return [f for f in fields if f in ("retention", "scorer")
            or len({json.dumps(r.config.get(f), sort_keys=True, default=str) for r in rows}) > 1]


def _raw(value: Any) -> Any:
    """A CSV cell: scalars as they are, options as JSON."""
    return json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else value


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in sorted(value.items())) or "—"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "—" if value is None else str(value)


def _span(values: Iterable[Any]) -> str:
    numbers = sorted({int(v) for v in values if isinstance(v, int | float) and math.isfinite(v)})
    if not numbers:
        return "—"
    return str(numbers[0]) if len(numbers) == 1 else f"{numbers[0]}–{numbers[-1]}"


# ---------------------------------------------------------------- statistics per row


def _metric_names(rows: Sequence[Row]) -> list[str]:
    present = {name for row in rows for record in row.records for name in record.metrics}
    return [name for name in BOARD_METRICS if name in present]


def _verdict(metric: str, method: Sequence[float], baseline: Sequence[float]) -> tuple[float, str]:
    """Welch p-value against the baseline and a mark: ≈ indistinguishable, ▲ better, ▼ worse, '' untestable."""
    p_value = welch_p(method, baseline)
    same = indistinguishable(p_value)
    if same is None:
        return p_value, ""
    if same:
        return p_value, "≈"
    better = mean_ci(method).mean < mean_ci(baseline).mean
    return p_value, "▲" if better == (metric in LOWER_IS_BETTER) else "▼"


def _detection(record: ResultRecord, name: str) -> float:
    return number(record.audit.get("detection", {}).get(name))


def _corrupted_kept(record: ResultRecord) -> float:
    return number(record.selection.retention_by_group.get("corrupted", {}).get("1"))


def _pm(interval: Interval) -> str:
    if interval.n == 0:
        return "—"
    if interval.n == 1:
        return f"{format_cell(interval.mean)} (1 seed)"
    return f"{format_cell(interval.mean)} ± {format_cell(interval.half_width)}"


def _title(metric: str) -> str:
    name = {"fid": "FID", "kid": "KID", STEPS_TO_FULL_FID: "steps to full-data FID"}.get(metric, metric)
    return f"{name} {'↓' if metric in LOWER_IS_BETTER else '↑'}"


def results_frames(rows: Sequence[Row]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(Markdown frame of formatted strings, CSV frame of numbers): one line per row of the leaderboard."""
    by_key = {row.key: row for row in rows}
    fields = varying_fields(rows)
    metrics = _metric_names(rows)
    has_detection = any("detection" in r.audit for row in rows for r in row.records)
    has_corrupted = any(not math.isnan(v) for row in rows for v in row.values(_corrupted_kept))
    shown, numbers = [], []
    for row in rows:
        baseline = by_key.get(row.baseline_key or "")
        label = {"row": ROLE_LABELS[row.role]}
        md = {**label, **{f: _show(row.config.get(f)) for f in fields}}
        csv = {**label, **{f: _raw(row.config.get(f)) for f in fields}}
        counts = {
            "n_kept": _span(r.selection.n_kept for r in row.records),
            "n_total": _span(r.selection.n_total for r in row.records),
            "n_real": _span(r.metrics.get("n_real", r.selection.n_total) for r in row.records),
            "n_fake": _span(r.metrics.get("n_fake") for r in row.records),
        }
        md["kept"] = "—" if row.role == "real" else f"{counts['n_kept']}/{counts['n_total']}"
        md["samples real/fake"] = f"{counts['n_real']}/{counts['n_fake']}"
        md["seeds"] = str(len(row.records))
        csv.update(counts, seeds=len(row.records), compared_with=ROLE_LABELS[baseline.role] if baseline else "")
        for metric in metrics:
            values = row.values(lambda r, m=metric: r.metrics.get(m))
            interval = mean_ci(values)
            p_value, mark = _verdict(metric, values, baseline.values(lambda r, m=metric: r.metrics.get(m))) if baseline else (math.nan, "")
            text = _pm(interval)
            if metric == STEPS_TO_FULL_FID and row.role in GENERATOR_ROLES:
                reached = int(sum(v for v in row.values(lambda r: r.metrics.get(REACHED_FULL_FID)) if v == v))
                text += f" ({reached}/{len(values)} reached)" if reached < interval.n else ""
            md[_title(metric)] = f"{text} {mark}".strip()
            csv.update({f"{metric}_mean": interval.mean, f"{metric}_ci95": interval.half_width,
                        f"{metric}_std": interval.std, f"{metric}_p_vs_baseline": p_value, f"{metric}_mark": mark})
        if has_detection:
            for name, title in zip(DETECTION_COLUMNS, ("AUROC ↑", "precision@k ↑"), strict=True):
                interval = mean_ci(row.values(lambda r, n=name: _detection(r, n)))
                md[title] = _pm(interval)
                csv.update({f"{name}_mean": interval.mean, f"{name}_ci95": interval.half_width})
            md["k of P@k"] = csv["k_detection"] = _span(_detection(r, "k") for r in row.records)
        if has_corrupted:
            interval = mean_ci(row.values(_corrupted_kept))
            md["corrupted kept ↓"] = _pm(interval)
            csv.update(corrupted_kept_mean=interval.mean, corrupted_kept_ci95=interval.half_width)
        shown.append(md)
        numbers.append(csv)
    return pd.DataFrame(shown), pd.DataFrame(numbers)


def _groupings(rows: Sequence[Row]) -> list[str]:
    names = {g for row in rows for r in row.records for g in r.selection.retention_by_group}
    names |= {g for row in rows for r in row.records for g in r.audit.get("max_disparity", {})}
    return sorted(names)


def _disparity(record: ResultRecord, grouping: str, quantity: str) -> Any:
    return record.audit.get("max_disparity", {}).get(grouping, {}).get(quantity)


def _per_group(record: ResultRecord, grouping: str, quantity: str) -> dict[str, float]:
    if quantity == "retention":
        return record.selection.retention_by_group.get(grouping, {})
    groups = record.audit.get("per_group", {}).get(grouping, {})
    return {group: values.get(quantity) for group, values in groups.items()}


def audit_tables(rows: Sequence[Row]) -> tuple[list[tuple[str, pd.DataFrame]], pd.DataFrame]:
    """Markdown sections (title, frame) per grouping, and one long CSV frame of every per-group number."""
    fields = varying_fields(rows)
    sections, long_rows = [], []
    for grouping in _groupings(rows):
        gaps = []
        for row in rows:
            line = {"row": ROLE_LABELS[row.role], **{f: _show(row.config.get(f)) for f in fields}}
            for quantity in AUDIT_QUANTITIES:
                interval = mean_ci(row.values(lambda r, g=grouping, q=quantity: _disparity(r, g, q)))
                line[f"{quantity} gap"] = _pm(interval)
                long_rows.append(_long(row, fields, grouping, "max_disparity", quantity, interval))
            gaps.append(line)
        sections.append((f"Largest disparity across `{grouping}` groups (max − min over groups)", pd.DataFrame(gaps)))
        for quantity in AUDIT_QUANTITIES:
            groups = sorted({g for row in rows for r in row.records for g in _per_group(r, grouping, quantity)}, key=_natural)
            if not groups:
                continue
            wide = []
            for row in rows:
                line = {"row": ROLE_LABELS[row.role], **{f: _show(row.config.get(f)) for f in fields}}
                for group in groups:
                    interval = mean_ci(row.values(lambda r, gr=grouping, g=group, q=quantity: _per_group(r, gr, q).get(g)))
                    line[group] = format_cell(interval.mean, 3)
                    long_rows.append(_long(row, fields, grouping, group, quantity, interval))
                wide.append(line)
            sections.append((f"Per-group {quantity} by `{grouping}` (mean over seeds)", pd.DataFrame(wide)))
    return sections, pd.DataFrame(long_rows)


def _long(row: Row, fields: list[str], grouping: str, group: str, quantity: str, interval: Interval) -> dict[str, Any]:
    return {"row": ROLE_LABELS[row.role], **{f: _raw(row.config.get(f)) for f in fields},
            "grouping": grouping, "group": group, "quantity": quantity,
            "mean": interval.mean, "ci95": interval.half_width, "seeds": interval.n}


def _natural(text: str) -> tuple[int, Any]:
    return (0, int(text)) if text.lstrip("-").isdigit() else (1, text)


# ---------------------------------------------------------------- pages


LEGEND = (
    f"Values are the mean ± the half-width of the {CONFIDENCE:.0%} confidence interval over seeds "
    "(Student t with n − 1 degrees of freedom). Marks compare a method with the random subset at the same "
    "retention (with the full-data row for sample-time curation) by Welch's two-sided t-test at "
    f"α = {ALPHA}: **≈** not distinguishable (p ≥ {ALPHA}), **▲** significantly better, **▼** significantly worse. "
    "↓ lower is better, ↑ higher is better. `kept` = training instances kept / dataset size; "
    "`samples real/fake` = reference (full dataset) and generated samples per metric evaluation. "
    + report.KID_NOTE
)

SUBMIT_GPU = """\
To submit a GPU result (e.g. the `cifar10` track): put the dataset under a local root, then

```bash
curbench sweep --config configs/cifar10.yaml --data-root /path/to/data --publish
curbench leaderboard --track cifar10
```

and open a pull request with `leaderboards/cifar10/` (one record JSON per cell, with versions, git
commit, device and wall time, plus the regenerated tables). CI runs `curbench leaderboard --check`, which
fails if the tables do not match the records. Never edit tables or records by hand.
"""


def _header(track: str, suite: Suite | None, rows: Sequence[Row]) -> list[str]:
    lines = [f"# `{track}` leaderboard", ""]
    if suite is not None and suite.description:
        lines += [suite.description.strip(), ""]
    source = f" (suite `configs/{track}.yaml`)" if suite is not None else ""
    n = sum(len(r.records) for r in generator_rows(rows))
    lines += [f"Generated by `curbench leaderboard` from {n} records in `{RECORDS_DIR}/`{source}; do not edit by hand.", ""]
    lines += spaces_lines(rows)
    varying = set(varying_fields(rows))
    fixed = [f"{f} `{_show(rows[0].config.get(f))}`" for f in rows[0].config if f not in varying and rows[0].config.get(f) not in (None, {})] if rows else []
    if fixed:
        lines += ["**Fixed settings:** " + " · ".join(fixed), ""]
    return lines


def _space_text(records: Sequence[ResultRecord], which: str) -> str:
    names = sorted({r.spaces[which]["embedder"] for r in records if which in r.spaces})
    parts = []
    for name in names:
        accuracy = mean_ci([r.spaces[which].get("heldout_accuracy", math.nan) for r in records
                            if r.spaces.get(which, {}).get("embedder") == name])
        parts.append(f"`{name}`" + (f" (held-out accuracy {accuracy.mean:.1%})" if accuracy.n else ""))
    return ", ".join(parts)


def spaces_lines(rows: Sequence[Row]) -> list[str]:
    """Which feature space selected and which one measured, stated on every board."""
    records = [r for row in rows for r in row.records]
    selection, evaluation = _space_text(records, "selection"), _space_text(records, "evaluation")
    if not evaluation:
        return []
    text = f"**Feature spaces:** selection in {selection or '— (no cell selects)'} · metrics in {evaluation}."
    shared = {r.config["embedder"] for r in records if "selection" in r.spaces} & {r.config["eval_embedder"] for r in records}
    if shared:
        text += f" ⚠ `{'`, `'.join(sorted(shared))}` serves for both, so the metrics see the space the scorers selected in."
    return [text, ""]


def _training_curves(rows: Sequence[Row]) -> dict[str, list[list[dict[str, float]]]]:
    """Per-seed training curves of the full-data row and of the generator rows at retention 50 (or the lowest)."""
    with_curves = [row for row in generator_rows(rows) if any(r.curve for r in row.records)]
    if not with_curves:
        return {}
    retentions = sorted({row.config["retention"] for row in with_curves if row.role != "full"})
    shown = 50.0 if 50.0 in retentions else (retentions[0] if retentions else None)
    fields = [f for f in varying_fields(with_curves) if f != "retention"]
    curves = {}
    for row in with_curves:
        if row.role == "full" or row.config["retention"] == shown:
            label = " · ".join([ROLE_LABELS[row.role], *(_show(row.config.get(f)) for f in fields if row.role == "method" or f != "scorer")])
            curves.setdefault(label, []).extend(r.curve for r in row.records if r.curve)
    return curves


def render_track(track: str, records: Sequence[ResultRecord], suite: Suite | None) -> dict[str, str]:
    """The generated files of a track (relative name -> text)."""
    rows = group_rows(records)
    lines = _header(track, suite, rows)
    if not rows:
        needs = "It needs a GPU; " if suite is not None and suite.gpu else ""
        lines += [f"**Not run yet.** {needs}no results have been recorded for this track.", "", SUBMIT_GPU]
        empty = pd.DataFrame(columns=["row", "retention", "scorer", "seeds"])
        return {PAGE_FILE: "\n".join(lines), TABLE_FILE: empty.to_csv(index=False), AUDIT_FILE: empty.to_csv(index=False)}
    shown, numbers = results_frames(rows)
    sections, audit_long = audit_tables(generator_rows(rows))
    lines += ["## Results", "", LEGEND, "", to_markdown(shown)]
    if sections:
        lines += ["## Bias audit", "", "Which instances curation removed, per group, and how well the generated samples "
                  "recall and cover each group of the real data (`audit.csv` has the intervals).", ""]
        for title, frame in sections:
            lines += [f"### {title}", "", to_markdown(frame)]
    if any(row.role == "method" for row in rows):
        lines += ["## Retention curves", "", " ".join(f"![{m}]({CURVES_DIR}/{m}.png)" for m in _metric_names(rows)), ""]
    files = {
        TABLE_FILE: numbers.to_csv(index=False, float_format="%.6g"),
        AUDIT_FILE: audit_long.to_csv(index=False, float_format="%.6g"),
    }
    capacity = capacity_frame(generator_rows(rows))
    if not capacity.empty:
        lines += ["## Capacity", "",
                  "Does selection's FID gain over full data grow as the generator shrinks? Gain = FID(full data) − "
                  "FID(row) with the same generator and seed, mean ± 95% CI over seeds; the mark is Welch's test of "
                  "the row's FIDs against the full-data FIDs (▲ significantly better than full data).", "",
                  to_markdown(capacity[["method", "retention", "generator_parameters", "gain", "seeds"]]), "",
                  *[f"- {trend.text}: {'grows' if trend.grows else 'does not grow significantly'} as capacity shrinks."
                    for trend in gain_trend(generator_rows(rows))], "",
                  f"![capacity]({CURVES_DIR}/capacity.png)", ""]
    training = _training_curves(rows)
    if training:
        from curbench.curves import TRAINING_METRICS, training_curve_frame

        lines += ["## Training curves", "",
                  f"Metrics of the EMA generator every `eval_every` training steps, mean ± 95% CI over seeds "
                  f"(`{TRAINING_FILE}` has the numbers).", "",
                  " ".join(f"![{m}]({CURVES_DIR}/training-{m}.png)" for m in TRAINING_METRICS), ""]
        files[TRAINING_FILE] = training_curve_frame(training).to_csv(index=False, float_format="%.6g")
    return {PAGE_FILE: "\n".join(lines), **files}


def readme_section(track: str, records: Sequence[ResultRecord]) -> str:
    """What goes between the README markers: the track's results table, and how to submit a GPU result."""
    rows = group_rows(records)
    if any(row.config["retention"] == README_RETENTION for row in rows):
        rows = [row for row in rows if row.config["retention"] in (100.0, README_RETENTION)]
    lines = [f"Generated by `curbench leaderboard` from `leaderboards/{track}/{RECORDS_DIR}/` (the rows at retention "
             f"{README_RETENTION:g}; every retention, the curves and the bias audit are on the full page: "
             f"[`leaderboards/{track}/{PAGE_FILE}`](leaderboards/{track}/{PAGE_FILE})).", ""]
    if rows:
        lines += [*spaces_lines(rows), LEGEND, "", to_markdown(results_frames(rows)[0])]
    else:
        lines += ["**Not run yet.**", ""]
    lines += ["**Submitting a GPU result.** " + SUBMIT_GPU]
    return "\n".join(lines)


def _markers(track: str) -> tuple[str, str]:
    return f"<!-- leaderboard:{track}:start -->", f"<!-- leaderboard:{track}:end -->"


def with_readme_section(readme: str, track: str, section: str) -> str | None:
    """``readme`` with the text between the track's markers replaced; None when the markers are absent."""
    start, end = _markers(track)
    head, found, rest = readme.partition(start)
    if not found or end not in rest:
        return None
    _, _, tail = rest.partition(end)
    return f"{head}{start}\n{section.rstrip()}\n{end}{tail}"


# ---------------------------------------------------------------- tracks on disk


def tracks(root: str | Path) -> list[str]:
    return sorted(p.parent.name for p in Path(root).glob(f"*/{RECORDS_DIR}") if p.is_dir())


def track_suite(track: str, configs_dir: str | Path) -> Suite | None:
    path = Path(configs_dir) / f"{track}.yaml"
    return load_suite(path) if path.is_file() else None


def record_problems(directory: str | Path) -> list[str]:
    """Records whose file name or cell id does not match the hash of their config (edited or misplaced)."""
    problems = []
    for path in sorted(Path(directory).glob("*.json")):
        record = ResultRecord.from_dict(json.loads(path.read_text()))
        expected = cell_id(record.config)
        if record.cell_id != expected or path.stem != expected:
            problems.append(f"{path}: cell id {record.cell_id} / file name do not match its config hash {expected}; "
                            "records must not be edited by hand")
        broken = sorted(name for name, value in record.metrics.items()
                        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value))
        if not record.metrics or broken:
            what = f"non-numeric or non-finite metrics ({', '.join(broken)})" if broken else "no metrics"
            problems.append(f"{path}: {what}; rerun the cell instead of editing its record")
    return problems


def generated_files(root: str | Path, track: str, configs_dir: str | Path = "configs") -> dict[Path, str]:
    directory = Path(root) / track
    records = load_records(directory / RECORDS_DIR)
    files = render_track(track, records, track_suite(track, configs_dir))
    return {directory / name: text for name, text in files.items()}


def write_track(root: str | Path, track: str, configs_dir: str | Path = "configs") -> list[Path]:
    """Regenerate a track's tables and curves from its records."""
    records = load_records(Path(root) / track / RECORDS_DIR)
    return write_board(Path(root) / track, track, records, track_suite(track, configs_dir))


def write_board(directory: str | Path, track: str, records: Sequence[ResultRecord], suite: Suite | None) -> list[Path]:
    """Write a board (page, CSV tables, curves) for ``records`` into ``directory``; returns the paths."""
    from curbench.curves import save_retention_curves, save_training_curves

    directory = Path(directory)
    paths = []
    for name, text in render_track(track, records, suite).items():
        atomic.write_text(directory / name, text)
        paths.append(directory / name)
    rows = group_rows(records)
    curves_dir = directory / CURVES_DIR
    if any(row.role == "method" for row in rows):
        _, numbers = results_frames(rows)
        series = [f for f in varying_fields(rows) if f != "retention"]
        paths += save_retention_curves(numbers, _metric_names(rows), series, curves_dir, title=track)
    training = _training_curves(rows)
    if training:
        paths += save_training_curves(training, curves_dir, title=track)
    capacity = capacity_frame(generator_rows(rows))
    if not capacity.empty:
        paths.append(save_capacity_plot(capacity, curves_dir / "capacity.png", title=track))
    return paths


def results_markdown(records: Sequence[ResultRecord]) -> str:
    """The results table alone (with the spaces line and legend), as a sweep prints it."""
    rows = group_rows(records)
    return "\n".join([*spaces_lines(rows), to_markdown(results_frames(rows)[0])]) if rows else ""


def update_readme(readme: str | Path, root: str | Path, track: str = README_TRACK) -> bool:
    """Rewrite the README region of ``track``; False when the README has no markers for it."""
    path = Path(readme)
    if not path.is_file():
        return False
    section = readme_section(track, load_records(Path(root) / track / RECORDS_DIR))
    updated = with_readme_section(path.read_text(), track, section)
    if updated is None:
        return False
    if updated != path.read_text():
        atomic.write_text(path, updated)
    return True


def _first_difference(expected: str, actual: str) -> str:
    for line, (want, have) in enumerate(zip(expected.splitlines(), actual.splitlines(), strict=False), start=1):
        if want != have:
            return f"line {line}: expected {want[:80]!r}, committed {have[:80]!r}"
    return f"expected {len(expected.splitlines())} lines, committed {len(actual.splitlines())}"


def check(root: str | Path, selected: Sequence[str], configs_dir: str | Path = "configs", readme: str | Path | None = None) -> list[str]:
    """One line per committed file that differs from what the records generate (empty: all up to date).

    A check that would compare nothing is a difference too: no tracks, or a CPU suite whose track has no records.
    """
    if not selected:
        return [f"{root}: no leaderboard tracks (no <track>/{RECORDS_DIR}/ folders); run from the repository root "
                "or pass --root"]
    differences = []
    for suite_path in sorted(Path(configs_dir).glob("*.yaml")):
        suite = load_suite(suite_path)
        page = Path(root) / suite.track / PAGE_FILE
        if suite.track in selected or not page.is_file() or suite.gpu:
            continue
        differences.append(f"{Path(root) / suite.track / RECORDS_DIR}: missing, but {page} exists; restore the "
                           f"records or rerun `curbench sweep --config {suite_path} --publish`")
    for track in selected:
        differences += record_problems(Path(root) / track / RECORDS_DIR)
        for path, text in generated_files(root, track, configs_dir).items():
            if not path.is_file():
                differences.append(f"{path}: missing; run `curbench leaderboard --track {track}` and commit it")
            elif path.read_text() != text:
                differences.append(f"{path}: differs from its records ({_first_difference(text, path.read_text())}); "
                                   f"run `curbench leaderboard --track {track}`")
    if readme is not None and README_TRACK in selected and Path(readme).is_file():
        text = Path(readme).read_text()
        section = readme_section(README_TRACK, load_records(Path(root) / README_TRACK / RECORDS_DIR))
        updated = with_readme_section(text, README_TRACK, section)
        if updated is not None and updated != text:
            differences.append(f"{readme}: the {README_TRACK} leaderboard region differs from the records "
                               f"({_first_difference(updated, text)}); run `curbench leaderboard`")
    return differences


# ---------------------------------------------------------------- drift


def drift_tolerances(records: Sequence[ResultRecord]) -> dict[str, float]:
    """Per metric: DRIFT_SIGMAS x the pooled standard deviation over seeds of the committed rows."""
    rows = group_rows(records)
    rows = generator_rows(rows)
    return {m: DRIFT_SIGMAS * pooled_std([row.values(lambda r, m=m: r.metrics.get(m)) for row in rows])
            for m in _metric_names(rows) if m != STEPS_TO_FULL_FID}


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


def drift(root: str | Path, track: str, configs_dir: str | Path = "configs", output_dir: str | Path | None = None) -> list[str]:
    """Rerun the suite's ``ci_slice`` on CPU and compare with the committed records (see :func:`compare_drift`)."""
    from curbench.executors import SerialExecutor
    from curbench.sweep import expand, failure_summary, run_sweep

    suite = track_suite(track, configs_dir)
    if suite is None:
        raise InvalidInputError(f"track '{track}' has no suite file {Path(configs_dir) / track}.yaml to rerun")
    committed = load_records(Path(root) / track / RECORDS_DIR)
    with tempfile.TemporaryDirectory(prefix=f"curbench-drift-{track}-") as scratch:
        configs = expand(suite, overrides=suite.ci_slice, output_dir=str(output_dir or scratch), device="cpu")
        result = run_sweep(configs, SerialExecutor())
    if result.failures:
        raise failure_summary(result.failures)
    return compare_drift(committed, result.records)
