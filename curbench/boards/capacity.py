"""Capacity analysis: the FID gain of training on a subset over training on all data, per generator size.

The seed paper's mechanism is that selection helps when the model's capacity is small
for the data's complexity. Per generator configuration, the gain of a row is
FID(full data) − FID(row), paired by seed (both cells start from the same seed), with
its 95% CI and Welch's test of the two FID samples. Whether selection's gain grows as capacity
shrinks is the interaction (:func:`gain_trend`): the advantage over the random subset of the same
size and generator, regressed on ln(generator parameters).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from curbench.bench.cells import Role
from curbench.boards.learned import FLOORS, ceilings, collapsed_seeds
from curbench.boards.tables import comparison_mark, format_cell, format_estimate, plus_minus
from curbench.stats import ALPHA, mean_ci, slope, welch_p

if TYPE_CHECKING:
    from curbench.boards.rows import Row
    from curbench.stats import Interval


def _generator_key(config: dict[str, Any]) -> str:
    return json.dumps({"generator": config["generator"], "options": config.get("generator_options", {})}, sort_keys=True)


def _fid_by_seed(row: Row) -> dict[int, float]:
    return {r.config["seed"]: float(r.metrics.get("fid", math.nan)) for r in row.records}


def _label(row: Row) -> str:
    return Role.RANDOM.label if row.role is Role.RANDOM else str(row.config["scorer"])


@dataclass(frozen=True)
class Gain:
    method: str
    retention: float
    generator_parameters: int
    gains: tuple[float, ...]
    p_value: float
    collapsed: tuple[int, int]  # (collapsed seeds, seeds) of this row, see collapsed_seeds
    full_collapsed: tuple[int, int]  # the same for the full-data row it is compared with

    @property
    def interval(self) -> Interval:
        """Mean and 95% CI of the paired per-seed gains, FID(full data) - FID(this row): positive = better."""
        return mean_ci(self.gains)


def gains(rows: Sequence[Row]) -> list[Gain]:
    """Per generator configuration with a full-data row, the paired FID gain of every other generator row.

    ``rows`` may include the reference rows: the real-data ceilings set the collapse floor."""
    full_rows = {_generator_key(row.config): row for row in rows if row.role is Role.FULL}
    ceilings_of = ceilings(rows)
    result = []
    for row in rows:
        full = full_rows.get(_generator_key(row.config))
        if row.role not in (Role.RANDOM, Role.METHOD) or full is None:
            continue
        full_fid, row_fid = _fid_by_seed(full), _fid_by_seed(row)
        paired = tuple(full_fid[s] - row_fid[s] for s in sorted(row_fid) if s in full_fid)
        p_value = welch_p(list(row_fid.values()), list(full_fid.values()))
        ceiling = ceilings_of.get(full.key)
        result.append(Gain(_label(row), row.config["retention"], row.generator_parameters, paired, p_value,
                           collapsed_seeds(row, ceiling), collapsed_seeds(full, ceiling)))
    return sorted(result, key=lambda g: (g.method, g.retention, g.generator_parameters))


def advantages(rows: Sequence[Row]) -> dict[tuple[str, float], list[tuple[int, float]]]:
    """Per (method, retention): (generator parameters, FID(random subset) − FID(method)) for every seed both ran.

    The random subset is the method's own baseline row: same generator, same size. This per-seed
    advantage, regressed on capacity, is the interaction test of selection × capacity; the gain over
    full data alone would also credit selection with what training on less data does.
    """
    by_key = {row.key: row for row in rows}
    found: dict[tuple[str, float], list[tuple[int, float]]] = {}
    for row in rows:
        random = by_key.get(row.baseline_key or "")
        if row.role is not Role.METHOD or random is None or random.role is not Role.RANDOM:
            continue
        method_fid, random_fid = _fid_by_seed(row), _fid_by_seed(random)
        points = [(row.generator_parameters, random_fid[s] - method_fid[s]) for s in sorted(method_fid) if s in random_fid]
        found.setdefault((_label(row), row.config["retention"]), []).extend(points)
    return found


def capacity_frame(rows: Sequence[Row]) -> pd.DataFrame:
    """One line per (row, generator size) when the board holds at least two generator sizes; else empty."""
    found = gains(rows)
    if len({g.generator_parameters for g in found}) < 2:
        return pd.DataFrame()
    lines = []
    for g in found:
        interval = g.interval
        mark = comparison_mark(g.p_value, better=interval.mean > 0)
        lines.append({
            "method": g.method, "retention": g.retention, "generator_parameters": g.generator_parameters,
            "gain": f"{plus_minus(interval)} {mark}".strip(),
            "collapsed seeds": _collapsed_text(g),
            "gain_mean": interval.mean, "gain_ci95": interval.half_width, "p_vs_full": g.p_value, "seeds": interval.n,
        })
    return pd.DataFrame(lines)


def _collapsed_text(gain: Gain) -> str:
    (row, row_seeds), (full, full_seeds) = gain.collapsed, gain.full_collapsed
    return f"{row}/{row_seeds} (full data {full}/{full_seeds})" if row_seeds and full_seeds else "—"


COLLAPSE_RULE = (f"A seed has collapsed when its recall is below {FLOORS['recall']:.0%} of the real data's (the "
                 "learned-data floor applied per seed); where seeds collapse, a mean FID over seeds reports the collapse "
                 "rate as much as the curation.")


def collapse_summary(rows: Sequence[Row]) -> str:
    """The rows with collapsed seeds per generator size, e.g. ``full data 1/5, knn · 50% 3/5 at 176,113 parameters``.

    Empty when no seed collapsed (or no ceiling says what collapse is)."""
    by_size: dict[int, dict[str, tuple[int, int]]] = {}
    for g in gains(rows):
        counts = by_size.setdefault(g.generator_parameters, {Role.FULL.label: g.full_collapsed})
        counts[f"{g.method} · {format_cell(float(g.retention))}%"] = g.collapsed
    return "; ".join(
        ", ".join(f"{label} {k}/{n}" for label, (k, n) in counts.items() if k) + f" at {size:,} parameters"
        for size, counts in sorted(by_size.items()) if any(k for k, _ in counts.values()))


@dataclass(frozen=True)
class Trend:
    method: str
    grows: bool
    text: str


def gain_trend(rows: Sequence[Row]) -> list[Trend]:
    """Per method and retention, the interaction of selection × capacity: the slope of the per-seed advantage
    over the random subset of the same size (:func:`advantages`) on ln(generator parameters). Selection's gain
    grows as capacity shrinks only when that slope is significantly negative; the method's own trend would also
    credit it with what training on less data does."""
    trends = []
    for (method, retention), points in sorted(advantages(rows).items()):
        sizes = np.array([size for size, _ in points], dtype=np.float64)
        if len(set(sizes)) < 2:
            continue
        result = slope(np.log(sizes), [advantage for _, advantage in points])
        grows = result.estimate < 0 and result.p_value < ALPHA
        half_width = (result.high - result.low) / 2
        text = (f"{method} · {format_estimate(float(retention))}%: advantage over the random subset changes by "
                f"{format_estimate(result.estimate, half_width)} FID per ln(generator parameters) "
                f"(interaction slope, p = {result.p_value:.2g}, {result.n} seed × size points)")
        trends.append(Trend(method, grows, text))
    return trends


def save_capacity_plot(frame: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """FID gain over full data against generator parameters (log scale), one line per method, 95% CI bars."""
    from matplotlib.figure import Figure

    from curbench.boards.curves import save_png

    figure = Figure(figsize=(8.0, 3.8), dpi=100)
    axes = figure.subplots()
    for (method, retention), series in frame.groupby(["method", "retention"], sort=True):
        series = series.sort_values("generator_parameters")
        axes.errorbar(series["generator_parameters"], series["gain_mean"], yerr=np.nan_to_num(series["gain_ci95"]),
                      marker="o", capsize=4, label=f"{method} · {format_cell(float(retention))}%")
    axes.axhline(0, color="black", linewidth=0.8)
    axes.set_xscale("log")
    axes.set_xlabel("generator parameters")
    axes.set_ylabel("FID gain over full data (higher = better)")
    axes.set_title(f"{title}: selection gain vs capacity" if title else "selection gain vs capacity")
    if axes.get_legend_handles_labels()[0]:  # right of the axes, where it covers no data
        axes.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize="small", frameon=False)
    figure.tight_layout()
    return save_png(figure, Path(path))
