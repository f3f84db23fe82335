"""Embed a whole dataset: fitted, batched, cached, and sharded across torchrun processes."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, SequentialSampler

from curbench import distributed
from curbench.cache import ArrayCache, key_digest
from curbench.datasets.base import Dataset
from curbench.embedders.base import Embedder
from curbench.errors import InvalidInputError

CACHE_NAMESPACE = "features"


class _Batches(torch.utils.data.Dataset[torch.Tensor]):
    """Index with a list of rows, get a whole uint8 batch: one fancy-index instead of N collates."""

    def __init__(self, images: np.ndarray, rows: np.ndarray) -> None:
        self.images = images
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, positions: list[int]) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(self.images[self.rows[positions]]))


def feature_cache_key(embedder: Embedder, dataset: Dataset) -> str:
    """Feature-cache key: the dataset's content hash and the embedder's fingerprint (so: call after fitting)."""
    return key_digest(dataset=dataset.content_hash, embedder=embedder.fingerprint())


def embed_dataset(
    embedder: Embedder,
    dataset: Dataset,
    *,
    cache: bool = True,
    batch_size: int | None = None,
    device: str | None = None,
    num_workers: int = 0,
    fit_on: Dataset | None = None,
) -> np.ndarray:
    """Float32 features (N, D) of every instance of ``dataset``, in dataset order.

    A trainable embedder is fitted on ``fit_on`` (default: ``dataset`` itself), e.g. an evaluation
    embedder on its own split of a dataset whose held-out reference it then embeds.

    Under an initialised process group each rank embeds its shard and every
    rank receives all features, identical to a single-process run.
    """
    if batch_size is not None and batch_size < 1:
        raise InvalidInputError(f"batch_size must be >= 1, got {batch_size}")
    if num_workers < 0:
        raise InvalidInputError(f"num_workers must be >= 0, got {num_workers}")
    if device is not None:
        embedder.to(device)
    _fit_once(embedder, dataset if fit_on is None else fit_on)
    if not dataset.is_image:  # point data: only identity-like embedders get here; nothing worth caching
        return embedder.embed(dataset.data)

    store = ArrayCache(CACHE_NAMESPACE) if cache else None
    key = feature_cache_key(embedder, dataset) if cache else ""
    cached = store.get(key) if store else None
    if distributed.all_agree(cached is not None) and cached is not None:  # the second test only narrows
        return cached["features"]

    rows = distributed.shard(len(dataset))
    local = _embed_rows(embedder, dataset.data, rows, batch_size or embedder.batch_size, num_workers)
    features = distributed.gather_rows(local)
    if store and distributed.is_main():
        store.put(key, {"features": features})
    return features


def _fit_once(embedder: Embedder, dataset: Dataset) -> None:
    """Rank 0 fits first so other ranks reuse its cached weights instead of training their own copy."""
    if distributed.is_main():
        embedder.fit(dataset)
    distributed.barrier()
    if not distributed.is_main():
        embedder.fit(dataset)


def _embed_rows(embedder: Embedder, images: np.ndarray, rows: np.ndarray, batch_size: int, num_workers: int) -> np.ndarray:
    on_cuda = embedder.device.type == "cuda"
    loader = DataLoader(
        _Batches(images, rows),
        batch_size=None,  # the sampler yields whole batches of positions
        sampler=BatchSampler(SequentialSampler(range(len(rows))), batch_size, drop_last=False),
        num_workers=num_workers,
        pin_memory=on_cuda,
        persistent_workers=False,
    )
    rank_note = f" [rank {distributed.rank()}]" if distributed.world_size() > 1 else ""
    return embedder.embed_batches(loader, len(rows), desc=f"embed {embedder.name}{rank_note}")
