"""Track-page sections of the held-out protocol: the metrics in the selection space, and the memorization check.

Both come from fields a cell records beside its main metrics (``metrics_by_space``, ``audit["memorization"]``);
tracks whose records lack them get no section.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import pandas as pd

from curbench.bench.records import ResultRecord
from curbench.boards.rows import Row, generator_rows, group_rows, number
from curbench.boards.tables import plus_minus, to_markdown
from curbench.stats import mean_ci

SELECTION_SPACE = "selection"
MEMORIZATION_COLUMNS = {"nn_train_share": "nearest neighbour is a training image", "copies": "near-copies"}


def selection_space_records(records: Sequence[ResultRecord]) -> list[ResultRecord]:
    """The records with their selection-space metrics as their metrics (those that have them)."""
    return [
        dataclasses.replace(record, metrics=record.metrics_by_space[SELECTION_SPACE], references={}, curve=[], audit={})
        for record in records if SELECTION_SPACE in record.metrics_by_space
    ]


def selection_space_section(
    records: Sequence[ResultRecord], results_frame: Callable[[list[Row]], pd.DataFrame]
) -> list[str]:
    """The results table again, computed in the space the scorers selected in (``results_frame`` renders rows)."""
    selected = selection_space_records(records)
    if not selected:
        return []
    return [
        "## Metrics in the selection space", "",
        "The same samples and reference evaluated in the selection embedder's space instead of the independent "
        "evaluation space. A method that looks better here than in the evaluation space is partly rewarded for "
        "agreeing with its own embedding.", "",
        to_markdown(results_frame(group_rows(selected))),
    ]


def memorization_section(rows: Sequence[Row]) -> list[str]:
    """Per generator row: the share of samples whose nearest neighbour is a training image, and near-copies."""
    lines = []
    for row in generator_rows(rows):
        checks = [r.audit.get("memorization", {}) for r in row.records]
        if not any(checks):
            continue
        line = {"row": row.label, "scorer": row.config["scorer"], "retention": row.config["retention"]}
        for key, title in MEMORIZATION_COLUMNS.items():
            line[title] = plus_minus(mean_ci([number(check.get(key)) for check in checks]))
        lines.append(line)
    if not lines:
        return []
    return [
        "## Memorization check", "",
        "For each sample, is its nearest neighbour (evaluation space) among an equal-size draw of the generator's "
        "training images rather than of the held-out reference? 0.5 = as close to unseen data as to the training "
        "data; toward 1 = copying. A generator trained on a selected subset sits above 0.5 without copying, since its "
        "training draw is denser where it samples. Near-copies: samples closer to a training image than that image's "
        "nearest other training image. Mean ± 95% CI over seeds.", "",
        to_markdown(pd.DataFrame(lines)),
    ]
