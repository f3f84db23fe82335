"""Plain Markdown and CSV renderings of pandas frames (no optional table dependencies), the names tables
and plots give metrics, and the one rule every board rounds numbers by (:func:`format_estimate`)."""

from __future__ import annotations

import json
import math
from decimal import ROUND_HALF_UP, Context, Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from curbench import atomic
from curbench.boards.rows import LATE_FID, LATE_POINTS, STEPS_TO_FULL_FID
from curbench.stats import ALPHA

if TYPE_CHECKING:
    from curbench.stats import Interval


METRIC_NAMES = {"fid": "FID", "kid": "KID", STEPS_TO_FULL_FID: "steps to full-data FID",
                LATE_FID: f"FID, last {LATE_POINTS} evaluations"}
COUNT_METRICS = frozenset({STEPS_TO_FULL_FID})  # whole numbers: shown without decimals


def metric_name(metric: str) -> str:
    """How tables and plots name a metric key (``fid`` -> FID); keys without a name are shown as they are."""
    return METRIC_NAMES.get(metric, metric)


def metric_title(metric: str, higher_is_better: bool | None) -> str:
    """A metric's column title: its name and its direction (↑ higher is better, ↓ lower is better)."""
    arrow = "" if higher_is_better is None else (" ↑" if higher_is_better else " ↓")
    return metric_name(metric) + arrow


def metric_axis_label(metric: str, higher_is_better: bool | None) -> str:
    """A plot axis label: the metric's name and, in words, which way is better."""
    if higher_is_better is None:
        return metric_name(metric)
    return f"{metric_name(metric)} ({'higher' if higher_is_better else 'lower'} is better)"


def csv_value(value: Any) -> Any:
    """A CSV cell: scalars as they are, options as JSON."""
    return json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else value


def show_value(value: Any) -> str:
    """A Markdown cell for a setting: options as k=v, lists comma-separated, whole floats without the point, None as a dash."""
    if isinstance(value, dict):
        return ", ".join(f"{k}={show_value(v)}" for k, v in sorted(value.items())) or "—"
    if isinstance(value, (list, tuple)):
        return ", ".join(show_value(v) for v in value) or "—"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "—" if value is None else str(value)


SIGNIFICANT = 4  # digits of a value shown without an interval (and of a deterministic one, "± 0")
INTERVAL_DIGITS = 2  # significant digits of a half-width
ROUNDING_NOTE = (
    "Numbers are rounded to their uncertainty: the half-width to two significant digits and the mean to the same "
    "decimal place; a value without an interval has four significant digits, one that is the same on every seed "
    "(to float32 resolution) shows `± 0`; step counts are whole numbers; no number is written in scientific notation."
)


_EXACT = Context(prec=1000)  # room for any float's digits: quantize never fails


def _round(value: float, decimals: int) -> Decimal:
    """``value`` rounded half away from zero at ``decimals`` places (negative: tens, hundreds, ...), from its
    shortest decimal form, so 9.6075 rounds to 9.608 as written, not to 9.607 as its binary neighbour would."""
    return Decimal(repr(value)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP, context=_EXACT)


def _fixed(value: float, decimals: int) -> str:
    """``value`` rounded to ``decimals`` places in fixed-point notation, never ``-0``."""
    rounded = _round(value, decimals)
    text = f"{rounded:.{max(decimals, 0)}f}"
    return text[1:] if text.startswith("-") and not any(c in "123456789" for c in text) else text


def _decimals(value: float, digits: int) -> int:
    """Decimal places that show ``digits`` significant digits of ``value`` (after rounding, so 9.9996 -> 10.00)."""
    if value == 0:
        return digits - 1
    decimals = digits - 1 - math.floor(math.log10(abs(value)))
    rounded = _round(value, decimals)
    return decimals if rounded == 0 else digits - 1 - rounded.copy_abs().adjusted()


def format_estimate(mean: float, half_width: float = math.nan, *, integer: bool = False, digits: int = SIGNIFICANT) -> str:
    """The one rule for showing a number: ``mean ± half_width`` rounded to the uncertainty, or a value alone.

    * With a positive finite half-width: the half-width with two significant digits and the mean to the
      same decimal place (``930 ± 460``, ``0.9649 ± 0.0086``, ``-7 ± 16``, ``0.0000 ± 0.0052``).
    * Without one (NaN): the value with ``digits`` (4) significant digits (``9.608``, ``0.001450``).
    * With a zero half-width (the same on every seed): the value with 4 significant digits and ``± 0``.
    * ``integer`` (step counts and other counts): never a decimal place, whatever the half-width.
    * Always fixed-point, never scientific notation; NaN is a dash.
    """
    mean, half_width = float(mean), float(half_width)
    if math.isnan(mean):
        return "—"
    if math.isinf(mean):
        return "∞" if mean > 0 else "−∞"
    value = _fixed(mean, 0 if integer else _decimals(mean, digits))
    if math.isnan(half_width):
        return value
    if math.isinf(half_width):
        return f"{value} ± ∞"
    half_width = abs(half_width)
    if half_width == 0:
        return f"{value} ± 0"
    decimals = _decimals(half_width, INTERVAL_DIGITS)
    if integer:
        decimals = min(decimals, 0)
    return f"{_fixed(mean, decimals)} ± {_fixed(half_width, decimals)}"


def plus_minus(interval: Interval, integer: bool = False) -> str:
    """mean ± CI half-width by :func:`format_estimate`; one seed says so; none is a dash."""
    if interval.n == 0:
        return "—"
    if interval.n == 1:
        return f"{format_estimate(interval.mean, integer=integer)} (1 seed)"
    return format_estimate(interval.mean, interval.half_width, integer=integer)


def format_cell(value: object, digits: int = SIGNIFICANT) -> str:
    """A table cell: text as it is, whole floats (settings such as a retention) without the point, other floats
    with ``digits`` significant digits by :func:`format_estimate`, NaN as a dash."""
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        if value.is_integer() and abs(value) < 1e6:
            return str(int(value))
        return format_estimate(value, digits=digits)
    return str(value)


def to_markdown(frame: pd.DataFrame, digits: int = SIGNIFICANT) -> str:
    """``frame`` as a Markdown table, every value through :func:`format_cell` (NaN as a dash)."""
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = ["| " + " | ".join(format_cell(v, digits) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows]) + "\n"


def write_table(
    frame: pd.DataFrame, stem: str | Path, title: str = "", digits: int = SIGNIFICANT, markdown: str | None = None
) -> tuple[Path, Path]:
    """Write ``stem.md`` and ``stem.csv`` atomically; returns both paths. ``markdown``: the page's body
    (e.g. a legend line and a table with titled columns) instead of ``frame`` as it is."""
    stem = Path(stem)
    markdown = (f"# {title}\n\n" if title else "") + (to_markdown(frame, digits) if markdown is None else markdown)
    md_path, csv_path = stem.with_suffix(".md"), stem.with_suffix(".csv")
    atomic.write_text(md_path, markdown)
    atomic.write_text(csv_path, frame.to_csv(index=False, float_format="%.6g"))
    return md_path, csv_path


def comparison_mark(p_value: float, better: bool) -> str:
    """The boards' mark of a test against a baseline: '' untestable (nan p), ≈ not significant at ALPHA, else
    ▲ significantly better or ▼ significantly worse."""
    if math.isnan(p_value):
        return ""
    if p_value >= ALPHA:
        return "≈"
    return "▲" if better else "▼"
