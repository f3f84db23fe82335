"""Plain Markdown and CSV renderings of pandas frames (no optional table dependencies)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from curbench import atomic

if TYPE_CHECKING:
    from curbench.stats import Interval


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


def plus_minus(interval: Interval) -> str:
    """mean ± CI half-width; one seed says so; none is a dash."""
    if interval.n == 0:
        return "—"
    if interval.n == 1:
        return f"{format_cell(interval.mean)} (1 seed)"
    return f"{format_cell(interval.mean)} ± {format_cell(interval.half_width)}"


def format_cell(value: object, digits: int = 4) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        if value.is_integer() and abs(value) < 1e6:
            return str(int(value))
        return f"{value:.{digits}g}" if abs(value) >= 1e4 or (value and abs(value) < 1e-3) else f"{value:.{digits}f}"
    return str(value)


def to_markdown(frame: pd.DataFrame, digits: int = 4) -> str:
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = ["| " + " | ".join(format_cell(v, digits) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows]) + "\n"


def write_table(frame: pd.DataFrame, stem: str | Path, title: str = "", digits: int = 4) -> tuple[Path, Path]:
    """Write ``stem.md`` and ``stem.csv`` atomically; returns both paths."""
    stem = Path(stem)
    markdown = (f"# {title}\n\n" if title else "") + to_markdown(frame, digits)
    md_path, csv_path = stem.with_suffix(".md"), stem.with_suffix(".csv")
    atomic.write_text(md_path, markdown)
    atomic.write_text(csv_path, frame.to_csv(index=False, float_format="%.6g"))
    return md_path, csv_path
