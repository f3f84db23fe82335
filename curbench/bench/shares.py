"""Group shares through the pipeline: each group's share of the full data, of the kept subset, and of the samples.

Generated samples carry no labels, so a group classifier assigns them one: a multinomial
logistic regression on the *evaluation* features of the real data (not the space that
selected), fitted on a stratified 80% and scored on the other 20% (its held-out accuracy is
recorded with the shares). Its confusion matrix on the held-out fifth also gives the
classifier's own share of each group there, so that a reader can tell classifier error from
generator bias: on real data the classified shares are what a perfect copy of the data would get.

The classifier's errors also bias the generated shares it reports, differently per group. Under label
shift (the generator changes how often each group appears, not what a group looks like) the
confusion matrix C[i, j] = P(predicted i | true j), measured on the held-out real fifth, maps the true
generated shares w to the predicted ones: C w = predicted. ``generated_corrected`` is the
non-negative least-squares solution of that system, normalised to sum to 1 (black-box shift
estimation, Lipton et al. 2018).

Amplification of a group at a stage is its share there divided by its share before that stage
(kept/full for selection, generated/kept for the generator). The summary disparity of a stage is
the total-variation distance between its group distribution and the full data's, and the smallest
and largest share ratio against the full data.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import nnls
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from curbench import streams
from curbench.bench.audit import group_order, groupings
from curbench.datasets.base import Dataset

HELDOUT_FRACTION = 0.2
MIN_PER_GROUP = 2  # a stratified split needs two members of every group


def _shares(values: np.ndarray, groups: list[str]) -> dict[str, float]:
    values = np.asarray(values).astype(str)
    return {group: float(np.mean(values == group)) for group in groups}


def label_shift_corrected(predicted: np.ndarray, truth: np.ndarray, generated: np.ndarray, groups: list[str]) -> dict[str, float]:
    """Generated shares corrected for the classifier's confusion on held-out real data (see the module docstring)."""
    predicted, truth, generated = (np.asarray(a).astype(str) for a in (predicted, truth, generated))
    confusion = np.zeros((len(groups), len(groups)))
    for j, true_group in enumerate(groups):
        members = truth == true_group
        if members.any():
            confusion[:, j] = [np.mean(predicted[members] == g) for g in groups]
    weights, _ = nnls(confusion, np.array([np.mean(generated == g) for g in groups]))
    total = weights.sum()
    return {g: float(w / total) if total > 0 else float("nan") for g, w in zip(groups, weights, strict=True)}


def _classifier(
    features: np.ndarray, groups: np.ndarray, seed: int
) -> tuple[StandardScaler, LogisticRegression, float, np.ndarray, np.ndarray]:
    """The group classifier, its held-out accuracy, its predictions on the held-out real instances and their truth."""
    train, test = train_test_split(
        np.arange(len(groups)), test_size=HELDOUT_FRACTION, stratify=groups, random_state=seed * 1000 + streams.GROUP_CLASSIFIER
    )
    scaler = StandardScaler().fit(features[train])
    model = LogisticRegression(max_iter=2000).fit(scaler.transform(features[train]), groups[train])
    predicted = model.predict(scaler.transform(features[test]))
    return scaler, model, float(np.mean(predicted == groups[test])), predicted, groups[test]


def group_shares(
    dataset: Dataset, kept: np.ndarray, real_features: np.ndarray, fake_features: np.ndarray, *, seed: int,
    reference: Dataset | None = None,
) -> dict[str, dict[str, Any]]:
    """Per grouping: full, kept and generated shares, the held-out real shares as classified, and the summaries.

    ``real_features`` are those of ``reference`` (default: ``dataset``), on which the group classifier is fitted.
    """
    reference = dataset if reference is None else reference
    evaluated = groupings(reference)
    report: dict[str, dict[str, Any]] = {}
    for name, values in groupings(dataset).items():
        if name not in evaluated:
            continue
        values, labelled = np.asarray(values).astype(str), np.asarray(evaluated[name]).astype(str)
        groups = sorted(set(values.tolist()) | set(labelled.tolist()), key=group_order)
        counts = np.array([np.sum(labelled == g) for g in groups])
        if len(groups) < 2 or counts.min() < MIN_PER_GROUP:
            continue
        scaler, model, accuracy, heldout, heldout_truth = _classifier(real_features, labelled, seed)
        generated = model.predict(scaler.transform(fake_features))
        shares = {
            "full": _shares(values, groups),
            "kept": _shares(values[kept], groups),
            "generated": _shares(generated, groups),
            "real_classified": _shares(heldout, groups),
            "generated_corrected": label_shift_corrected(heldout, heldout_truth, generated, groups),
        }
        report[name] = {"classifier_accuracy": accuracy, **shares, **summaries(shares)}
    return report


def summaries(shares: dict[str, dict[str, float]]) -> dict[str, float]:
    """Total variation and the extreme share ratios of the kept subset and of the samples against the full data."""
    full = shares["full"]
    found = {}
    for stage in ("kept", "generated"):
        ratios = [shares[stage][g] / full[g] for g in full if full[g] > 0]
        found[f"tv_{stage}"] = 0.5 * sum(abs(shares[stage][g] - full[g]) for g in full)
        found[f"min_ratio_{stage}"] = min(ratios)
        found[f"max_ratio_{stage}"] = max(ratios)
    return found
