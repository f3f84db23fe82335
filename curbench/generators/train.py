"""The training loop every built-in GAN shares: hinge loss, EMA, checkpoints, resume, AMP, DDP.

Randomness is counter-based: the mini-batch, latents and fake labels of step
``s`` are drawn from generators seeded with ``(seed, s)``, so a resumed run
draws exactly what an uninterrupted one would, and every DDP rank draws the same
global batch and trains on its own slice of it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from curbench import streams
from curbench.distributed import rank, world_size
from curbench.errors import InvalidInputError
from curbench.generators.checkpoint_io import read_checkpoint, write_checkpoint
from curbench.generators.labels import label_index
from curbench.generators.lifecycle import TrainingHooks, TrainRun, TrainStep
from curbench.progress import progress, warn

if TYPE_CHECKING:
    from curbench.datasets.base import Dataset


class TrainableGAN(Protocol):
    """What the training loop needs of a model (``curbench.generators.torch_gan.TorchGAN`` provides it)."""

    @property
    def architecture(self) -> str:  # read-only, so a class-level constant satisfies it
        """The architecture name checkpoints carry."""

    device: torch.device
    latent_dim: int
    options: dict[str, Any]
    spec: dict[str, Any] | None
    generator_net: nn.Module | None
    discriminator_net: nn.Module | None
    ema_net: nn.Module | None

    @property
    def classes(self) -> np.ndarray | None:
        """The class labels of a conditional model, in index order; None if unconditional."""

    def to_model(self, data: torch.Tensor) -> torch.Tensor:
        """Training data (uint8 images or raw points) -> the float tensors the networks see."""

    def state(self) -> dict[str, Any]:
        """The model part of a checkpoint (architecture, spec, weights); the loop adds step, seed and optimisers."""

    def load_state(self, state: dict[str, Any], path: str | Path) -> None:
        """Rebuild the networks from checkpoint ``state`` and load its weights; ``path`` names it in errors."""

CHECKPOINT_FILE = "last.pt"
ADAM_BETAS = (0.0, 0.9)  # the usual choice for hinge-loss GANs with spectral norm
EMA_WARMUP = 10  # decay ramps up as (1 + s) / (10 + s) so short runs still get a useful average
CALIBRATION_BATCHES = 16
_PHASE_CODE = {"discriminator": 0, "generator": 1}
# Options that may change between an interrupted run and its resumption.
_RESUMABLE_OPTIONS = frozenset({"steps", "checkpoint_every", "amp", "cpu_threads"})


def batch_indices(step: int, batch_size: int, n: int, seed: int) -> npt.NDArray[np.int64]:
    """Positions of step ``step``'s mini-batch: consecutive slices of per-epoch permutations."""
    positions = step * batch_size + np.arange(batch_size)
    epochs, offsets = np.divmod(positions, n)
    out = np.empty(batch_size, dtype=np.int64)
    for epoch in np.unique(epochs):
        chosen = epochs == epoch
        out[chosen] = np.random.default_rng([seed, streams.TRAINING_BATCHES, int(epoch)]).permutation(n)[offsets[chosen]]
    return out


def step_noise(
    step: int, phase: str, batch_size: int, latent_dim: int, seed: int, class_probs: npt.NDArray[np.float64] | None
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64] | None]:
    """Latents and fake class indices for one phase of one step."""
    return _noise(np.random.default_rng([seed, streams.TRAINING_STEPS, step, _PHASE_CODE[phase]]), batch_size, latent_dim, class_probs)


def _noise(
    rng: np.random.Generator, batch_size: int, latent_dim: int, class_probs: npt.NDArray[np.float64] | None
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64] | None]:
    latents = rng.standard_normal((batch_size, latent_dim)).astype(np.float32)
    classes = None if class_probs is None else rng.choice(len(class_probs), size=batch_size, p=class_probs)
    return latents, classes


def hinge_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """The discriminator's hinge loss: mean relu(1 - D(real)) + mean relu(1 + D(fake))."""
    return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()


def hinge_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """The generator's hinge loss: -mean D(fake)."""
    return -fake_logits.mean()


def _built(net: nn.Module | None, what: str) -> nn.Module:
    """``net``, which training needs built (``fit`` builds the networks before it trains)."""
    if net is None:
        raise InvalidInputError(f"the {what} network is not built; build the networks (as fit does) before train_gan")
    return net


class _Trainer:
    """State of one run of :func:`train_gan`; split into methods to keep each phase readable."""

    def __init__(
        self, model: TrainableGAN, dataset: Dataset, seed: int, hooks: TrainingHooks, checkpoint_dir: Path | None
    ) -> None:
        self.model, self.seed, self.hooks = model, seed, hooks
        self.options = model.options
        self.rank, self.world = rank(), world_size()
        self.batch_size = self.options["batch_size"]
        if self.batch_size % self.world:
            raise InvalidInputError(
                f"batch_size {self.batch_size} is not divisible by the {self.world} distributed processes; "
                "pick a multiple of the world size"
            )
        self.device = model.device
        self.amp = bool(self.options["amp"]) and self.device.type == "cuda"
        self.checkpoint_path = None if checkpoint_dir is None else Path(checkpoint_dir) / CHECKPOINT_FILE
        resumed = None
        if self.checkpoint_path is not None:
            resumed = self._resumable_state(self.checkpoint_path)
            if resumed is not None:  # rebuilds the networks, so before the optimisers take their parameters
                model.load_state(resumed, self.checkpoint_path)
        self.g_optimizer = torch.optim.Adam(self._generator.parameters(), lr=self.options["lr"], betas=ADAM_BETAS)
        d_lr = self.options.get("d_lr", self.options["lr"])
        self.d_optimizer = torch.optim.Adam(self._discriminator.parameters(), lr=d_lr, betas=ADAM_BETAS)
        self.g_scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp)
        self.d_scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp)
        self.data = torch.from_numpy(np.ascontiguousarray(dataset.data)).to(self.device)
        classes = model.classes
        self.real_classes: torch.Tensor | None = None
        self.real_class_index: npt.NDArray[np.intp] | None = None
        self.class_probs: npt.NDArray[np.float64] | None = None
        if classes is not None:
            if dataset.labels is None:  # fit refuses this earlier; reached only by calling train_gan directly
                raise InvalidInputError(
                    f"conditional {model.architecture} needs a labelled dataset; '{dataset.name}' has no labels"
                )
            if model.spec is None:
                raise InvalidInputError(f"conditional {model.architecture} has no spec; build it (as fit does) first")
            self.real_class_index = label_index(classes, dataset.labels)
            self.real_classes = torch.from_numpy(self.real_class_index).to(self.device)
            self.class_probs = np.asarray(model.spec["class_probs"], dtype=np.float64)
        self.n = len(dataset)
        self.start_step = 0
        if resumed is not None:
            self.g_optimizer.load_state_dict(resumed["g_optimizer"])
            self.d_optimizer.load_state_dict(resumed["d_optimizer"])
            self.g_scaler.load_state_dict(resumed["g_scaler"])
            self.d_scaler.load_state_dict(resumed["d_scaler"])
            self.start_step = int(resumed["step"])
        self.g_train: nn.Module = self._generator
        self.d_train: nn.Module = self._discriminator
        if self.world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.g_train = DistributedDataParallel(self._generator, device_ids=ids)
            self.d_train = DistributedDataParallel(self._discriminator, device_ids=ids)
        self.run = TrainRun(
            generator=model.generator_net,
            discriminator=model.discriminator_net,
            g_optimizer=self.g_optimizer,
            d_optimizer=self.d_optimizer,
            train_indices=np.arange(self.n),
            seed=seed,
            total_steps=self.options["steps"],
            options={**self.options, "architecture": model.architecture, "loss": "hinge",
                     "start_step": self.start_step, "model": model, "ema_generator": model.ema_net},
        )

    @property
    def _generator(self) -> nn.Module:
        return _built(self.model.generator_net, "generator")

    @property
    def _discriminator(self) -> nn.Module:
        return _built(self.model.discriminator_net, "discriminator")

    # --- checkpoints ---------------------------------------------------------------
    def _resumable_state(self, path: Path) -> dict[str, Any] | None:
        if not path.is_file():
            return None
        try:
            state = read_checkpoint(path, "training checkpoint")
        except InvalidInputError:  # cut short or damaged on disk: set it aside and train from step 0
            if self.rank == 0:
                aside = path.with_name(path.name + ".corrupt")
                path.replace(aside)
                warn(f"training checkpoint {path} cannot be read (cut short or damaged); "
                     f"moved it to {aside} and training from scratch")
            return None
        saved = {k: v for k, v in state.get("options", {}).items() if k not in _RESUMABLE_OPTIONS}
        current = {k: v for k, v in self.options.items() if k not in _RESUMABLE_OPTIONS}
        if state.get("seed") != self.seed or state.get("spec") != self.model.spec or saved != current:
            raise InvalidInputError(
                f"{path} belongs to a different run (seed, data or options differ); "
                "delete it or train into another checkpoint directory"
            )
        return state

    def save(self, step: int) -> None:
        if self.checkpoint_path is None or self.rank != 0:
            return
        state = self.model.state()
        state.update(
            step=step, seed=self.seed,
            g_optimizer=self.g_optimizer.state_dict(), d_optimizer=self.d_optimizer.state_dict(),
            g_scaler=self.g_scaler.state_dict(), d_scaler=self.d_scaler.state_dict(),
        )
        write_checkpoint(self.checkpoint_path, state)

    # --- one step ------------------------------------------------------------------
    def _local(self, array: npt.NDArray[Any] | None) -> torch.Tensor | None:
        """This rank's slice of a global batch array, on the training device."""
        if array is None:
            return None
        return torch.from_numpy(np.ascontiguousarray(array[self.rank :: self.world])).to(self.device)

    def _autocast(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=torch.float16, enabled=self.amp)

    def discriminator_step(self, step: int) -> None:
        model = self.model
        indices = batch_indices(step, self.batch_size, self.n, self.seed)
        latents, fake_classes = step_noise(
            step, "discriminator", self.batch_size, model.latent_dim, self.seed, self.class_probs
        )
        local = self._local(indices)
        real = model.to_model(self.data[local])
        real_y = None if self.real_classes is None else self.real_classes[local]
        fake_y = self._local(fake_classes)
        with self._autocast():
            with torch.no_grad():
                fake = self._generator(self._local(latents), fake_y)
            # One forward over real and fake keeps DDP to one forward per backward.
            both_y = None if real_y is None or fake_y is None else torch.cat([real_y, fake_y])
            logits = self.d_train(torch.cat([real, fake.to(real.dtype)]), both_y).float()
            real_logits, fake_logits = logits[: len(real)], logits[len(real) :]
            loss = hinge_d_loss(real_logits, fake_logits)
        self.d_optimizer.zero_grad(set_to_none=True)
        torch.autograd.backward(self.d_scaler.scale(loss))  # what Tensor.backward calls, but annotated
        self.d_scaler.step(self.d_optimizer)
        self.d_scaler.update()
        losses = {"d_loss": loss.item(), "d_real": real_logits.mean().item(), "d_fake": fake_logits.mean().item()}
        self.hooks.step(self.run, TrainStep(
            step=step, phase="discriminator", batch_indices=indices, latents=latents, losses=losses,
            labels=None if self.real_class_index is None else self._class_labels(self.real_class_index[indices]),
            fake_labels=self._class_labels(fake_classes),
        ))
        self.last_losses.update(d_loss=losses["d_loss"])

    def generator_step(self, step: int) -> None:
        model = self.model
        latents, fake_classes = step_noise(step, "generator", self.batch_size, model.latent_dim, self.seed, self.class_probs)
        fake_y = self._local(fake_classes)
        discriminator = self._discriminator
        discriminator.requires_grad_(False)  # the generator step needs gradients through D, not of D
        with self._autocast():
            fake = self.g_train(self._local(latents), fake_y)
            loss = hinge_g_loss(discriminator(fake, fake_y).float())
        self.g_optimizer.zero_grad(set_to_none=True)
        torch.autograd.backward(self.g_scaler.scale(loss))
        self.g_scaler.step(self.g_optimizer)
        self.g_scaler.update()
        discriminator.requires_grad_(True)
        self._update_ema(step)
        losses = {"g_loss": loss.item()}
        self.hooks.step(self.run, TrainStep(
            step=step, phase="generator", batch_indices=None, latents=latents, losses=losses,
            fake_labels=self._class_labels(fake_classes),
        ))
        self.last_losses.update(losses)

    def _class_labels(self, class_index: npt.NDArray[np.integer[Any]] | None) -> np.ndarray | None:
        if class_index is None:
            return None
        classes = self.model.classes
        return None if classes is None else classes[class_index]

    def _update_ema(self, step: int) -> None:
        ema = self.model.ema_net
        if ema is None:
            return
        decay = min(self.options["ema"], (1 + step) / (EMA_WARMUP + step))
        with torch.no_grad():
            for averaged, current in zip(ema.parameters(), self._generator.parameters(), strict=True):
                averaged.lerp_(current, 1 - decay)

    # --- the loop ------------------------------------------------------------------
    def train(self) -> None:
        steps = self.options["steps"]
        every = self.options["checkpoint_every"]
        self.last_losses: dict[str, float] = {}
        self.hooks.start(self.run)
        bar = progress(total=steps, desc=f"train {self.model.architecture}", unit="step")
        bar.update(self.start_step)
        started = time.perf_counter()
        for done, step in enumerate(range(self.start_step, steps), start=1):
            self._generator.train()
            self._discriminator.train()
            self.discriminator_step(step)
            self.generator_step(step)
            if every and (step + 1) % every == 0 and step + 1 < steps:
                self.save(step + 1)
            bar.update(1)
            if done % 25 == 0 or step + 1 == steps:
                rate = done / max(time.perf_counter() - started, 1e-9)
                bar.set_postfix({**{k: f"{v:.3f}" for k, v in self.last_losses.items()}, "steps/s": f"{rate:.1f}"})
        bar.close()
        if self.start_step < steps:
            self._synchronise_buffers()
            self._calibrate_ema_batchnorm()
            self.save(steps)
        self.hooks.end(self.run)

    def _synchronise_buffers(self) -> None:
        """Each rank's last forward updated buffers (BatchNorm stats) locally; adopt rank 0's."""
        if self.world == 1:
            return
        for net in (self._generator, self._discriminator):
            for buffer in net.buffers():
                dist.broadcast(buffer, src=0)

    def _calibrate_ema_batchnorm(self) -> None:
        """Recompute the EMA generator's BatchNorm statistics for its own (averaged) weights."""
        ema = self.model.ema_net
        if ema is None:
            return
        norms = [m for m in ema.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        if not norms:
            return
        momenta = [norm.momentum for norm in norms]
        for norm in norms:
            norm.reset_running_stats()
            norm.momentum = None  # cumulative average over the calibration batches
        ema.train()
        with torch.no_grad(), self._autocast():
            for batch in range(CALIBRATION_BATCHES):
                rng = np.random.default_rng([self.seed, streams.BATCHNORM_CALIBRATION, batch])
                latents, classes = _noise(rng, self.batch_size, self.model.latent_dim, self.class_probs)
                ema(torch.from_numpy(latents).to(self.device), None if classes is None else torch.from_numpy(classes).to(self.device))
        for norm, momentum in zip(norms, momenta, strict=True):
            norm.momentum = momentum
        ema.eval()


@contextmanager
def cpu_threads(device: torch.device, threads: int | None) -> Iterator[None]:
    """Limit torch's intra-op threads while training on CPU.

    Small GANs are dominated by per-operation overhead; extra OpenMP threads
    buy little and slow training several-fold when the cores are shared.
    """
    if device.type != "cpu" or threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def train_gan(
    model: TrainableGAN, dataset: Dataset, *, seed: int, hooks: TrainingHooks | None, checkpoint_dir: Path | None
) -> None:
    """Train ``model``'s networks on ``dataset`` in place, resuming from ``checkpoint_dir/last.pt``."""
    with cpu_threads(model.device, model.options["cpu_threads"]):
        _Trainer(model, dataset, seed, hooks or TrainingHooks(), checkpoint_dir).train()

