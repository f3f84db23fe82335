"""Retention curves: each metric against retention per scorer, over the random-subset band (mean ± CI).

Axes carry the tables' metric names, legends sit outside the axes (right of them) so they cover no
data, a series with no value draws nothing and gets no legend entry, and a censored metric
(steps to the full-data FID) has its error bars clipped to the values it can take.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from curbench import atomic
from curbench.bench.cells import Role
from curbench.boards.rows import STEPS_TO_FULL_FID, Row
from curbench.boards.tables import metric_name

_FULL_COLOR, _RANDOM_COLOR, _REAL_COLOR, _LIMIT_COLOR = "black", "0.45", "tab:green", "tab:red"
TRAINING_METRICS = ("fid", "precision", "recall")
FIGURE_SIZE = (8.0, 3.8)  # wide enough for the axes plus a legend to their right


def _label(frame: pd.DataFrame, series_fields: Sequence[str]) -> str:
    first = frame.iloc[0]
    return " · ".join(str(first[f]) for f in series_fields if f in frame.columns and str(first[f]) not in ("", "{}"))


def step_limits(row: Row) -> tuple[float, float]:
    """(lowest, highest) value steps-to-full-FID can take in a row: its curves' first step, and the censoring
    value of a seed that never got there (one evaluation interval past the last step); NaN without curves."""
    curves = [(r.curve, r.config.get("eval_every", 0)) for r in row.records if r.curve]
    if not curves:
        return math.nan, math.nan
    return (float(min(curve[0]["step"] for curve, _ in curves)),
            float(max(curve[-1]["step"] + every for curve, every in curves)))


def with_step_limits(table: pd.DataFrame, rows: Sequence[Row]) -> pd.DataFrame:
    """``table`` (one line per row, in the order of ``rows``) with the bounds of steps-to-full-FID as
    ``<metric>_lower`` / ``<metric>_upper``, which :func:`plot_metric` clips error bars and bands to."""
    if f"{STEPS_TO_FULL_FID}_median" not in table.columns or len(table) != len(rows):
        return table
    lower, upper = zip(*(step_limits(row) for row in rows), strict=True) if rows else ((), ())
    return table.assign(**{f"{STEPS_TO_FULL_FID}_lower": list(lower), f"{STEPS_TO_FULL_FID}_upper": list(upper)})


def _interval(frame: pd.DataFrame, metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Retention, centre (mean, or median for survival data), and the lower and upper error-bar lengths (clipped to
    the metric's bounds if any)."""
    ordered = frame.sort_values("retention")
    if f"{metric}_mean" in ordered.columns:
        mean = ordered[f"{metric}_mean"].to_numpy(float)
        half = np.nan_to_num(ordered[f"{metric}_ci95"].to_numpy(float))  # one seed: no band, not a missing point
    else:  # survival data: the Kaplan-Meier median, "not reached" (inf) drawn at the censoring value below
        mean, half = ordered[f"{metric}_median"].to_numpy(float), np.zeros(len(ordered))
    if f"{metric}_upper" in ordered.columns:
        mean = np.where(np.isinf(mean), ordered[f"{metric}_upper"].to_numpy(float), mean)
    low, high = mean - half, mean + half
    if f"{metric}_lower" in ordered.columns:
        low = np.fmax(low, ordered[f"{metric}_lower"].to_numpy(float))  # fmax: a NaN bound leaves the bar as it is
    if f"{metric}_upper" in ordered.columns:
        high = np.fmin(high, ordered[f"{metric}_upper"].to_numpy(float))
    return ordered["retention"].to_numpy(float), mean, np.maximum(mean - low, 0), np.maximum(high - mean, 0)


def _legend_outside(axes: Axes) -> None:
    """The legend right of the axes, so it covers no data, each label once; none when nothing is labelled."""
    entries = dict(zip(*reversed(axes.get_legend_handles_labels()), strict=True))  # label -> its last handle
    if entries:
        axes.legend(list(entries.values()), list(entries), loc="upper left", bbox_to_anchor=(1.02, 1.0),
                    borderaxespad=0.0, fontsize="small", frameon=False)


def plot_metric(table: pd.DataFrame, metric: str, series_fields: Sequence[str], title: str = "", label: str = "") -> Figure:
    """One axes: the full-data level, the random-subset band, and one error-bar line per method.

    ``label`` is the y-axis label (default: the metric's table name). Error bars and bands stop at
    ``<metric>_lower`` / ``<metric>_upper`` where the table has them (the censoring value of
    steps-to-full-FID, drawn as a line).
    """
    figure = Figure(figsize=FIGURE_SIZE, dpi=100)
    axes = figure.subplots()
    groups = [f for f in series_fields if f in table.columns]
    # Sample-time curation keeps all training data: it has no place on a retention axis.
    data_stage = table[table.get("compared_with", pd.Series("", index=table.index)).fillna("") != Role.FULL.value]
    dodge = 0.0  # shift each method a little so error bars at the same retention stay readable
    for (role,), rows in data_stage.groupby(["role"], sort=True):
        parts = rows.groupby(groups, sort=True) if groups else [((), rows)]
        for _, series in parts:
            retention, mean, below, above = _interval(series, metric)
            if np.isnan(mean).all():
                continue  # e.g. the real-data row has no steps to the full-data FID: no line, no legend entry
            if role == Role.FULL:
                axes.axhline(mean[0], linestyle="--", color=_FULL_COLOR, label="full data (100%)")
            elif role == Role.REAL:
                axes.axhline(mean[0], linestyle=":", color=_REAL_COLOR, label="real data (ceiling)")
            elif role == Role.KEPT:
                continue  # the selected data without a generator: in the tables, not on the generator curves
            elif role == Role.RANDOM:
                axes.fill_between(retention, mean - below, mean + above, color=_RANDOM_COLOR, alpha=0.25, linewidth=0)
                axes.errorbar(retention, mean, yerr=[below, above], color=_RANDOM_COLOR, marker="s", linestyle=":",
                              capsize=6, label="random subset ± 95% CI")
            else:
                dodge += 1.0
                axes.errorbar(retention + dodge, mean, yerr=[below, above], marker="o", capsize=3,
                              label=_label(series, groups) or "method")
    if f"{metric}_upper" in data_stage.columns:
        limits = data_stage[f"{metric}_upper"].dropna().unique()
        if len(limits) == 1:  # one censoring value for every row: draw it (several: each bar stops at its own)
            axes.axhline(limits[0], color=_LIMIT_COLOR, linewidth=0.8, linestyle="-.",
                         label=f"not reached: censored at {limits[0]:.0f}")
    name = metric_name(metric)
    axes.set_xlim(0, 100)
    axes.set_xlabel("retention (% of training data kept)")
    axes.set_ylabel(label or name)
    axes.set_title(f"{title}: {name}" if title else name)
    _legend_outside(axes)
    figure.tight_layout()
    return figure


def save_png(figure: Figure, path: Path) -> Path:
    """Write ``figure`` atomically, without the matplotlib version in its metadata (so the file is reproducible)."""
    with atomic.atomic_path(path) as tmp:
        FigureCanvasAgg(figure).print_png(tmp, metadata={"Software": None})  # type: ignore[no-untyped-call]  # unannotated in matplotlib
    return path


def save_retention_curves(
    table: pd.DataFrame, metrics: Sequence[str], series_fields: Sequence[str], out_dir: str | Path, title: str = "",
    labels: Mapping[str, str] | None = None,
) -> list[Path]:
    """Write ``out_dir/<metric>.png`` for each metric from a leaderboard's numeric table; returns the paths.

    ``labels``: y-axis label per metric (default: the metric's table name)."""
    return [save_png(plot_metric(table, metric, series_fields, title, (labels or {}).get(metric, "")),
                  Path(out_dir) / f"{metric}.png") for metric in metrics]


def training_curve_frame(curves: dict[str, list[list[dict[str, float]]]], metrics: Sequence[str] = TRAINING_METRICS) -> pd.DataFrame:
    """Per series label and step: mean, 95% CI half-width and seeds of each metric over the seeds' curves."""
    from curbench.stats import mean_ci

    lines = []
    for label, seeds in curves.items():
        steps = sorted({int(point["step"]) for curve in seeds for point in curve})
        for step in steps:
            line: dict[str, object] = {"series": label, "step": step}
            for metric in metrics:
                values = [point.get(metric, np.nan) for curve in seeds for point in curve if int(point["step"]) == step]
                interval = mean_ci(values)
                line.update({f"{metric}_mean": interval.mean, f"{metric}_ci95": interval.half_width, "seeds": interval.n})
            lines.append(line)
    return pd.DataFrame(lines)


def save_training_curves(
    curves: dict[str, list[list[dict[str, float]]]], out_dir: str | Path, title: str = "",
    metrics: Sequence[str] = TRAINING_METRICS,
) -> list[Path]:
    """``out_dir/training-<metric>.png``: each series' mean over seeds against training steps, its 95% band,
    and each seed's own curve as a thin line (unlabelled: the legend names the series once)."""
    frame = training_curve_frame(curves, metrics)
    paths = []
    for metric in metrics:
        figure = Figure(figsize=FIGURE_SIZE, dpi=100)
        axes = figure.subplots()
        for label, series in frame.groupby("series", sort=False):
            steps = series["step"].to_numpy(float)
            mean = series[f"{metric}_mean"].to_numpy(float)
            if np.isnan(mean).all():
                continue
            half = np.nan_to_num(series[f"{metric}_ci95"].to_numpy(float))
            line = axes.plot(steps, mean, marker=".", label=f"{label} (mean ± 95% CI)")[0]
            axes.fill_between(steps, mean - half, mean + half, color=line.get_color(), alpha=0.15, linewidth=0)
            for curve in curves[str(label)]:
                points = sorted(curve, key=lambda point: point["step"])
                axes.plot([p["step"] for p in points], [p.get(metric, np.nan) for p in points],
                          color=line.get_color(), linewidth=0.6, alpha=0.5)
        name = metric_name(metric)
        axes.set_xlabel("training steps")
        axes.set_ylabel(name)
        axes.set_title(f"{title}: {name} while training" if title else f"{name} while training")
        _legend_outside(axes)
        figure.tight_layout()
        paths.append(save_png(figure, Path(out_dir) / f"training-{metric}.png"))
    return paths
