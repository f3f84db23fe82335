"""The side-by-side table that `curbench run` prints: a method next to its baselines."""

from __future__ import annotations

import pandas as pd

from curbench.records import ResultRecord

METRIC_COLUMNS = ("fid", "kid", "precision", "recall", "density", "coverage")
ROLE_LABELS = {"method": "method", "full": "full data", "random": "random subset"}


def comparison_frame(records: dict[str, ResultRecord]) -> pd.DataFrame:
    rows = []
    for role, record in records.items():
        config = record.config
        row = {
            "row": ROLE_LABELS.get(role, role),
            "scorer": config["scorer"],
            "stage": config["stage"],
            "retention": config["retention"],
            "kept": f"{record.selection.n_kept}/{record.selection.n_total}",
            "samples": int(record.metrics.get("n_fake", 0)),
        }
        row.update({name: record.metrics.get(name, float("nan")) for name in METRIC_COLUMNS})
        if "acceptance_rate" in record.sampling:
            row["acceptance"] = record.sampling["acceptance_rate"]
        rows.append(row)
    return pd.DataFrame(rows)
