"""The side-by-side table that `curbench run` prints: a method next to its baselines."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from curbench.bench.cells import Role, record_is_sample_time
from curbench.bench.records import ResultRecord
from curbench.boards.tables import format_cell, format_estimate, metric_title, show_value, to_markdown

KID_NOTE = (
    "KID is the unbiased MMD² estimate: it can be slightly negative when the two sets are this close, "
    "and its scale depends on the feature space."
)


def comparison_frame(records: dict[Role, ResultRecord]) -> pd.DataFrame:
    """One line per role. Sample-time rows say so: stage `sample`, samples accepted/drawn, psi or acceptance."""
    rows = []
    for role, record in records.items():
        config = record.config
        sample_time = record_is_sample_time(record)
        n_fake = int(record.metrics.get("n_fake", 0))
        acceptance = record.sampling.get("acceptance_rate")
        if sample_time:
            kept = f"{n_fake}/{round(n_fake / acceptance)} drawn" if acceptance else f"{n_fake}/{n_fake} drawn"
        else:
            kept = f"{record.selection.n_kept}/{record.selection.n_total}"
        row = {
            "row": Role(role).label,
            "scorer": config["scorer"],
            "stage": "sample" if sample_time else "data",
            "retention": "—" if sample_time else config["retention"],
            "kept": kept,
            "samples": n_fake,
        }
        row.update({name: record.metrics.get(name, float("nan")) for name in _ranked(records.values())})
        for key, column in (("acceptance_rate", "acceptance"), ("psi", "psi")):
            if any(key in r.sampling for r in records.values()):
                row[column] = record.sampling.get(key, float("nan"))
        rows.append(row)
    return pd.DataFrame(rows)


def _ranked(records: Iterable[ResultRecord]) -> list[str]:
    """The metrics the records rank (their plugins' declared directions), in declaration order."""
    return list(dict.fromkeys(key for r in records for key, higher in r.directions.items() if higher is not None))


def comparison_legend(records: dict[Role, ResultRecord]) -> str:
    """The one line above the printed comparison table: what the rows are, the arrows, KID's scale, the rounding."""
    method = next(iter(records.values()), None)
    space = f" in the `{method.config['eval_embedder']}` feature space" if method is not None else ""
    return (
        "Rows: the method and its baselines (full data: every training instance; random subset: as many instances "
        f"as the method keeps, drawn at random), one seed each, metrics{space}; ↓ lower is better, ↑ higher is "
        "better; KID is the unbiased MMD² estimate (slightly negative when the sets are this close) and its scale "
        "depends on the feature space; one seed has no interval, so values show 4 significant digits."
    )


def comparison_markdown(records: dict[Role, ResultRecord]) -> str:
    """What `curbench run` prints and writes: the legend line, then the table with titled metric columns
    (FID ↓, precision ↑, ...) and every number by the boards' rounding rule."""
    frame = comparison_frame(records).astype(object)
    higher = {key: up for r in records.values() for key, up in r.directions.items() if up is not None}
    for column in frame.columns:
        if column in higher:
            frame[column] = [format_estimate(value) for value in frame[column]]
        elif column in ("retention", "psi"):  # settings: as given
            frame[column] = [format_cell(value) if value != value else show_value(value) for value in frame[column]]
        elif column == "acceptance":
            frame[column] = [format_estimate(value) for value in frame[column]]
    frame = frame.rename(columns={key: metric_title(key, up) for key, up in higher.items()})
    return f"{comparison_legend(records)}\n\n{to_markdown(frame)}"
