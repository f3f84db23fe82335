"""The embedder contract: uint8 images in, float features out.

Modelled on torch-fidelity's feature-extractor base: an embedder has a name,
a fixed feature dimension, consumes uint8 N x C x H x W tensors and does its
own resizing and normalisation, so callers never preprocess. ``fingerprint``
identifies everything that determines the features, keying the feature cache.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import torch
from torch import nn

from curbench.cache import key_digest
from curbench.device import resolve_device
from curbench.embedders.weights import WeightSpec, file_sha256, resolve_weights
from curbench.errors import InvalidInputError
from curbench.progress import progress

if TYPE_CHECKING:
    from curbench.datasets.base import Dataset

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Embedder:
    """Base class; subclasses set ``name`` and implement :meth:`build_model` and :meth:`preprocess`.

    ``build_model`` returns a module mapping preprocessed float images to features;
    it is called lazily on first use so constructing an embedder stays cheap.
    """

    name: ClassVar[str] = "embedder"
    accepts_points: ClassVar[bool] = False
    # AMP on CUDA unless an embedder must reproduce a reference library's fp32 features.
    use_amp: ClassVar[bool] = True
    # Bump when a code change alters this embedder's features, so cached features are not reused.
    code_version: ClassVar[int] = 1

    def __init__(self, *, batch_size: int = 64, device: str = "auto") -> None:
        if batch_size < 1:
            raise InvalidInputError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        self.device = torch.device(resolve_device(device))
        self._model: nn.Module | None = None

    # -- what subclasses provide -------------------------------------------------------
    def build_model(self) -> nn.Module:
        """Build the module mapping preprocessed float images to features; :attr:`model` calls it once."""
        raise NotImplementedError

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """Float images (N, 3, H, W) in 0..255 -> the network's input."""
        return images

    def weights_digest(self) -> str | None:
        """sha256 of the weights the features depend on (None for weight-free embedders)."""
        return None

    def preprocessing(self) -> dict[str, object]:
        """Everything besides weights that changes the features (resize, normalisation, options)."""
        return {}

    def quality(self) -> dict[str, float]:
        """What is known of how good the space is (e.g. a trained embedder's held-out accuracy); recorded per cell."""
        return {}

    # -- the contract ------------------------------------------------------------------
    @property
    def model(self) -> nn.Module:
        """The network, built on first use: on the device, in eval mode, without gradients (channels-last on CUDA)."""
        if self._model is None:
            model = self.build_model().to(self.device).eval().requires_grad_(False)
            if self.device.type == "cuda":
                model = model.to(memory_format=torch.channels_last)
            self._model = model
        return self._model

    @property
    def feature_dim(self) -> int:
        """Width D of the (N, D) features; subclasses provide it."""
        raise NotImplementedError

    def to(self, device: str) -> Embedder:
        """Move to ``device`` ('auto', 'cpu', 'cuda', ...), including an already-built model."""
        self.device = torch.device(resolve_device(device))
        if self._model is not None:
            self._model = self._model.to(self.device)
        return self

    def fingerprint(self) -> str:
        """Digest of name, code version, weights and preprocessing: keys the feature cache for this space."""
        return key_digest(
            embedder=self.name, code=self.code_version, weights=self.weights_digest(), preprocessing=self.preprocessing()
        )

    def fit(self, dataset: Dataset) -> Embedder:
        """Adapt to ``dataset`` (only trainable embedders do anything); returns self."""
        self.check_data(dataset.data, f"dataset '{dataset.name}'")
        return self

    def check_data(self, data: np.ndarray, what: str) -> None:
        """Raise :class:`InvalidInputError` if ``data`` holds 2-D points and this embedder needs images."""
        if data.ndim == 2 and not self.accepts_points:
            raise InvalidInputError(
                f"embedder '{self.name}' needs images (N, C, H, W) but {what} holds {data.shape[1]}-D points; "
                "use --embedder pixels for point data"
            )

    def embed_batch(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (N, C, H, W) with C in {1, 3} -> float features (N, feature_dim) on the embedder's device."""
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] not in (1, 3):
            raise InvalidInputError(
                f"embedder '{self.name}' takes uint8 images (N, C, H, W) with C = 1 or 3, "
                f"got {tuple(images.shape)} {images.dtype}"
            )
        x = images.to(self.device, non_blocking=True)
        if x.shape[1] == 1:  # grayscale into an RGB network: repeat the channel
            x = x.expand(-1, 3, -1, -1)
        x = self.preprocess(x.float())
        if self.device.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), self._autocast():
            features: torch.Tensor = self.model(x)
        return features.flatten(1).float()

    def embed(self, images: np.ndarray) -> np.ndarray:
        """Embed an in-memory array batch by batch (no cache); float32 (N, feature_dim)."""
        array = np.asarray(images)
        self.check_data(array, "the input")
        if array.ndim != 4:
            raise InvalidInputError(f"embedder '{self.name}' takes images (N, C, H, W), got shape {array.shape}")
        batches = (
            torch.from_numpy(np.ascontiguousarray(array[start : start + self.batch_size]))
            for start in range(0, len(array), self.batch_size)
        )
        return self.embed_batches(batches, len(array))

    def embed_batches(self, batches: Iterable[torch.Tensor], total: int, desc: str = "") -> np.ndarray:
        """Embed uint8 batches holding ``total`` images into one float32 array, with a progress bar (img/s)."""
        out: np.ndarray | None = None
        start = 0
        with progress(total=total, desc=desc or f"embed {self.name}", unit="img") as bar:
            for batch in batches:
                features = self.embed_batch(batch).cpu().numpy()
                if out is None:  # allocate once the width is known (pixels: it depends on the data)
                    out = np.empty((total, features.shape[1]), dtype=np.float32)
                out[start : start + len(features)] = features
                start += len(features)
                bar.update(len(features))
        return out if out is not None else np.empty((0, self.feature_dim), dtype=np.float32)

    def _autocast(self) -> contextlib.AbstractContextManager[None]:
        if self.use_amp and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.float16)
        return contextlib.nullcontext()


def imagenet_normalize(images: torch.Tensor) -> torch.Tensor:
    """0..255 floats -> ImageNet-normalised inputs."""
    mean = torch.tensor(IMAGENET_MEAN, device=images.device).view(1, 3, 1, 1) * 255
    std = torch.tensor(IMAGENET_STD, device=images.device).view(1, 3, 1, 1) * 255
    return (images - mean) / std


def resize_bilinear(images: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear resize to size x size; an input already that size passes through untouched."""
    if images.shape[-2:] == (size, size):
        return images
    return nn.functional.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)


class PretrainedEmbedder(Embedder):
    """An embedder whose network loads a pinned weights file (see :mod:`curbench.embedders.weights`).

    The weights are located when the embedder is built, so a missing file fails
    before any work; the network itself loads lazily on first use.
    """

    weight_spec: ClassVar[WeightSpec]

    def __init__(self, *, weights: str | None = None, batch_size: int = 32, device: str = "auto") -> None:
        super().__init__(batch_size=batch_size, device=device)
        self.weights_path = resolve_weights(self.weight_spec, weights)

    def weights_digest(self) -> str | None:
        """sha256 of the weights file actually loaded, not of the pinned spec."""
        # The actual file's hash, so a user's fine-tuned weights never share cache entries with the originals.
        return file_sha256(self.weights_path)
