"""Offline embedders: pixels, the random CNN baseline and the label-trained classifier."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from curbench.datasets.base import Dataset
from curbench.datasets.digits import load_digits
from curbench.embedders.features import embed_dataset
from curbench.embedders.offline import ClassifierEmbedder, LeNetEmbedder, PixelEmbedder, RandomCNNEmbedder
from curbench.errors import InvalidInputError

RNG = np.random.default_rng(0)


def _images(n: int, channels: int, size: int) -> np.ndarray:
    return RNG.integers(0, 256, (n, channels, size, size), dtype=np.uint8)


# -- pixels -------------------------------------------------------------------------------------


def test_pixels_are_scaled_and_flattened():
    images = _images(5, 3, 4)
    expected = images.reshape(5, -1).astype(np.float64) / 255
    np.testing.assert_allclose(PixelEmbedder().embed(images), expected, rtol=1e-6)
    np.testing.assert_allclose(embed_dataset(PixelEmbedder(), Dataset("x", images), cache=False), expected, rtol=1e-6)
    gray = _images(3, 1, 8)  # grayscale keeps its single channel
    assert PixelEmbedder().embed_batch(torch.from_numpy(gray)).shape == (3, 64)


def test_pixels_pass_points_through_and_others_refuse_them():
    points = RNG.normal(size=(6, 2))
    ds = Dataset("toy", points)
    np.testing.assert_array_equal(embed_dataset(PixelEmbedder(), ds), points.astype(np.float32))
    with pytest.raises(InvalidInputError, match="random-cnn.*2-D points.*--embedder pixels") as info:
        embed_dataset(RandomCNNEmbedder(), ds)
    assert "\n" not in str(info.value)


def test_embed_rejects_float_images():
    with pytest.raises(InvalidInputError, match="uint8"):
        RandomCNNEmbedder().embed_batch(torch.zeros(2, 3, 8, 8))


# -- random CNN ---------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [8, 28, 32])
def test_random_cnn_is_seeded_and_handles_small_and_gray_images(size):
    gray = _images(4, 1, size)
    a = RandomCNNEmbedder(seed=3, device="cpu").embed(gray)
    assert a.shape == (4, RandomCNNEmbedder().feature_dim) and np.isfinite(a).all() and a.std() > 0
    np.testing.assert_array_equal(a, RandomCNNEmbedder(seed=3, device="cpu").embed(gray))
    assert not np.allclose(a, RandomCNNEmbedder(seed=4, device="cpu").embed(gray))
    # Grayscale is the same as an RGB image with three equal channels.
    np.testing.assert_allclose(a, RandomCNNEmbedder(seed=3, device="cpu").embed(np.repeat(gray, 3, axis=1)), rtol=1e-6)


def test_random_cnn_does_not_disturb_the_global_rng():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    RandomCNNEmbedder(seed=9).embed(_images(1, 3, 8))
    assert torch.equal(torch.rand(3), expected)


# -- classifier ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits_split(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CURBENCH_CACHE_DIR", str(tmp_path_factory.mktemp("clf-cache")))
        digits = load_digits()
        train, test = train_test_split(np.arange(len(digits)), test_size=0.3, random_state=0, stratify=digits.labels)
        embedder = ClassifierEmbedder(device="cpu").fit(digits.subset(train))
    return digits, train, test, embedder


def test_classifier_features_beat_a_pixel_logistic_regression(digits_split):
    """Held-out accuracy of a linear probe on the learned features vs. the same probe on raw pixels."""
    digits, train, test, embedder = digits_split
    y = digits.labels
    probe = LogisticRegression(max_iter=3000)
    feature_acc = probe.fit(embedder.embed(digits.data[train]), y[train]).score(embedder.embed(digits.data[test]), y[test])
    pixels = digits.data.reshape(len(digits), -1) / 255
    pixel_acc = LogisticRegression(max_iter=3000).fit(pixels[train], y[train]).score(pixels[test], y[test])
    assert pixel_acc > 0.9  # sanity of the reference level itself
    assert feature_acc >= pixel_acc - 0.02, (feature_acc, pixel_acc)


def test_classifier_weights_are_cached_and_reused(tmp_path, monkeypatch):
    ds = Dataset("tiny", _images(24, 3, 32), labels=np.arange(24) % 3)
    first = ClassifierEmbedder(epochs=1, width=4, feature_size=8, device="cpu").fit(ds)
    features = first.embed(ds.data)
    monkeypatch.setattr(ClassifierEmbedder, "_train", lambda *a: pytest.fail("retrained despite cached weights"))
    second = ClassifierEmbedder(epochs=1, width=4, feature_size=8, device="cpu").fit(ds)
    np.testing.assert_array_equal(second.embed(ds.data), features)
    assert second.fingerprint() == first.fingerprint()
    other = Dataset("tiny", ds.data, labels=np.arange(24) % 2)  # other labels: other training, other cache key
    monkeypatch.undo()
    assert ClassifierEmbedder(epochs=1, width=4, feature_size=8, device="cpu").fit(other).fingerprint() != first.fingerprint()


def test_classifier_training_is_deterministic(tmp_path, monkeypatch):
    ds = Dataset("tiny", _images(20, 1, 28), labels=np.arange(20) % 2)
    runs = []
    for attempt in range(2):
        monkeypatch.setenv("CURBENCH_CACHE_DIR", str(tmp_path / f"cache{attempt}"))  # no reuse: train twice
        runs.append(ClassifierEmbedder(epochs=2, width=4, feature_size=8, seed=5, device="cpu").fit(ds).embed(ds.data))
    np.testing.assert_array_equal(runs[0], runs[1])


def test_classifier_needs_labels_and_fitting():
    unlabelled = Dataset("u", _images(4, 1, 8))
    with pytest.raises(InvalidInputError, match="has none.*random-cnn"):
        ClassifierEmbedder().fit(unlabelled)
    with pytest.raises(InvalidInputError, match="not trained"):
        ClassifierEmbedder().embed(unlabelled.data)
    with pytest.raises(InvalidInputError, match="epochs"):
        ClassifierEmbedder(epochs=0)


# -- lenet: the evaluation space ------------------------------------------------------------------


def test_lenet_reports_the_accuracy_of_its_recipe_on_a_held_out_stratified_fifth(monkeypatch):
    """The reported accuracy is that of a network trained, with the same recipe, on the other four fifths."""
    digits = load_digits()
    embedder = LeNetEmbedder(epochs=8, device="cpu").fit(digits)
    train, test = train_test_split(np.arange(len(digits)), test_size=0.2, stratify=digits.labels, random_state=1)
    independent = LeNetEmbedder(epochs=8, device="cpu")
    network = independent._new_network(10)
    independent._train(network, digits.data[train], digits.labels[train])
    with torch.inference_mode():
        logits = network(torch.from_numpy(digits.data[test]).expand(-1, 3, -1, -1).float() / 127.5 - 1)
    expected = float((logits.argmax(1).numpy() == digits.labels[test]).mean())
    assert embedder.quality() == {"heldout_accuracy": pytest.approx(expected, abs=1e-12)}
    assert expected > 0.85
    monkeypatch.setattr(LeNetEmbedder, "_train", lambda *a: pytest.fail("retrained despite cached weights"))
    assert LeNetEmbedder(epochs=8, device="cpu").fit(digits).quality() == embedder.quality()  # cached with the weights


def test_lenet_is_a_different_space_from_the_selection_classifier():
    """Another architecture and seed: the two spaces do not share weights, widths or nearest neighbours."""
    digits = load_digits()
    lenet = LeNetEmbedder(epochs=4, device="cpu")
    classifier = ClassifierEmbedder(epochs=4, device="cpu")
    a, b = embed_dataset(lenet, digits), embed_dataset(classifier, digits)
    assert a.shape[1] == 64 and b.shape[1] == 128 and lenet.fingerprint() != classifier.fingerprint()
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in lenet.model.modules())
    from sklearn.neighbors import NearestNeighbors

    first = NearestNeighbors(n_neighbors=6).fit(a).kneighbors(a, return_distance=False)[:, 1:]
    second = NearestNeighbors(n_neighbors=6).fit(b).kneighbors(b, return_distance=False)[:, 1:]
    shared = np.mean([len(set(x) & set(y)) / 5 for x, y in zip(first, second, strict=True)])
    assert shared < 0.9  # related (same labels) but not the same neighbourhoods


def test_too_small_classes_give_no_held_out_accuracy():
    ds = Dataset("tiny", _images(12, 1, 8), labels=np.arange(12) % 3)
    assert np.isnan(LeNetEmbedder(epochs=1, device="cpu").fit(ds).heldout_accuracy)


def test_weights_checksum_is_the_sha256_of_the_fitted_parameters(tmp_path, monkeypatch):
    """Independent of curbench's hashing helpers: sha256 over name, dtype, shape and bytes of each tensor."""
    import hashlib

    monkeypatch.setenv("CURBENCH_CACHE_DIR", str(tmp_path))
    ds = Dataset("tiny", _images(20, 1, 28), labels=np.arange(20) % 2)
    embedder = ClassifierEmbedder(epochs=1, width=4, feature_size=8, seed=3, device="cpu")
    assert embedder.weights_checksum() is None
    embedder.fit(ds)
    outer = hashlib.sha256()
    for name, tensor in sorted(embedder._network.state_dict().items()):
        array = np.ascontiguousarray(tensor.numpy())
        inner = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode() + array.tobytes()).hexdigest()
        outer.update(name.encode() + inner.encode())
    assert embedder.weights_checksum() == outer.hexdigest()[:16]
    cached = ClassifierEmbedder(epochs=1, width=4, feature_size=8, seed=3, device="cpu").fit(ds)
    assert cached.weights_checksum() == embedder.weights_checksum()  # loaded weights, same checksum
    reseeded = ClassifierEmbedder(epochs=1, width=4, feature_size=8, seed=4, device="cpu").fit(ds)
    assert reseeded.weights_checksum() != embedder.weights_checksum()
