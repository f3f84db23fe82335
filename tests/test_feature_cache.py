"""embed_dataset: order, batching, workers, and the verified on-disk feature cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from curbench.cache import ArrayCache
from curbench.datasets.base import Dataset
from curbench.embedders.features import CACHE_NAMESPACE, embed_dataset, feature_cache_key
from curbench.embedders.offline import PixelEmbedder, RandomCNNEmbedder
from curbench.errors import InvalidInputError


@pytest.fixture
def dataset() -> Dataset:
    images = np.random.default_rng(0).integers(0, 256, (23, 1, 8, 8), dtype=np.uint8)
    return Dataset("small", images, labels=np.arange(23) % 4)


def _one_by_one(embedder: RandomCNNEmbedder, data: np.ndarray) -> np.ndarray:
    """Reference: every image embedded alone, in order."""
    return np.concatenate([embedder.embed_batch(torch.from_numpy(data[i : i + 1])).numpy() for i in range(len(data))])


@pytest.mark.parametrize(("batch_size", "num_workers"), [(5, 0), (64, 0), (4, 1)])
def test_features_keep_dataset_order_for_any_batching(dataset, batch_size, num_workers):
    embedder = RandomCNNEmbedder(seed=1, device="cpu")
    features = embed_dataset(embedder, dataset, cache=False, batch_size=batch_size, num_workers=num_workers)
    assert features.dtype == np.float32 and features.shape == (23, embedder.feature_dim)
    np.testing.assert_allclose(features, _one_by_one(embedder, dataset.data), rtol=1e-5, atol=1e-6)


def test_second_call_reads_the_cache(dataset, monkeypatch):
    first = embed_dataset(RandomCNNEmbedder(seed=1), dataset)
    monkeypatch.setattr(RandomCNNEmbedder, "embed_batch", lambda *a: pytest.fail("cache missed"))
    np.testing.assert_array_equal(embed_dataset(RandomCNNEmbedder(seed=1), dataset), first)


def test_cache_key_follows_data_and_embedder(dataset):
    base = feature_cache_key(RandomCNNEmbedder(seed=1), dataset)
    assert feature_cache_key(RandomCNNEmbedder(seed=2), dataset) != base
    assert feature_cache_key(RandomCNNEmbedder(seed=1, width=8), dataset) != base
    changed = dataset.data.copy()
    changed[0, 0, 0, 0] ^= 1
    assert feature_cache_key(RandomCNNEmbedder(seed=1), Dataset("small", changed, labels=dataset.labels)) != base
    assert feature_cache_key(RandomCNNEmbedder(seed=1, batch_size=3), dataset) == base  # batching is not identity


@pytest.mark.parametrize("damage", ["garbage", "tampered"])
def test_corrupt_or_stale_entries_are_recomputed(dataset, damage):
    embedder = RandomCNNEmbedder(seed=1)
    fresh = embed_dataset(embedder, dataset)
    path = ArrayCache(CACHE_NAMESPACE).path(feature_cache_key(embedder, dataset))
    if damage == "garbage":
        path.write_bytes(b"not a zip file")
    else:  # right format, wrong content: the stored checksum no longer matches
        with np.load(path) as stored:
            arrays = dict(stored)
        arrays["features"] = arrays["features"] + 1
        np.savez(path, **arrays)
    np.testing.assert_array_equal(embed_dataset(embedder, dataset), fresh)
    np.testing.assert_array_equal(ArrayCache(CACHE_NAMESPACE).get(feature_cache_key(embedder, dataset))["features"], fresh)


def test_cache_off_writes_nothing(dataset, isolated_cache):
    embed_dataset(RandomCNNEmbedder(seed=1), dataset, cache=False)
    assert not (isolated_cache / CACHE_NAMESPACE).exists()


def test_bad_arguments(dataset):
    with pytest.raises(InvalidInputError, match="batch_size"):
        embed_dataset(RandomCNNEmbedder(), dataset, batch_size=0)
    with pytest.raises(InvalidInputError, match="num_workers"):
        embed_dataset(RandomCNNEmbedder(), dataset, num_workers=-1)


def test_a_code_version_bump_invalidates_cached_features(monkeypatch):
    dataset = Dataset("points", np.zeros((4, 2), dtype=np.float32))
    before = feature_cache_key(PixelEmbedder(), dataset)
    monkeypatch.setattr(PixelEmbedder, "code_version", PixelEmbedder.code_version + 1)
    assert feature_cache_key(PixelEmbedder(), dataset) != before
