"""From scores to the kept subset: the paper's percentile rule, an exact-count rule, and per-group retention."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from numbers import Real
from typing import get_args

import numpy as np

from curbench.choices import SelectionMode
from curbench.errors import InvalidInputError
from curbench.plugins.contracts import DataScorer
from curbench.plugins.records import ScorerRecord
from curbench.progress import progress
from curbench.scorers.base import Scorer
from curbench.validation import check_features, check_labels


def _check_retention(retention: float) -> float:
    if isinstance(retention, bool) or not isinstance(retention, Real) or not 0 < retention <= 100:
        raise InvalidInputError(f"retention must be a percentage in (0, 100], got {retention!r}; pass e.g. 50")
    return float(retention)


def _check_scores(scores: np.ndarray) -> np.ndarray:
    array = np.asarray(scores)
    if array.ndim != 1 or array.size == 0 or array.dtype.kind not in "fiu":
        raise InvalidInputError(f"scores must be a non-empty 1-D numeric array (one per instance), got shape {array.shape} dtype {array.dtype}")
    if not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).sum())
        raise InvalidInputError(f"scores contain NaN or inf in {bad} entries; fix the scorer or its features")
    return array


def _groups(n: int, labels: np.ndarray | None, per_class: bool) -> Iterator[np.ndarray]:
    """Indices of each selection group: one per class, or everything at once."""
    if labels is None or not per_class:
        yield np.arange(n)
        return
    for value in np.unique(labels):
        yield np.flatnonzero(labels == value)


def _keep_count(retention: float, n: int) -> int:
    """round(retention / 100 * n), halves rounded up; multiplying first keeps e.g. 70% of 10 exactly 7."""
    return int(np.floor(retention * n / 100 + 0.5))


def select(
    scores: np.ndarray,
    retention: float,
    *,
    labels: np.ndarray | None = None,
    per_class: bool = True,
    mode: SelectionMode = "percentile",
) -> np.ndarray:
    """Sorted int64 indices of the kept instances.

    ``percentile``: keep scores strictly above ``np.percentile(group, 100 - retention)``
    (linear interpolation), the paper's rule; ties at the cut-off are all dropped.
    ``count``: keep exactly round(retention / 100 * group size) of the highest scores,
    ties broken by lower index first. Groups are classes when ``labels`` are given and
    ``per_class``, else all instances. ``retention = 100`` keeps everything.
    """
    scores = _check_scores(scores)
    retention = _check_retention(retention)
    labels = check_labels(labels, len(scores))
    if mode not in get_args(SelectionMode):
        raise InvalidInputError(f"selection mode must be one of {', '.join(get_args(SelectionMode))}, got {mode!r}")
    if retention == 100:
        return np.arange(len(scores), dtype=np.int64)
    kept = []
    groups = list(_groups(len(scores), labels, per_class))
    for group in groups:
        group_scores = scores[group]
        if mode == "percentile":
            kept.append(group[group_scores > np.percentile(group_scores, 100 - retention)])
        else:
            # A stable sort of the negated scores puts equal scores in index order.
            order = np.argsort(-group_scores, kind="stable")
            kept.append(group[order[: _keep_count(retention, len(group))]])
    kept_all = np.sort(np.concatenate(kept)).astype(np.int64)
    if not len(kept_all):  # training on nothing would fail later with a message that hides why
        raise InvalidInputError(_kept_nothing(retention, mode, [len(group) for group in groups], len(groups) > 1))
    return kept_all


def _kept_nothing(retention: float, mode: SelectionMode, sizes: list[int], per_class: bool) -> str:
    span = f"{min(sizes)}" if min(sizes) == max(sizes) else f"{min(sizes)}-{max(sizes)}"
    what = f"each of the {len(sizes)} classes ({span} instances)" if per_class else f"the {sizes[0]} instances"
    if mode == "count":
        # round(r * n / 100) >= 1 needs r >= 50 / n for the largest group n (rounded up to 0.01).
        return (f"retention {retention:g}% keeps no instance: count mode keeps round({retention:g}% of {what}), "
                f"which is 0; pass a retention of at least {math.ceil(5000 / max(sizes)) / 100:g}, "
                "or selection_mode percentile")
    return (f"retention {retention:g}% keeps no instance: percentile mode keeps only scores strictly above the "
            f"{100 - retention:g}th percentile of {what}, and none is (tied scores); pass a higher retention, "
            "or selection_mode count")


def check_data_scorer(record: ScorerRecord) -> None:
    """Only data-stage scorers score instances; a sample-time curator filters a generator's samples instead."""
    if record.stage == "sample":
        raise InvalidInputError(
            f"scorer '{record.name}' is a sample-time curator: it curates a generator's samples and gives no "
            f"per-instance scores; score data with a data scorer such as knn, or use it in "
            f"`curbench run --scorer {record.name}`"
        )


def score_instances(
    make_scorer: Callable[[], DataScorer],
    features: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    per_class: bool = True,
) -> np.ndarray:
    """One float64 score per instance.

    Per class (``labels`` given and ``per_class``): a fresh scorer is fitted on each
    class and scores that class, as the paper fits one density per class. Otherwise one
    scorer is fitted on all instances (with their labels, if any) and scores them.
    """
    features = check_features(features)
    labels = check_labels(labels, len(features))
    scores = np.empty(len(features))
    if labels is None or not per_class:
        scores[:] = _checked_output(make_scorer().fit(features, labels).score(features), len(features))
        return scores
    classes = np.unique(labels)
    for value in progress(classes, total=len(classes), desc="scoring classes", unit="class"):
        members = np.flatnonzero(labels == value)
        scorer = make_scorer().fit(features[members], labels[members])
        scores[members] = _checked_output(scorer.score(features[members]), len(members))
    return scores


def summarize_diagnostics(scorers: Iterable[object]) -> dict[str, dict[str, float]]:
    """Each diagnostic of the fitted scorers (one per class under per-class selection): its mean, minimum and count."""
    values: dict[str, list[float]] = {}
    for scorer in scorers:
        if isinstance(scorer, Scorer):
            for key, value in scorer.diagnostics().items():
                values.setdefault(key, []).append(float(value))
    return {key: {"mean": float(np.mean(v)), "min": float(np.min(v)), "fits": float(len(v))} for key, v in values.items()}


def _checked_output(scores: np.ndarray, n: int) -> np.ndarray:
    array = np.asarray(scores, dtype=np.float64)
    if array.shape != (n,):
        raise InvalidInputError(f"scorer returned scores of shape {array.shape} for {n} instances; it must return one score per instance")
    return array


def retention_by_group(kept_indices: np.ndarray, groups: np.ndarray) -> dict[str, float]:
    """Fraction of each group's members that were kept, keyed by ``str(group value)``."""
    groups = np.asarray(groups)
    if groups.ndim != 1:
        raise InvalidInputError(f"groups must be 1-D (one value per instance), got shape {groups.shape}")
    kept_indices = np.asarray(kept_indices)
    if kept_indices.size and (
        kept_indices.dtype.kind not in "iu" or kept_indices.min() < 0 or kept_indices.max() >= len(groups)
    ):
        raise InvalidInputError(f"kept indices must be integers in [0, {len(groups)}); pass the output of select()")
    kept = np.zeros(len(groups), dtype=bool)
    kept[kept_indices.astype(np.int64)] = True
    values, inverse = np.unique(groups, return_inverse=True)
    totals = np.bincount(inverse, minlength=len(values))
    kept_counts = np.bincount(inverse, weights=kept, minlength=len(values))
    return {str(value): float(k / t) for value, k, t in zip(values, kept_counts, totals, strict=True)}
