"""DCGAN-style image GAN: hinge loss, spectral-norm discriminator, EMA generator, optional class conditioning.

The number of up/down-sampling blocks follows the image size: the image is
halved while both sides stay even and at least 4 (8x8 -> 1 block from 4x4,
28x28 -> 2 blocks from 7x7, 32x32 -> 3, 64x64 -> 4).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from curbench.errors import InvalidInputError
from curbench.generators.torch_gan import TorchGAN

if TYPE_CHECKING:
    from curbench.datasets.base import Dataset

MAX_WIDTH_MULTIPLIER = 8


def resolution_plan(height: int, width: int) -> tuple[int, int, int]:
    """(number of 2x blocks, starting height, starting width) for an image size."""
    blocks = 0
    while height % 2 == 0 and width % 2 == 0 and height // 2 >= 4 and width // 2 >= 4:
        height, width, blocks = height // 2, width // 2, blocks + 1
    return blocks, height, width


def channels(width: int, level: int) -> int:
    """Feature channels at ``level`` (0: full resolution): ``width`` doubled per level, capped at 8 x ``width``."""
    multiplier: int = 2**level  # typeshed cannot tell an int power from a float one
    return width * min(multiplier, MAX_WIDTH_MULTIPLIER)


class ProjectionHead(nn.Module):
    """Logit = linear(h) + <embed(y), h> (Miyato & Koyama's projection discriminator)."""

    def __init__(self, features: int, num_classes: int | None) -> None:
        super().__init__()
        self.linear = spectral_norm(nn.Linear(features, 1))
        self.embed = None if num_classes is None else spectral_norm(nn.Embedding(num_classes, features))

    def forward(self, h: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """Logits (N,) from features ``h`` (N, F); with classes, plus the projection <embed(y), h>."""
        logits: torch.Tensor = self.linear(h).squeeze(1)
        if self.embed is not None:
            logits = logits + (self.embed(y) * h).sum(dim=1)
        return logits


class LabelConcat(nn.Module):
    """Concatenates a learned class embedding to the latent (identity for unconditional models)."""

    def __init__(self, latent_dim: int, num_classes: int | None) -> None:
        super().__init__()
        self.embed = None if num_classes is None else nn.Embedding(num_classes, latent_dim)
        self.out_features = latent_dim * (1 if num_classes is None else 2)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """``z``, with the class embedding of ``y`` appended along dim 1 when conditional."""
        return z if self.embed is None else torch.cat([z, self.embed(y)], dim=1)


class ConvGenerator(nn.Module):
    def __init__(self, latent_dim: int, shape: list[int], width: int, num_classes: int | None) -> None:
        super().__init__()
        blocks, self.start_h, self.start_w = resolution_plan(shape[1], shape[2])
        self.top = channels(width, blocks)
        self.condition = LabelConcat(latent_dim, num_classes)
        self.project = nn.Linear(self.condition.out_features, self.top * self.start_h * self.start_w)
        layers: list[nn.Module] = [nn.BatchNorm2d(self.top), nn.ReLU()]
        for level in range(blocks, 0, -1):
            layers += [
                nn.ConvTranspose2d(channels(width, level), channels(width, level - 1), 4, stride=2, padding=1),
                nn.BatchNorm2d(channels(width, level - 1)),
                nn.ReLU(),
            ]
        layers += [nn.Conv2d(width, shape[0], 3, padding=1), nn.Tanh()]
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Latents (N, latent_dim) and class indices (or None) -> images (N, C, H, W) in [-1, 1]."""
        h = self.project(self.condition(z, y)).view(len(z), self.top, self.start_h, self.start_w)
        images: torch.Tensor = self.body(h)
        return images


class ConvDiscriminator(nn.Module):
    def __init__(self, shape: list[int], width: int, num_classes: int | None) -> None:
        super().__init__()
        blocks, start_h, start_w = resolution_plan(shape[1], shape[2])
        layers: list[nn.Module] = [spectral_norm(nn.Conv2d(shape[0], width, 3, padding=1)), nn.LeakyReLU(0.2)]
        for level in range(blocks):
            layers += [
                spectral_norm(nn.Conv2d(channels(width, level), channels(width, level + 1), 4, stride=2, padding=1)),
                nn.LeakyReLU(0.2),
            ]
        self.body = nn.Sequential(*layers, nn.Flatten())
        self.head = ProjectionHead(channels(width, blocks) * start_h * start_w, num_classes)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Images (N, C, H, W) in [-1, 1] and class indices (or None) -> raw logits (N,)."""
        logits: torch.Tensor = self.head(self.body(x), y)
        return logits


class DCGAN(TorchGAN):
    """Image GAN for 1- or 3-channel images from 8x8 up to 64x64 (any size works; see :func:`resolution_plan`).

    ``conditional=None`` trains a class-conditional model when the dataset has labels.
    """

    architecture = "dcgan"
    data_kind = "image"

    def __init__(
        self,
        *,
        steps: int = 1200,
        batch_size: int = 64,
        lr: float = 2e-4,
        latent_dim: int = 64,
        width: int = 32,
        conditional: bool | None = None,
        ema: float = 0.999,
        checkpoint_every: int = 500,
        device: str = "auto",
        amp: bool = True,
        cpu_threads: int | None = 1,
        d_lr: float | None = None,
    ) -> None:
        super().__init__(
            steps=steps, batch_size=batch_size, lr=lr, latent_dim=latent_dim, conditional=conditional,
            ema=ema, checkpoint_every=checkpoint_every, device=device, amp=amp,
            cpu_threads=cpu_threads, d_lr=d_lr,
        )
        if not isinstance(width, int) or width < 1:
            raise InvalidInputError(f"dcgan option width must be a positive integer, got {width!r}")
        self.options["width"] = width

    def _spec(self, dataset: Dataset) -> dict[str, Any]:
        return {
            "latent_dim": self.latent_dim,
            "shape": list(dataset.data.shape[1:]),
            "width": self.options["width"],
            **self._label_spec(dataset),
        }

    def _build(self, spec: dict[str, Any]) -> tuple[nn.Module, nn.Module]:
        num_classes = None if spec["classes"] is None else len(spec["classes"])
        return (
            ConvGenerator(spec["latent_dim"], spec["shape"], spec["width"], num_classes),
            ConvDiscriminator(spec["shape"], spec["width"], num_classes),
        )

    def to_model(self, data: torch.Tensor) -> torch.Tensor:
        """uint8 images of the fitted shape -> floats in [-1, 1]; raises on any other dtype or shape."""
        spec = self._fitted_spec()
        if data.dtype != torch.uint8 or data.ndim != 4 or list(data.shape[1:]) != spec["shape"]:
            raise InvalidInputError(
                f"dcgan expects uint8 images of shape (N, {', '.join(map(str, spec['shape']))}), "
                f"got {data.dtype} {tuple(data.shape)}"
            )
        return data.float() / 127.5 - 1

    def from_model(self, output: torch.Tensor) -> np.ndarray:
        """Generator output in [-1, 1] -> uint8 images (see :func:`images_from_model`)."""
        return images_from_model(output)


def images_from_model(output: torch.Tensor) -> np.ndarray:
    """Generator images in [-1, 1] -> uint8 (N, C, H, W)."""
    return ((output.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu().numpy()
