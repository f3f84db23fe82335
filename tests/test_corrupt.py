"""Injected corruptions (ground truth) and detection scores against scikit-learn's AUROC."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from curbench.bench.groundtruth import detection_scores
from curbench.datasets.base import Dataset
from curbench.datasets.corrupt import (
    CORRUPTION_CODES,
    CORRUPTION_KINDS,
    DUPLICATE_NOISE_STD,
    NOISE_STD,
    corrupt,
    load_corrupted,
)
from curbench.datasets.digits import load_digits
from curbench.datasets.toy import load_toy
from curbench.errors import InvalidInputError
from curbench.scorers import score_instances
from curbench.scorers.density import GaussianScorer
from curbench.scorers.random import RandomScorer


def image_dataset(n=300, shape=(3, 12, 10), classes=4, seed=0) -> Dataset:
    rng = np.random.default_rng(seed)
    return Dataset(
        name="synthetic",
        data=rng.integers(40, 216, size=(n, *shape), dtype=np.uint8),
        labels=rng.integers(0, classes, n),
        groups={"site": rng.integers(0, 2, n)},
    )


def only(kind: str, dataset: Dataset, fraction=0.2, seed=1):
    corrupted, mask = corrupt(dataset, fraction=fraction, kinds=(kind,), seed=seed)
    return corrupted, mask, np.flatnonzero(mask)


def test_mask_groups_and_counts():
    dataset = image_dataset()
    corrupted, mask = corrupt(dataset, fraction=0.1)
    assert mask.dtype == bool and mask.sum() == 30
    np.testing.assert_array_equal(corrupted.groups["corrupted"], mask.astype(np.int64))
    codes = corrupted.groups["corruption"]
    assert set(np.unique(codes[mask])) == set(range(1, 8)) and not codes[~mask].any()
    counts = np.bincount(codes[mask])[1:]
    assert counts.max() - counts.min() <= 1  # spread evenly over the seven kinds
    np.testing.assert_array_equal(corrupted.data[~mask], dataset.data[~mask])
    np.testing.assert_array_equal(corrupted.labels[~mask], dataset.labels[~mask])
    assert corrupted.name == "synthetic-corrupted" and dataset.groups.keys() < corrupted.groups.keys()


def test_deterministic_per_seed():
    dataset = image_dataset()
    first, second, other = (corrupt(dataset, seed=s)[0] for s in (3, 3, 4))
    assert first.content_hash == second.content_hash != other.content_hash


def test_invert_and_flip_are_exact_and_keep_labels():
    dataset = image_dataset()
    inverted, _, targets = only("invert", dataset)
    np.testing.assert_array_equal(inverted.data[targets], 255 - dataset.data[targets])
    flipped, _, targets = only("flip", dataset)
    np.testing.assert_array_equal(flipped.data[targets], dataset.data[targets][:, :, ::-1, :])
    np.testing.assert_array_equal(flipped.labels, dataset.labels)


def test_noise_has_the_documented_strength():
    dataset = Dataset("grey", np.full((400, 1, 16, 16), 128, np.uint8))
    noisy, _, targets = only("noise", dataset, fraction=0.5)
    difference = noisy.data[targets].astype(float) - 128
    assert abs(difference.std() - NOISE_STD) < 0.1 * NOISE_STD  # clipping at 0/255 trims a little


def test_blur_smooths_and_keeps_constant_images():
    rng = np.random.default_rng(0)
    checker = (np.indices((16, 16)).sum(0) % 2 * 255).astype(np.uint8)
    data = np.stack([checker, np.full((16, 16), 77, np.uint8)] * 50)[:, None]
    blurred, _, targets = only("blur", Dataset("pattern", data), fraction=0.5, seed=int(rng.integers(100)))
    for index in targets:
        before, after = data[index, 0].astype(float), blurred.data[index, 0].astype(float)
        if before.std() == 0:
            np.testing.assert_array_equal(after, before)
        else:  # high-frequency energy (neighbour differences) drops sharply; brightness is kept
            assert np.abs(np.diff(after, axis=1)).mean() < 0.1 * np.abs(np.diff(before, axis=1)).mean()
            assert abs(after.mean() - before.mean()) < 10


def test_occlusion_is_one_contrasting_square_of_half_the_side():
    dataset = image_dataset(shape=(1, 12, 10))
    occluded, _, targets = only("occlusion", dataset)
    side = 5  # round(min(12, 10) / 2)
    for index in targets:
        before, after = dataset.data[index, 0], occluded.data[index, 0]
        fill = np.rint(255 - np.median(before))
        placements = []
        for top in range(12 - side + 1):
            for left in range(10 - side + 1):
                inside = np.zeros(before.shape, bool)
                inside[top : top + side, left : left + side] = True
                if (after[inside] == fill).all() and (after[~inside] == before[~inside]).all():
                    placements.append((top, left))
        assert placements, f"instance {index} is not one {side}x{side} square of {fill}"


def test_duplicates_copy_a_clean_image_with_its_label_and_groups():
    dataset = image_dataset()
    duplicated, mask, targets = only("duplicate", dataset)
    clean = np.flatnonzero(~mask)
    for index in targets:
        distance = np.abs(duplicated.data[index].astype(float) - dataset.data[clean].astype(float)).max(axis=(1, 2, 3))
        source = clean[np.argmin(distance)]
        assert distance.min() <= 6 * DUPLICATE_NOISE_STD and source != index
        assert duplicated.labels[index] == dataset.labels[source]
        assert duplicated.groups["site"][index] == dataset.groups["site"][source]


def test_wrong_labels_are_other_existing_classes_on_unchanged_images():
    dataset = image_dataset(n=2000)
    relabelled, _, targets = only("label", dataset)
    np.testing.assert_array_equal(relabelled.data, dataset.data)
    old, new = dataset.labels[targets], relabelled.labels[targets]
    assert (old != new).all() and set(new) <= set(dataset.labels)
    assert len(set(zip(old.tolist(), new.tolist(), strict=True))) == 12  # every (old, other) pair occurs


@pytest.mark.parametrize("shape", [(1, 1, 1), (3, 5, 7), (1, 33, 64)])
def test_every_kind_runs_on_any_image_size(shape):
    dataset = image_dataset(n=40, shape=shape)
    corrupted, mask = corrupt(dataset, fraction=0.5, kinds=CORRUPTION_KINDS)
    assert corrupted.data.shape == dataset.data.shape and corrupted.data.dtype == np.uint8 and mask.sum() == 20


def test_invalid_requests_are_one_line_errors():
    with pytest.raises(InvalidInputError, match="corruptions need images"):
        corrupt(load_toy(n=50))
    for fraction in (1.0, -0.1, "0.1"):
        with pytest.raises(InvalidInputError, match=r"fraction must be a number in \[0, 1\)"):
            corrupt(image_dataset(), fraction=fraction)
    with pytest.raises(InvalidInputError, match="seed must be a non-negative integer"):
        corrupt(image_dataset(), seed="x")
    with pytest.raises(InvalidInputError, match="unknown corruption kind 'nosie'; did you mean 'noise'"):
        corrupt(image_dataset(), kinds=("nosie",))
    unlabelled = Dataset("plain", image_dataset().data)
    with pytest.raises(InvalidInputError, match="fewer than 2 classes"):
        corrupt(unlabelled, kinds=("label",))


def test_load_corrupted_digits_through_the_registry():
    dataset = load_corrupted(base="digits", fraction=0.1, kinds="noise, invert", seed=2)
    assert dataset.name == "digits-corrupted" and len(dataset) == 1797
    codes = dataset.groups["corruption"]
    assert (codes > 0).sum() == 180  # round(179.7)
    assert set(np.unique(codes)) == {0, CORRUPTION_CODES["noise"], CORRUPTION_CODES["invert"]}
    as_list = load_corrupted(fraction=0.1, kinds=["noise", "invert"], seed=2)
    assert as_list.content_hash == dataset.content_hash
    with pytest.raises(InvalidInputError, match="unknown corruption kind '5'"):
        load_corrupted(kinds=5)


def test_per_class_gaussian_on_pixels_finds_noise_and_occlusion_and_random_does_not():
    dataset, mask = corrupt(load_digits(), fraction=0.1, kinds=("noise", "occlusion"), seed=0)
    pixels = dataset.data.reshape(len(dataset), -1) / 255.0
    gaussian = detection_scores(score_instances(GaussianScorer, pixels, dataset.labels), mask)
    random = detection_scores(score_instances(RandomScorer, pixels, dataset.labels), mask)
    assert gaussian["auroc"] > 0.95 and gaussian["precision_at_k"] > 0.8
    assert abs(random["auroc"] - 0.5) < 0.1 and random["precision_at_k"] < 0.25


def test_detection_scores_against_sklearn_with_ties():
    rng = np.random.default_rng(1)
    scores = rng.integers(0, 5, 200).astype(float)
    mask = rng.random(200) < 0.3
    result = detection_scores(scores, mask)
    assert result["auroc"] == pytest.approx(roc_auc_score(mask, -scores), abs=1e-12)
    assert result["n_corrupted"] == result["k"] == mask.sum()


def test_precision_at_k_hand_computed():
    scores = np.array([0.1, 0.5, 0.2, 0.9, 0.2, 0.0])
    mask = np.array([1, 0, 0, 0, 1, 0])
    # Lowest first, ties by lower index: 5 (0.0), 0 (0.1), 2 (0.2), 4 (0.2), 1, 3.
    assert detection_scores(scores, mask)["precision_at_k"] == 0.5
    assert detection_scores(scores, mask, k=3)["precision_at_k"] == pytest.approx(1 / 3)
    assert detection_scores(scores, mask, k=4)["precision_at_k"] == 0.5
    assert detection_scores(scores, mask)["auroc"] == pytest.approx(roc_auc_score(mask, -scores))


def test_detection_scores_edge_cases():
    clean = detection_scores(np.arange(4.0), np.zeros(4, bool))
    assert np.isnan(clean["auroc"]) and np.isnan(clean["precision_at_k"]) and clean["k"] == 0
    with pytest.raises(InvalidInputError, match="one entry per instance"):
        detection_scores(np.arange(4.0), np.zeros(3, bool))
    with pytest.raises(InvalidInputError, match="k must be between 0 and the number of instances"):
        detection_scores(np.arange(4.0), np.ones(4, bool), k=5)
    with pytest.raises(InvalidInputError, match="boolean or 0/1"):
        detection_scores(np.arange(4.0), np.array([0, 2, 1, 0]))
