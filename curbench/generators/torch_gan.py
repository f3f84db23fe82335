"""The torch GAN that the built-in generators share: networks, EMA sampler, checkpoints, training via train_gan."""

from __future__ import annotations

import os
from abc import abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from torch import nn

from curbench import streams
from curbench.device import resolve_device
from curbench.distributed import world_size
from curbench.errors import InvalidInputError
from curbench.generators.checkpoint_io import CHECKPOINT_FORMAT, load_state, read_checkpoint, write_checkpoint
from curbench.generators.contract import Generator
from curbench.generators.labels import label_index
from curbench.generators.train import train_gan

if TYPE_CHECKING:
    from curbench.datasets.base import Dataset
    from curbench.generators.lifecycle import TrainingHooks

SAMPLE_BATCH = 1024


def training_device(requested: str) -> torch.device:
    """The resolved device; under DDP on CUDA, each process takes the GPU of its local rank."""
    device = torch.device(resolve_device(requested))
    if device.type == "cuda" and device.index is None and world_size() > 1:
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return device


class TorchGAN(Generator):
    """A generator/discriminator pair trained by :func:`curbench.generators.train.train_gan`.

    Subclasses describe the data (:meth:`_spec`), build the two networks from
    that description (:meth:`_build`) and convert between data and model space.
    Networks take ``(input, class_index_or_None)``; the discriminator returns
    one logit per sample.
    """

    architecture: ClassVar[str]
    has_discriminator = True

    def __init__(
        self,
        *,
        steps: int,
        batch_size: int,
        lr: float,
        latent_dim: int,
        conditional: bool | None,
        ema: float,
        checkpoint_every: int,
        device: str = "auto",
        amp: bool = True,
        cpu_threads: int | None = 1,
        d_lr: float | None = None,
    ) -> None:
        for name, value in (("steps", steps), ("batch_size", batch_size), ("latent_dim", latent_dim)):
            if not isinstance(value, int) or value < 1:
                raise InvalidInputError(f"{self.architecture} option {name} must be a positive integer, got {value!r}")
        if not lr > 0:
            raise InvalidInputError(f"{self.architecture} option lr must be > 0, got {lr!r}")
        if d_lr is not None and not d_lr > 0:
            raise InvalidInputError(f"{self.architecture} option d_lr must be > 0 or null (null: the same as lr), got {d_lr!r}")
        if not 0 <= ema < 1:
            raise InvalidInputError(f"{self.architecture} option ema must be in [0, 1), got {ema!r} (0 disables it)")
        if cpu_threads is not None and (not isinstance(cpu_threads, int) or cpu_threads < 1):
            raise InvalidInputError(f"{self.architecture} option cpu_threads must be a positive integer or null, got {cpu_threads!r}")
        if not isinstance(checkpoint_every, int) or checkpoint_every < 0:
            raise InvalidInputError(f"{self.architecture} option checkpoint_every must be an integer >= 0 (0: only at the end)")
        self.options: dict[str, Any] = dict(
            steps=steps, batch_size=batch_size, lr=lr, latent_dim=latent_dim, conditional=conditional,
            ema=ema, checkpoint_every=checkpoint_every, amp=amp, cpu_threads=cpu_threads,
        )
        if d_lr is not None:  # the discriminator's own learning rate (two time-scale updates); absent: lr
            self.options["d_lr"] = d_lr
        self.latent_dim = latent_dim
        self.device = training_device(device)
        self.spec: dict[str, Any] | None = None
        self.generator_net: nn.Module | None = None
        self.ema_net: nn.Module | None = None
        self.discriminator_net: nn.Module | None = None

    # --- what subclasses provide -------------------------------------------------
    @abstractmethod
    def _spec(self, dataset: Dataset) -> dict[str, Any]:
        """Everything needed to rebuild the networks and data transforms (plain values only)."""

    @abstractmethod
    def _build(self, spec: dict[str, Any]) -> tuple[nn.Module, nn.Module]:
        """Fresh (generator, discriminator) for ``spec``."""

    @abstractmethod
    def to_model(self, data: torch.Tensor) -> torch.Tensor:
        """Data (uint8 images or raw points) -> the float tensors the networks see."""

    @abstractmethod
    def from_model(self, output: torch.Tensor) -> np.ndarray:
        """Generator output -> data in the dataset's format."""

    # --- training ------------------------------------------------------------------
    def fit(
        self,
        dataset: Dataset,
        *,
        seed: int = 0,
        hooks: TrainingHooks | None = None,
        checkpoint_dir: Path | None = None,
    ) -> TorchGAN:
        """Build seeded networks for ``dataset`` and train them, resuming from ``checkpoint_dir``; returns self."""
        self._check_kind(dataset)
        self.spec = self._spec(dataset)
        self._init_networks(seed)
        train_gan(self, dataset, seed=seed, hooks=hooks, checkpoint_dir=checkpoint_dir)
        return self

    def _check_kind(self, dataset: Dataset) -> None:
        kind = "image" if dataset.is_image else "points"
        if kind != self.data_kind:
            other = "mlp" if kind == "points" else "dcgan"
            raise InvalidInputError(
                f"generator '{self.architecture}' needs {self.data_kind} data but dataset '{dataset.name}' holds {kind}; "
                f"use --generator {other}"
            )

    def _conditional_for(self, dataset: Dataset) -> bool:
        conditional = self.options["conditional"]
        if conditional and dataset.labels is None:
            raise InvalidInputError(
                f"conditional {self.architecture} needs a labelled dataset but '{dataset.name}' has no labels; "
                "pass --generator-option conditional=false"
            )
        return dataset.labels is not None if conditional is None else bool(conditional)

    def _label_spec(self, dataset: Dataset) -> dict[str, Any]:
        labels = dataset.labels
        if not self._conditional_for(dataset) or labels is None:  # a conditional model always has labels here
            return {"classes": None, "class_probs": None}
        classes, counts = np.unique(labels, return_counts=True)
        return {"classes": classes.tolist(), "class_probs": (counts / counts.sum()).tolist()}

    def _init_networks(self, seed: int) -> tuple[nn.Module, nn.Module]:
        """Fresh networks for ``self.spec``; returns the (generator, discriminator) it set."""
        spec = self._fitted_spec()
        # Seeded without touching the caller's global RNG.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            generator, discriminator = self._build(spec)
        generator, discriminator = generator.to(self.device), discriminator.to(self.device)
        self.generator_net, self.discriminator_net = generator, discriminator
        self.ema_net = None
        if self.options["ema"] > 0:
            self.ema_net = self._build(spec)[0].to(self.device)
            self.ema_net.load_state_dict(generator.state_dict())
            self.ema_net.requires_grad_(False)
        return generator, discriminator

    # --- sampling ------------------------------------------------------------------
    @property
    def classes(self) -> np.ndarray | None:
        """The class labels of a conditional model, in index order; None if unconditional. Raises before training."""
        self._require_trained()
        classes = self._fitted_spec()["classes"]
        return None if classes is None else np.asarray(classes)

    def sampler_net(self) -> nn.Module:
        """The network that samples: the EMA generator when there is one, else the trained generator."""
        generator = self._trained_generator()
        return self.ema_net if self.ema_net is not None else generator

    def sample_labels(self, n: int, *, seed: int) -> np.ndarray | None:
        """``n`` labels drawn for ``seed`` with the training class frequencies; None for unconditional models."""
        classes = self.classes
        if classes is None:
            return None
        rng = np.random.default_rng([seed, streams.SAMPLE_LABELS])
        return rng.choice(classes, size=n, p=np.asarray(self._fitted_spec()["class_probs"]))

    def sample(
        self, n: int, *, seed: int, labels: np.ndarray | None = None, latents: np.ndarray | None = None
    ) -> np.ndarray:
        """``n`` samples from :meth:`sampler_net` in batches, from seeded latents and labels unless given."""
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise InvalidInputError(f"number of samples must be a positive integer, got {n!r}")
        latents = self.sample_latents(n, seed=seed) if latents is None else np.asarray(latents, dtype=np.float32)
        if latents.shape != (n, self.latent_dim):
            raise InvalidInputError(f"latents must have shape ({n}, {self.latent_dim}), got {latents.shape}")
        index = self._class_index(labels, n, seed)
        net = self.sampler_net()
        net.eval()
        chunks = []
        with torch.no_grad():
            for start in range(0, n, SAMPLE_BATCH):
                z = torch.from_numpy(latents[start : start + SAMPLE_BATCH]).to(self.device)
                y = None if index is None else torch.from_numpy(index[start : start + SAMPLE_BATCH]).to(self.device)
                chunks.append(self.from_model(net(z, y).float()))
        return np.concatenate(chunks)

    def _class_index(self, labels: np.ndarray | None, n: int, seed: int) -> np.ndarray | None:
        classes = self.classes
        if classes is None:
            if labels is not None:
                raise InvalidInputError(f"this {self.architecture} is unconditional; do not pass labels")
            return None
        # asarray returns sample_labels' array itself; a None from it fails the shape check.
        labels = np.asarray(self.sample_labels(n, seed=seed) if labels is None else labels)
        if labels.shape != (n,):
            raise InvalidInputError(f"labels must have shape ({n},), got {labels.shape}")
        return label_index(classes, labels).astype(np.int64)

    def discriminate(self, x: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        """Raw discriminator logits, float64, one per row of ``x``; a conditional one needs the ``labels``."""
        self._require_trained()
        if self.discriminator_net is None:
            raise InvalidInputError(f"this {self.architecture} was loaded without a discriminator; drs needs one")
        x = np.asarray(x)
        if self.classes is not None and labels is None:
            raise InvalidInputError("this discriminator is class-conditional; pass the labels of the samples")
        index = self._class_index(labels, len(x), seed=0) if labels is not None else None
        net = self.discriminator_net
        net.eval()
        logits = []
        with torch.no_grad():
            for start in range(0, len(x), SAMPLE_BATCH):
                batch = self.to_model(torch.from_numpy(x[start : start + SAMPLE_BATCH]).to(self.device))
                y = None if index is None else torch.from_numpy(index[start : start + SAMPLE_BATCH]).to(self.device)
                logits.append(net(batch, y).float().cpu().numpy())
        return np.concatenate(logits).astype(np.float64)

    def _require_trained(self) -> None:
        self._trained_generator()

    def _not_trained(self) -> InvalidInputError:
        return InvalidInputError(f"{self.architecture} generator is not trained; call fit(dataset) or load(path) first")

    def _trained_generator(self) -> nn.Module:
        if self.generator_net is None:
            raise self._not_trained()
        return self.generator_net

    def _fitted_spec(self) -> dict[str, Any]:
        """``self.spec``, set by ``fit`` or ``load``."""
        if self.spec is None:
            raise self._not_trained()
        return self.spec

    # --- checkpoints ---------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """The model part of a checkpoint: architecture, spec and network weights."""
        generator = self._trained_generator()
        return {
            "format": CHECKPOINT_FORMAT,
            "architecture": self.architecture,
            "spec": self.spec,
            "options": self.options,
            "generator": generator.state_dict(),
            "discriminator": None if self.discriminator_net is None else self.discriminator_net.state_dict(),
            "ema": None if self.ema_net is None else self.ema_net.state_dict(),
        }

    def save(self, path: str | Path) -> None:
        """Write :meth:`state` to ``path`` as a curbench checkpoint, atomically."""
        write_checkpoint(path, self.state())

    def load(self, path: str | Path) -> TorchGAN:
        """Load a curbench checkpoint of this architecture; its saved options replace the constructor's."""
        state = read_checkpoint(path)
        self.load_state(state, path)
        self.options.update(state.get("options") or {})  # describe the loaded model, not the constructor defaults
        return self

    def load_state(self, state: dict[str, Any], path: str | Path) -> None:
        """Rebuild the networks from a checkpoint's spec; load its weights strictly (discriminator, EMA if saved)."""
        if state.get("format") != CHECKPOINT_FORMAT:
            raise InvalidInputError(
                f"{path} is not a curbench generator checkpoint; use --generator checkpoint with architecture= for raw state dicts"
            )
        if state.get("architecture") != self.architecture:
            raise InvalidInputError(
                f"{path} holds a '{state.get('architecture')}' generator, not '{self.architecture}'; "
                f"load it with --generator {state.get('architecture')}"
            )
        self.spec = state["spec"]
        self.options["ema"] = self.options["ema"] if state["ema"] is not None else 0.0
        self.latent_dim = self.spec["latent_dim"]
        generator, discriminator = self._init_networks(seed=0)
        load_state(generator, state["generator"], "generator weights", path)
        if state["discriminator"] is None:
            self.discriminator_net = None
        else:
            load_state(discriminator, state["discriminator"], "discriminator weights", path)
        if state["ema"] is not None:
            if self.ema_net is None:
                self.ema_net = self._build(self.spec)[0].to(self.device).requires_grad_(False)
            load_state(self.ema_net, state["ema"], "EMA generator weights", path)
