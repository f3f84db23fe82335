"""Embedders: uint8 images -> float features, plus the cached, sharded dataset embedding."""

from curbench.embedders.base import Embedder, PretrainedEmbedder
from curbench.embedders.features import embed_dataset

__all__ = ["Embedder", "PretrainedEmbedder", "embed_dataset"]
