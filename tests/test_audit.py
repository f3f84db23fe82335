"""Bias audit: per-group retention, recall and coverage against a direct dense computation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from curbench.bench.audit import audit
from curbench.datasets.base import Dataset
from curbench.metrics import PRDC


def _kth(dist: np.ndarray, k: int) -> np.ndarray:
    return np.sort(dist, axis=1)[:, k]  # column 0 is the point itself


def test_audit_matches_dense_reference():
    rng = np.random.default_rng(0)
    real = rng.standard_normal((120, 3))
    fake = rng.standard_normal((90, 3)) + np.array([0.8, 0.0, 0.0])
    labels = rng.integers(0, 3, size=120)
    side = (real[:, 0] > 0).astype(np.int64)
    dataset = Dataset("unit", data=real.astype(np.float32), labels=labels, groups={"side": side})
    kept = np.flatnonzero(rng.random(120) < 0.6)

    report = audit(dataset, kept, PRDC(k=5, tie="lt").per_point(real, fake))

    fake_radii = _kth(cdist(fake, fake), 5)
    real_radii = _kth(cdist(real, real), 5)
    cross = cdist(real, fake)
    recall = (cross < fake_radii[None, :]).any(axis=1)
    coverage = cross.min(axis=1) < real_radii
    for name, groups in (("class", labels), ("side", side)):
        for g in np.unique(groups):
            members = groups == g
            entry = report["per_group"][name][str(g)]
            assert entry["recall"] == recall[members].mean()
            assert entry["coverage"] == coverage[members].mean()
            kept_fraction = np.isin(np.flatnonzero(members), kept).mean()
            assert report["retention_by_group"][name][str(g)] == kept_fraction
        recalls = [recall[groups == g].mean() for g in np.unique(groups)]
        assert np.isclose(report["max_disparity"][name]["recall"], max(recalls) - min(recalls))


def test_label_shift_correction_recovers_generated_shares_from_a_confused_classifier():
    from curbench.bench.shares import label_shift_corrected

    groups = ["0", "1", "2"]
    # Held-out real data: 100 of each group; the classifier confuses them with known rates.
    confusion = np.array([[0.8, 0.1, 0.0], [0.2, 0.7, 0.3], [0.0, 0.2, 0.7]])  # P(predicted row | true column)
    truth = np.repeat(groups, 100)
    predicted = np.concatenate([np.repeat(groups, np.rint(confusion[:, j] * 100).astype(int)) for j in range(3)])
    true_generated = np.array([0.5, 0.1, 0.4])
    generated = np.repeat(groups, np.rint(confusion @ true_generated * 1000).astype(int))
    corrected = label_shift_corrected(predicted, truth, generated, groups)
    assert [corrected[g] for g in groups] == pytest.approx(true_generated, abs=1e-9)
    # A perfect classifier changes nothing.
    plain = label_shift_corrected(truth, truth, generated, groups)
    assert [plain[g] for g in groups] == pytest.approx([np.mean(generated == g) for g in groups], abs=1e-12)
