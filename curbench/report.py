"""The side-by-side table that `curbench run` prints: a method next to its baselines."""

from __future__ import annotations

import pandas as pd

from curbench.records import ResultRecord, is_sample_time

METRIC_COLUMNS = ("fid", "kid", "precision", "recall", "density", "coverage")
ROLE_LABELS = {"method": "method", "full": "full data", "random": "random subset"}
KID_NOTE = (
    "KID is the unbiased MMD² estimate: it can be slightly negative when the two sets are this close, "
    "and its scale depends on the feature space."
)


def comparison_frame(records: dict[str, ResultRecord]) -> pd.DataFrame:
    """One line per role. Sample-time rows say so: stage `sample`, samples accepted/drawn, psi or acceptance."""
    rows = []
    for role, record in records.items():
        config = record.config
        sample_time = is_sample_time(record)
        n_fake = int(record.metrics.get("n_fake", 0))
        acceptance = record.sampling.get("acceptance_rate")
        if sample_time:
            kept = f"{n_fake}/{round(n_fake / acceptance)} drawn" if acceptance else f"{n_fake}/{n_fake} drawn"
        else:
            kept = f"{record.selection.n_kept}/{record.selection.n_total}"
        row = {
            "row": ROLE_LABELS.get(role, role),
            "scorer": config["scorer"],
            "stage": "sample" if sample_time else "data",
            "retention": "—" if sample_time else config["retention"],
            "kept": kept,
            "samples": n_fake,
        }
        row.update({name: record.metrics.get(name, float("nan")) for name in METRIC_COLUMNS})
        for key, column in (("acceptance_rate", "acceptance"), ("psi", "psi")):
            if any(key in r.sampling for r in records.values()):
                row[column] = record.sampling.get(key, float("nan"))
        rows.append(row)
    return pd.DataFrame(rows)
