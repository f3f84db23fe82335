"""Bias audit: who a curation method removed, and how well each group is still generated.

For every grouping of the dataset (its class labels under ``"class"``, plus each
entry of ``Dataset.groups``) this reports the fraction of each group that was
kept, each group's recall and coverage (the per-real-point indicators of the
PRDC metrics, averaged within the group), and the largest disparity: the
difference between the best- and worst-served group.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from curbench.scorers.selection import retention_by_group

if TYPE_CHECKING:  # types only: boards import this module's helpers without loading the metric engine (torch)
    from curbench.datasets.base import Dataset
    from curbench.metrics.prdc import PRDCPoints

CLASS_GROUPING = "class"


def groupings(dataset: Dataset) -> dict[str, np.ndarray]:
    """The dataset's groupings: its class labels under ``class`` (when labelled), then each of ``dataset.groups``."""
    found = {CLASS_GROUPING: dataset.labels} if dataset.labels is not None else {}
    found.update(dataset.groups)
    return found


def _mean_by_group(indicator: np.ndarray, groups: np.ndarray) -> dict[str, float]:
    values, inverse = np.unique(groups, return_inverse=True)
    sums = np.bincount(inverse, weights=indicator.astype(np.float64), minlength=len(values))
    counts = np.bincount(inverse, minlength=len(values))
    return {str(value): float(s / c) for value, s, c in zip(values, sums, counts, strict=True)}


def _spread(by_group: dict[str, float]) -> float:
    return float(max(by_group.values()) - min(by_group.values())) if by_group else 0.0


def audit(dataset: Dataset, kept: np.ndarray, points: PRDCPoints, reference: Dataset | None = None) -> dict[str, Any]:
    """``{"retention_by_group", "per_group", "max_disparity"}``, each keyed by grouping name then group value.

    ``points`` are the per-point PRDC outcomes of the generated samples against ``reference``
    (default: ``dataset``); retention is of ``dataset``'s groups, recall and coverage of the reference's.
    """
    evaluated = groupings(reference if reference is not None else dataset)
    retention: dict[str, dict[str, float]] = {}
    per_group: dict[str, dict[str, dict[str, float]]] = {}
    disparity: dict[str, dict[str, float]] = {}
    for name, groups in groupings(dataset).items():
        retention[name] = retention_by_group(kept, groups)
        if name not in evaluated:
            continue
        recall = _mean_by_group(points.real_in_fake_balls, evaluated[name])
        coverage = _mean_by_group(points.real_covered, evaluated[name])
        per_group[name] = {g: {"recall": recall[g], "coverage": coverage[g]} for g in recall}
        disparity[name] = {
            "retention": _spread(retention[name]), "recall": _spread(recall), "coverage": _spread(coverage)
        }
    return {"retention_by_group": retention, "per_group": per_group, "max_disparity": disparity}


def group_order(value: str) -> tuple[int, object]:
    """Sort key of group values: integers numerically, then names."""
    return (0, int(value)) if value.lstrip("-").isdigit() else (1, value)
