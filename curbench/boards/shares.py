"""Group shares on a board: each group's share in the full data, the kept subset and the samples, with CIs.

Reads ``record.audit["shares"]`` (see :mod:`curbench.bench.shares`). Every board gets a summary
per grouping (total variation against the full data and the smallest share ratio, per stage)
and, per group, the shares and the amplification of each stage with 95% intervals over seeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from curbench.bench.audit import group_order
from curbench.boards.rows import Row, number, varying_fields
from curbench.boards.tables import csv_value, plus_minus, show_value
from curbench.stats import mean_ci

SHARES_FILE = "shares.csv"
SUMMARIES = (
    ("classifier_accuracy", "group classifier held-out acc."),
    ("tv_kept", "TV(kept, full) ↓"),
    ("tv_generated", "TV(generated, full) ↓"),
    ("min_ratio_kept", "min share ratio kept/full"),
    ("min_ratio_generated", "min share ratio generated/full"),
)
# (label, numerator stage, denominator stage): a group's share after a stage over its share before it.
AMPLIFICATIONS = (("selection (kept/full)", "kept", "full"), ("generator (generated/kept)", "generated", "kept"),
                  ("pipeline (generated/full)", "generated", "full"))


def _shares(record: Any, grouping: str) -> dict[str, Any]:
    found: dict[str, Any] = record.audit.get("shares", {}).get(grouping, {})
    return found


def groupings(rows: Sequence[Row]) -> list[str]:
    """The sorted groupings any of the rows' records has shares for."""
    return sorted({g for row in rows for r in row.records for g in r.audit.get("shares", {})})


def _ratio(shares: dict[str, Any], group: str, numerator: str, denominator: str) -> float:
    below = shares.get(denominator, {}).get(group)
    above = shares.get(numerator, {}).get(group)
    return above / below if isinstance(above, float) and isinstance(below, float) and below > 0 else float("nan")


def share_sections(rows: Sequence[Row]) -> tuple[list[tuple[str, pd.DataFrame]], pd.DataFrame]:
    """Markdown sections (title, frame) per grouping, and one long CSV frame with every share and ratio."""
    fields = varying_fields(rows)
    sections, long_rows = [], []

    def setting(row: Row) -> dict[str, Any]:
        return {"row": row.label, **{f: show_value(row.config.get(f)) for f in fields}}

    def record_long(row: Row, grouping: str, group: str, quantity: str, values: list[float]) -> None:
        interval = mean_ci(values)
        long_rows.append({"row": row.label, **{f: csv_value(row.config.get(f)) for f in fields}, "grouping": grouping,
                          "group": group, "quantity": quantity, "mean": interval.mean, "ci95": interval.half_width,
                          "seeds": interval.n})

    for grouping in groupings(rows):
        summary = []
        for row in rows:
            line = setting(row)
            for key, title in SUMMARIES:
                values = [number(_shares(r, grouping).get(key)) for r in row.records]
                line[title] = plus_minus(mean_ci(values))
                record_long(row, grouping, "", key, values)
            summary.append(line)
        sections.append((f"Disparity across `{grouping}` groups", pd.DataFrame(summary)))
        groups = sorted({g for row in rows for r in row.records for g in _shares(r, grouping).get("full", {})}, key=group_order)
        for stage in ("full", "kept", "generated"):
            wide = []
            for row in rows:
                line = setting(row)
                for group in groups:
                    values = [number(_shares(r, grouping).get(stage, {}).get(group)) for r in row.records]
                    line[group] = plus_minus(mean_ci(values))
                    record_long(row, grouping, group, f"share_{stage}", values)
                wide.append(line)
            if stage == "full":  # the same dataset on every row: one line
                full = {"data": "all instances", **{g: wide[0][g] for g in groups}} if wide else {}
                sections.append((f"Share of each `{grouping}` group in the full data", pd.DataFrame([full])))
            else:
                where = "kept subset" if stage == "kept" else "generated samples (as classified)"
                sections.append((f"Share of each `{grouping}` group in the {where}", pd.DataFrame(wide)))
        for title, numerator, denominator in AMPLIFICATIONS:
            wide = []
            for row in rows:
                line = setting(row)
                for group in groups:
                    values = [_ratio(_shares(r, grouping), group, numerator, denominator) for r in row.records]
                    line[group] = plus_minus(mean_ci(values))
                    record_long(row, grouping, group, f"amplification_{numerator}_over_{denominator}", values)
                wide.append(line)
            sections.append((f"Amplification of each `{grouping}` group by {title}", pd.DataFrame(wide)))
    return sections, pd.DataFrame(long_rows)
