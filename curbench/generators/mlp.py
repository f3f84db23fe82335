"""MLP GAN for low-dimensional points (the toy track); trains in seconds on a CPU.

Points are standardised with the training mean and standard deviation (stored
in the checkpoint) so the networks see unit-scale data whatever the units.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from curbench.errors import InvalidInputError
from curbench.generators.dcgan import LabelConcat, ProjectionHead
from curbench.generators.torch_gan import TorchGAN

if TYPE_CHECKING:
    from curbench.datasets.base import Dataset


class MLPNetG(nn.Module):
    def __init__(self, latent_dim: int, dim: int, hidden: int, layers: int, num_classes: int | None) -> None:
        super().__init__()
        self.condition = LabelConcat(latent_dim, num_classes)
        sizes = [self.condition.out_features] + [hidden] * layers
        body: list[nn.Module] = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
            body += [nn.Linear(fan_in, fan_out), nn.ReLU()]
        self.body = nn.Sequential(*body, nn.Linear(hidden, dim))

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Latents (N, latent_dim) and class indices (or None) -> standardised points (N, D)."""
        out: torch.Tensor = self.body(self.condition(z, y))
        return out


class MLPNetD(nn.Module):
    def __init__(self, dim: int, hidden: int, layers: int, num_classes: int | None) -> None:
        super().__init__()
        sizes = [dim] + [hidden] * layers
        body: list[nn.Module] = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
            body += [spectral_norm(nn.Linear(fan_in, fan_out)), nn.LeakyReLU(0.2)]
        self.body = nn.Sequential(*body)
        self.head = ProjectionHead(hidden, num_classes)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Standardised points (N, D) and class indices (or None) -> raw logits (N,)."""
        logits: torch.Tensor = self.head(self.body(x), y)
        return logits


class MLPGAN(TorchGAN):
    """GAN over float points ``(N, D)``; ``conditional=None`` conditions on the labels when the dataset has them."""

    architecture = "mlp"
    data_kind = "points"

    def __init__(
        self,
        *,
        steps: int = 400,
        batch_size: int = 256,
        lr: float = 1e-3,
        latent_dim: int = 8,
        hidden: int = 128,
        layers: int = 3,
        conditional: bool | None = None,
        ema: float = 0.99,
        checkpoint_every: int = 1000,
        device: str = "auto",
        amp: bool = False,
        cpu_threads: int | None = 1,
    ) -> None:
        super().__init__(
            steps=steps, batch_size=batch_size, lr=lr, latent_dim=latent_dim, conditional=conditional,
            ema=ema, checkpoint_every=checkpoint_every, device=device, amp=amp,
            cpu_threads=cpu_threads,
        )
        for name, value in (("hidden", hidden), ("layers", layers)):
            if not isinstance(value, int) or value < 1:
                raise InvalidInputError(f"mlp option {name} must be a positive integer, got {value!r}")
        self.options.update(hidden=hidden, layers=layers)

    def _spec(self, dataset: Dataset) -> dict[str, Any]:
        points = np.asarray(dataset.data, dtype=np.float64)
        if not np.isfinite(points).all():
            raise InvalidInputError(f"dataset '{dataset.name}' has NaN or inf coordinates; remove those points")
        return {
            "latent_dim": self.latent_dim,
            "dim": points.shape[1],
            "hidden": self.options["hidden"],
            "layers": self.options["layers"],
            "mean": points.mean(axis=0).tolist(),
            "std": np.maximum(points.std(axis=0), 1e-12).tolist(),
            **self._label_spec(dataset),
        }

    def _build(self, spec: dict[str, Any]) -> tuple[nn.Module, nn.Module]:
        num_classes = None if spec["classes"] is None else len(spec["classes"])
        return (
            MLPNetG(spec["latent_dim"], spec["dim"], spec["hidden"], spec["layers"], num_classes),
            MLPNetD(spec["dim"], spec["hidden"], spec["layers"], num_classes),
        )

    def _scale(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        spec = self._fitted_spec()
        mean = torch.tensor(spec["mean"], dtype=torch.float32, device=like.device)
        std = torch.tensor(spec["std"], dtype=torch.float32, device=like.device)
        return mean, std

    def to_model(self, data: torch.Tensor) -> torch.Tensor:
        """Float points (N, D) -> float32, standardised by the training data's per-dimension mean and std."""
        spec = self._fitted_spec()
        if data.ndim != 2 or data.shape[1] != spec["dim"] or not data.dtype.is_floating_point:
            raise InvalidInputError(
                f"mlp expects float points of shape (N, {spec['dim']}), got {data.dtype} {tuple(data.shape)}"
            )
        mean, std = self._scale(data)
        return (data.float() - mean) / std

    def from_model(self, output: torch.Tensor) -> np.ndarray:
        """Standardised output -> float32 points (N, D) in the data's coordinates."""
        mean, std = self._scale(output)
        return (output * std + mean).cpu().numpy().astype(np.float32)
