"""Rendering a track: its rows as the Markdown page, CSV tables, README region and plots.

Columns and their directions come from the records (each metric plugin declares
``higher_is_better``), never from a fixed list.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

import curbench.boards.report as report
from curbench import atomic
from curbench.bench.audit import group_order
from curbench.bench.cells import GENERATOR_ROLES, Role
from curbench.bench.records import ResultRecord
from curbench.bench.suites import Suite, missing_cells, suite_configs
from curbench.boards.capacity import COLLAPSE_RULE, capacity_frame, gain_trend, save_capacity_plot
from curbench.boards.heldout import memorization_section, selection_space_section
from curbench.boards.learned import RULE, checks_frame, generator_checks
from curbench.boards.rows import (
    RECORDS_DIR,
    STEPS_TO_FULL_FID,
    Row,
    directions,
    generator_records,
    generator_rows,
    group_rows,
    metric_names,
    number,
    steps_to_target,
    varying_fields,
)
from curbench.boards.shares import SHARES_FILE, share_sections
from curbench.boards.tables import (
    COUNT_METRICS,
    ROUNDING_NOTE,
    comparison_mark,
    csv_value,
    format_estimate,
    metric_axis_label,
    metric_title,
    plus_minus,
    show_value,
    to_markdown,
)
from curbench.stats import (
    ALPHA,
    CONFIDENCE,
    Interval,
    Survival,
    kaplan_meier,
    logrank,
    mean_ci,
    welch_p,
)

PAGE_FILE = "leaderboard.md"
TABLE_FILE = "leaderboard.csv"
AUDIT_FILE = "audit.csv"
TRAINING_FILE = "training_curve.csv"
CURVES_DIR = "curves"
README_TRACK = "digits"
README_RETENTION = 50.0  # the README shows this retention (and full data); the track page shows every one
DETECTION_COLUMNS = {"auroc": "AUROC ↑", "precision_at_k": "precision@k ↑", "typicality_spearman": "Spearman with typicality ↑"}
AUDIT_QUANTITIES = ("retention", "recall", "coverage")

def _span(values: Iterable[Any]) -> str:
    numbers = sorted({int(v) for v in values if isinstance(v, int | float) and math.isfinite(v)})
    if not numbers:
        return "—"
    return str(numbers[0]) if len(numbers) == 1 else f"{numbers[0]}–{numbers[-1]}"


def _verdict(higher_is_better: bool, method: Sequence[float], baseline: Sequence[float]) -> tuple[float, str]:
    """Welch p-value against the baseline and a mark: ≈ indistinguishable, ▲ better, ▼ worse, '' untestable."""
    p_value = welch_p(method, baseline)
    lower = mean_ci(method).mean < mean_ci(baseline).mean
    return p_value, comparison_mark(p_value, better=lower != higher_is_better)


def _scorer_provider(row: Row) -> str:
    """The distribution of a third-party scorer (empty for curbench's own), as its records name it."""
    identity = row.records[0].config.get("plugins", {}).get(f"scorer:{row.config.get('scorer')}", {})
    distribution = identity.get("distribution", "") if isinstance(identity, dict) else ""
    return "" if distribution in ("", "curbench") else str(distribution)


def _time_to_target(row: Row, baseline: Row | None) -> tuple[str, float, str, Survival | None]:
    """Steps to the full-data FID as survival data: the Kaplan–Meier median with how many seeds got there, the
    log-rank test against the baseline row (▲ reaches it significantly sooner), and the survival summary (None for
    a row without curves); censored steps are never averaged."""
    times = steps_to_target(row) if row.role in GENERATOR_ROLES else ([], [])
    if not times[0]:
        return "—", math.nan, "", None
    survival = kaplan_meier(*times)
    median = "not reached" if math.isinf(survival.median) else f"median {format_estimate(survival.median, integer=True)}"
    text = f"{median} ({survival.reached}/{survival.n} reached)"
    baseline_times = steps_to_target(baseline) if baseline is not None else ([], [])
    if not baseline_times[0]:
        return text, math.nan, "", survival
    z, p_value = logrank(*times, *baseline_times)
    return text, p_value, comparison_mark(p_value, better=z > 0), survival


def _detection(record: ResultRecord, name: str) -> float:
    return number(record.audit.get("detection", {}).get(name))


def _corrupted_kept(record: ResultRecord) -> float:
    return number(record.selection.retention_by_group.get("corrupted", {}).get("1"))


def _title(metric: str, higher_is_better: bool) -> str:
    return metric_title(metric, higher_is_better)


def results_frames(rows: Sequence[Row]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(Markdown frame of formatted strings, CSV frame of numbers): one line per row of the leaderboard."""
    by_key = {row.key: row for row in rows}
    fields = varying_fields(rows)
    metrics = directions(rows)
    has_detection = any("detection" in r.audit for row in rows for r in row.records)
    has_typicality = any("typicality_spearman" in r.audit.get("detection", {}) for row in rows for r in row.records)
    has_corrupted = any(not math.isnan(v) for row in rows for v in row.values(_corrupted_kept))
    shown, numbers = [], []
    for row in rows:
        baseline = by_key.get(row.baseline_key or "")
        label = {"row": row.label}
        md = {**label, **{f: show_value(row.config.get(f)) for f in fields}}
        if provider := _scorer_provider(row):
            md["scorer"] = f"{md['scorer']} ({provider})"
        csv = {**label, "role": row.role.value, **{f: csv_value(row.config.get(f)) for f in fields}}
        counts = {
            "n_kept": _span(r.selection.n_kept for r in row.records),
            "n_total": _span(r.selection.n_total for r in row.records),
            "n_real": _span(r.metrics.get("n_real", r.selection.n_total) for r in row.records),
            "n_fake": _span(r.metrics.get("n_fake") for r in row.records),
        }
        md["kept"] = "—" if row.role is Role.REAL else f"{counts['n_kept']}/{counts['n_total']}"
        md["samples real/fake"] = f"{counts['n_real']}/{counts['n_fake']}"
        md["seeds"] = str(len(row.records))
        csv.update(counts, seeds=len(row.records), compared_with=baseline.role.value if baseline else "")
        for metric, higher in metrics.items():
            values = row.metric_values(metric)
            interval = mean_ci(values)
            if metric == STEPS_TO_FULL_FID:  # survival data: its median and how many got there, never a mean
                text, p_value, mark, survival = _time_to_target(row, baseline)
                csv.update({f"{metric}_median": survival.median if survival else math.nan,
                            f"{metric}_reached": survival.reached if survival else math.nan})
            else:
                p_value, mark = _verdict(higher, values, baseline.metric_values(metric)) if baseline else (math.nan, "")
                text = plus_minus(interval, integer=metric in COUNT_METRICS)
                csv.update({f"{metric}_mean": interval.mean, f"{metric}_ci95": interval.half_width,
                            f"{metric}_std": interval.std})
            md[_title(metric, higher)] = f"{text} {mark}".strip()
            csv.update({f"{metric}_p_vs_baseline": p_value, f"{metric}_mark": mark})
        if has_detection:
            for name, title in DETECTION_COLUMNS.items():
                if name == "typicality_spearman" and not has_typicality:
                    continue
                interval = mean_ci([_detection(r, name) for r in row.records])
                md[title] = plus_minus(interval)
                csv.update({f"{name}_mean": interval.mean, f"{name}_ci95": interval.half_width})
            md["k of P@k"] = csv["k_detection"] = _span(_detection(r, "k") for r in row.records)
        if has_corrupted:
            interval = mean_ci(row.values(_corrupted_kept))
            md["corrupted kept ↓"] = plus_minus(interval)
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
            line = {"row": row.label, **{f: show_value(row.config.get(f)) for f in fields}}
            for quantity in AUDIT_QUANTITIES:
                interval = mean_ci([number(_disparity(r, grouping, quantity)) for r in row.records])
                line[f"{quantity} gap"] = plus_minus(interval)
                long_rows.append(_long(row, fields, grouping, "max_disparity", quantity, interval))
            gaps.append(line)
        sections.append((f"Largest disparity across `{grouping}` groups (max − min over groups)", pd.DataFrame(gaps)))
        for quantity in AUDIT_QUANTITIES:
            groups = sorted({g for row in rows for r in row.records for g in _per_group(r, grouping, quantity)}, key=group_order)
            if not groups:
                continue
            wide = []
            for row in rows:
                line = {"row": row.label, **{f: show_value(row.config.get(f)) for f in fields}}
                for group in groups:
                    interval = mean_ci([number(_per_group(r, grouping, quantity).get(group)) for r in row.records])
                    line[group] = format_estimate(interval.mean)
                    long_rows.append(_long(row, fields, grouping, group, quantity, interval))
                wide.append(line)
            sections.append((f"Per-group {quantity} by `{grouping}` (mean over seeds)", pd.DataFrame(wide)))
    return sections, pd.DataFrame(long_rows)


def _long(row: Row, fields: list[str], grouping: str, group: str, quantity: str, interval: Interval) -> dict[str, Any]:
    return {"row": row.label, **{f: csv_value(row.config.get(f)) for f in fields},
            "grouping": grouping, "group": group, "quantity": quantity,
            "mean": interval.mean, "ci95": interval.half_width, "seeds": interval.n}


LEGEND = (
    f"Values are the mean ± the half-width of the {CONFIDENCE:.0%} confidence interval over seeds "
    "(Student t with n − 1 degrees of freedom); steps to the full-data FID are survival data, shown as the "
    "Kaplan–Meier median with how many seeds reached it and tested with the log-rank test. Marks compare a method with the random subset at the same "
    "retention (with the full-data row for sample-time curation) by Welch's two-sided t-test at "
    f"α = {ALPHA}: **≈** not distinguishable (p ≥ {ALPHA}), **▲** significantly better, **▼** significantly worse. "
    "↓ lower is better, ↑ higher is better. `kept` = training instances kept / dataset size; "
    "`samples real/fake` = reference (full dataset) and generated samples per metric evaluation. "
    "A `kept data, no generator` row varies over seeds only as far as its selection does: a deterministic scorer "
    "in a selection space that does not depend on the seed keeps the same instances every seed (± 0), and a ± "
    "other than 0 on such a row means the selection space itself differs between records (see **Feature "
    "spaces**), so it is not a sampling interval. "
    + report.KID_NOTE + " " + ROUNDING_NOTE
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

def _command(suite: Suite | None, command: str | None) -> str:
    """The command that regenerates a page: given, else `curbench leaderboard` for a suite's track and
    `curbench report` for a folder of records without a suite."""
    return command or ("curbench leaderboard" if suite is not None else "curbench report")


def _header(track: str, suite: Suite | None, rows: Sequence[Row], command: str | None = None) -> list[str]:
    lines = [f"# `{track}` leaderboard", ""]
    if suite is not None and suite.description:
        lines += [suite.description.strip(), ""]
    source = f" (suite `configs/{track}.yaml`)" if suite is not None else ""
    n = len(generator_records(rows))
    command = _command(suite, command)
    where = f" in `{RECORDS_DIR}/`" if command == "curbench leaderboard" else ""
    lines += [f"Generated by `{command}` from {n} records{where}{source}; do not edit by hand.", ""]
    if suite is not None and suite.in_progress:
        total = len(missing_cells(suite, []))
        done = total - len(missing_cells(suite, generator_records(rows)))
        lines += [f"**In progress:** {done} of {total} cells of the suite are recorded; `curbench sweep --config "
                  f"configs/{track}.yaml --publish` runs the rest (published cells are not rerun). Rows "
                  "may have fewer seeds than the grid, and the findings grade this track once the grid is complete.", ""]
    submitted = _submitted(suite, rows)
    if submitted:
        lines += [f"**Submitted methods** (not in the suite's grid; added with `curbench submit`): "
                  f"{', '.join(f'`{name}`' for name in submitted)}.", ""]
    lines += spaces_lines(rows)
    varying = set(varying_fields(rows))
    fixed = [f"{f} `{show_value(rows[0].config.get(f))}`" for f in rows[0].config if f not in varying and rows[0].config.get(f) not in (None, {})] if rows else []
    if fixed:
        lines += ["**Fixed settings:** " + " · ".join(fixed), ""]
    return lines


def _submitted(suite: Suite | None, rows: Sequence[Row]) -> list[str]:
    """Scorers on the board that the suite's own cells do not name."""
    if suite is None:
        return []
    listed = {config.scorer for config in suite_configs(suite)}
    return sorted({row.config["scorer"] for row in rows if row.role is Role.METHOD} - listed)


def _space_text(records: Sequence[ResultRecord], which: str) -> str:
    names = sorted({r.spaces[which]["embedder"] for r in records if which in r.spaces})
    parts = []
    for name in names:
        spaces = [r.spaces[which] for r in records if r.spaces.get(which, {}).get("embedder") == name]
        accuracy = mean_ci([space.get("heldout_accuracy", math.nan) for space in spaces])
        parts.append(f"`{name}`" + (f" (held-out accuracy {accuracy.mean:.1%})" if accuracy.n else "")
                     + _weights_note(name, spaces))
    return ", ".join(parts)


def _weights_note(name: str, spaces: Sequence[dict[str, Any]]) -> str:
    """A warning when a run-time-trained space's records were measured with more than one set of trained weights."""
    counts = Counter(space["weights"] for space in spaces if "weights" in space)
    if len(counts) < 2:
        return ""
    sets = ", ".join(f"`{checksum}` {n}" for checksum, n in counts.most_common())
    unrecorded = len(spaces) - sum(counts.values())
    return (f" ⚠ {len(counts)} differently trained `{name}` weights among the records ({sets}"
            + (f"; {unrecorded} predate the checksum" if unrecorded else "")
            + "): training is bit-reproducible on one CPU type only, see each record's provenance.cpu")


def spaces_lines(rows: Sequence[Row]) -> list[str]:
    """Which feature space selected and which one measured, stated on every board."""
    records = generator_records(rows)
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
    retentions = sorted({row.config["retention"] for row in with_curves if row.role is not Role.FULL})
    shown = 50.0 if 50.0 in retentions else (retentions[0] if retentions else None)
    fields = [f for f in varying_fields(with_curves) if f != "retention"]
    curves: dict[str, list[list[dict[str, float]]]] = {}
    for row in with_curves:
        if row.role is Role.FULL or row.config["retention"] == shown:
            label = " · ".join([row.label, *(show_value(row.config.get(f)) for f in fields if row.role is Role.METHOD or f != "scorer")])
            curves.setdefault(label, []).extend(r.curve for r in row.records if r.curve)
    return curves


def render_track(
    track: str, records: Sequence[ResultRecord], suite: Suite | None, command: str | None = None
) -> dict[str, str]:
    """The generated files of a track (relative name -> text); ``command`` is the one the page names as its source
    (default: see :func:`_command`)."""
    rows = group_rows(records)
    lines = _header(track, suite, rows, command)
    if not rows:
        needs = "It needs a GPU; " if suite is not None and suite.gpu else ""
        lines += [f"**Not run yet.** {needs}no results have been recorded for this track.", "", SUBMIT_GPU]
        empty = pd.DataFrame(columns=["row", "retention", "scorer", "seeds"])
        return {PAGE_FILE: "\n".join(lines), TABLE_FILE: empty.to_csv(index=False), AUDIT_FILE: empty.to_csv(index=False)}
    shown, numbers = results_frames(rows)
    sections, audit_long = audit_tables(generator_rows(rows))
    lines += ["## Results", "", LEGEND, "", to_markdown(shown)]
    lines += selection_space_section(records, lambda selection_rows: results_frames(selection_rows)[0])
    lines += memorization_section(rows)
    checks = generator_checks(rows)
    if checks:
        lines += ["## Has the generator learned the data?", "", RULE + (
            " A capacity track's smaller generators may fall short by design; the findings grade a track only when its "
            "largest full-data generator passes." if len(checks) > 1 else " The findings grade this track only if it passes."),
            "", to_markdown(checks_frame(checks))]
    if sections:
        lines += ["## Bias audit", "", "Which instances curation removed, per group, and how well the generated samples "
                  "recall and cover each group of the real data (`audit.csv` has the intervals).", ""]
        for title, frame in sections:
            lines += [f"### {title}", "", to_markdown(frame)]
    share_tables, shares_long = share_sections(generator_rows(rows))
    if share_tables:
        lines += ["## Group shares through the pipeline", "",
                  "Each group's share of the full data, of the kept subset and of the generated samples (assigned by a "
                  "group classifier trained on the real data's evaluation features; its held-out accuracy is in the first "
                  "table), and the amplification of each stage: a group's share after it over its share before it. "
                  f"Mean ± 95% CI over seeds; `{SHARES_FILE}` has every number. See `docs/bias.md`.", ""]
        for title, frame in share_tables:
            lines += [f"### {title}", "", to_markdown(frame)]
    if any(row.role is Role.METHOD for row in rows):
        lines += ["## Retention curves", "", " ".join(f"![{m}]({CURVES_DIR}/{m}.png)" for m in metric_names(rows)), ""]
    files = {
        TABLE_FILE: numbers.to_csv(index=False, float_format="%.6g"),
        AUDIT_FILE: audit_long.to_csv(index=False, float_format="%.6g"),
    }
    if share_tables:
        files[SHARES_FILE] = shares_long.to_csv(index=False, float_format="%.6g")
    capacity = capacity_frame(rows)
    if not capacity.empty:
        lines += ["## Capacity", "",
                  "Does selection's FID gain over full data grow as the generator shrinks? Gain = FID(full data) − "
                  "FID(row) with the same generator and seed, mean ± 95% CI over seeds; the mark is Welch's test of "
                  f"the row's FIDs against the full-data FIDs (▲ significantly better than full data). {COLLAPSE_RULE}", "",
                  to_markdown(capacity[["method", "retention", "generator_parameters", "gain", "collapsed seeds", "seeds"]]), "",
                  "Whether selection's gain grows as capacity shrinks is the interaction with the random control: the "
                  "per-seed advantage FID(random subset) − FID(method), same generator and size, regressed on "
                  "ln(generator parameters).", "",
                  *[f"- {trend.text}: {'grows significantly' if trend.grows else 'does not grow significantly'} as "
                    "capacity shrinks." for trend in gain_trend(generator_rows(rows))], "",
                  f"![capacity]({CURVES_DIR}/capacity.png)", ""]
    training = _training_curves(rows)
    if training:
        from curbench.boards.curves import TRAINING_METRICS, training_curve_frame

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


def write_board(
    directory: str | Path, track: str, records: Sequence[ResultRecord], suite: Suite | None, command: str | None = None
) -> list[Path]:
    """Write a board (page, CSV tables, curves) for ``records`` into ``directory``; returns the paths."""
    from curbench.boards.curves import save_retention_curves, save_training_curves, with_step_limits

    directory = Path(directory)
    paths = []
    for name, text in render_track(track, records, suite, command).items():
        atomic.write_text(directory / name, text)
        paths.append(directory / name)
    rows = group_rows(records)
    curves_dir = directory / CURVES_DIR
    if any(row.role is Role.METHOD for row in rows):
        _, numbers = results_frames(rows)
        series = [f for f in varying_fields(rows) if f != "retention"]
        labels = {metric: metric_axis_label(metric, higher) for metric, higher in directions(rows).items()}
        paths += save_retention_curves(with_step_limits(numbers, rows), metric_names(rows), series, curves_dir,
                                       title=track, labels=labels)
    training = _training_curves(rows)
    if training:
        paths += save_training_curves(training, curves_dir, title=track)
    capacity = capacity_frame(rows)
    if not capacity.empty:
        paths.append(save_capacity_plot(capacity, curves_dir / "capacity.png", title=track))
    return paths


PRINTED_LEGEND = (
    f"Rows: full data, random subsets, methods and reference rows; mean ± {CONFIDENCE:.0%} CI over seeds, rounded to "
    "the CI; ▲ better / ▼ worse / ≈ indistinguishable from the random subset of the same size (from full data for "
    f"sample-time curation), Welch's t-test at α = {ALPHA}; ↓ lower is better, ↑ higher is better; "
    "KID's scale depends on the feature space."
)


def results_markdown(records: Sequence[ResultRecord]) -> str:
    """The results table alone (with the spaces line and a one-line legend), as a sweep prints it."""
    rows = group_rows(records)
    if not rows:
        return ""
    warnings = [f"⚠ The full-data generator {check.generator} has not learned its data ({check.reason}): the rows "
                "trained with it compare failures, not curation methods." for check in generator_checks(rows) if not check.learned]
    return "\n".join([*spaces_lines(rows), PRINTED_LEGEND, "", to_markdown(results_frames(rows)[0]),
                      *(["", *warnings] if warnings else [])])
