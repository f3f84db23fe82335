"""Retention curves: each metric against retention per scorer, over the random-subset band (mean ± CI)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from curbench import atomic
from curbench.bench.cells import Role

_FULL_COLOR, _RANDOM_COLOR, _REAL_COLOR = "black", "0.45", "tab:green"
TRAINING_METRICS = ("fid", "precision", "recall")


def _label(frame: pd.DataFrame, series_fields: Sequence[str]) -> str:
    first = frame.iloc[0]
    return " · ".join(str(first[f]) for f in series_fields if f in frame.columns and str(first[f]) not in ("", "{}"))


def _interval(frame: pd.DataFrame, metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ordered = frame.sort_values("retention")
    mean = ordered[f"{metric}_mean"].to_numpy(float)
    half = np.nan_to_num(ordered[f"{metric}_ci95"].to_numpy(float))  # one seed: no band, not a missing point
    return ordered["retention"].to_numpy(float), mean, half


def plot_metric(table: pd.DataFrame, metric: str, series_fields: Sequence[str], title: str = "") -> Figure:
    """One axes: the full-data level and band, the random-subset band, and one error-bar line per method."""
    figure = Figure(figsize=(5.5, 3.8), dpi=100)
    axes = figure.subplots()
    groups = [f for f in series_fields if f in table.columns]
    # Sample-time curation keeps all training data: it has no place on a retention axis.
    data_stage = table[table.get("compared_with", pd.Series("", index=table.index)).fillna("") != Role.FULL.value]
    dodge = 0.0  # shift each method a little so error bars at the same retention stay readable
    for (role,), rows in data_stage.groupby(["role"], sort=True):
        parts = rows.groupby(groups, sort=True) if groups else [((), rows)]
        for _, series in parts:
            retention, mean, half = _interval(series, metric)
            if role == Role.FULL:
                axes.axhline(mean[0], linestyle="--", color=_FULL_COLOR, label="full data (100%)")
            elif role == Role.REAL:
                axes.axhline(mean[0], linestyle=":", color=_REAL_COLOR, label="real data (ceiling)")
            elif role == Role.KEPT:
                continue  # the selected data without a generator: in the tables, not on the generator curves
            elif role == Role.RANDOM:
                axes.fill_between(retention, mean - half, mean + half, color=_RANDOM_COLOR, alpha=0.25, linewidth=0)
                axes.errorbar(retention, mean, yerr=half, color=_RANDOM_COLOR, marker="s", linestyle=":",
                              capsize=6, label="random subset ± 95% CI")
            else:
                dodge += 1.0
                axes.errorbar(retention + dodge, mean, yerr=half, marker="o", capsize=3, label=_label(series, groups))
    axes.set_xlim(0, 100)
    axes.set_xlabel("retention (% of training data kept)")
    axes.set_ylabel(metric)
    axes.set_title(f"{title}: {metric}" if title else metric)
    axes.legend(fontsize="small")
    figure.tight_layout()
    return figure


def save_retention_curves(
    table: pd.DataFrame, metrics: Sequence[str], series_fields: Sequence[str], out_dir: str | Path, title: str = ""
) -> list[Path]:
    """Write ``out_dir/<metric>.png`` for each metric from a leaderboard's numeric table; returns the paths."""
    paths = []
    for metric in metrics:
        figure = plot_metric(table, metric, series_fields, title)
        path = Path(out_dir) / f"{metric}.png"
        with atomic.atomic_path(path) as tmp:
            FigureCanvasAgg(figure).print_png(tmp, metadata={"Software": None})
        paths.append(path)
    return paths


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
    and each seed's own curve as a thin line."""
    frame = training_curve_frame(curves, metrics)
    paths = []
    for metric in metrics:
        figure = Figure(figsize=(5.5, 3.8), dpi=100)
        axes = figure.subplots()
        for label, series in frame.groupby("series", sort=False):
            steps = series["step"].to_numpy(float)
            mean = series[f"{metric}_mean"].to_numpy(float)
            half = np.nan_to_num(series[f"{metric}_ci95"].to_numpy(float))
            line = axes.plot(steps, mean, marker=".", label=f"{label} (mean)")[0]
            axes.fill_between(steps, mean - half, mean + half, color=line.get_color(), alpha=0.15, linewidth=0)
            for curve in curves[str(label)]:
                points = sorted(curve, key=lambda point: point["step"])
                axes.plot([p["step"] for p in points], [p.get(metric, np.nan) for p in points],
                          color=line.get_color(), linewidth=0.6, alpha=0.5)
        axes.set_xlabel("training steps")
        axes.set_ylabel(metric)
        axes.set_title(f"{title}: {metric} while training (mean ± 95% CI)" if title else metric)
        axes.legend(fontsize="small")
        figure.tight_layout()
        path = Path(out_dir) / f"training-{metric}.png"
        with atomic.atomic_path(path) as tmp:
            FigureCanvasAgg(figure).print_png(tmp, metadata={"Software": None})
        paths.append(path)
    return paths
