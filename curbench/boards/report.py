"""The side-by-side table that `curbench run` prints: a method next to its baselines."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from curbench.bench.cells import Role, record_is_sample_time
from curbench.bench.records import ResultRecord

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
