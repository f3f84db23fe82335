"""Sample a user's pretrained generator without training it.

Three kinds of file are accepted:

* a curbench checkpoint (``Generator.save`` or a training ``last.pt``): everything,
  discriminator included, is rebuilt from the file;
* a TorchScript module mapping latents ``(N, latent_dim)`` (and class indices, when
  ``num_classes`` is given) to images in [-1, 1] or to points;
* a plain generator state dict plus ``architecture`` (a generator registered with
  ``checkpoint_architecture``: ``dcgan``, ``mlp``, or a plugin's) and that architecture's
  options; the data shape and label set come from the dataset at ``fit``.
"""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from curbench import atomic, streams
from curbench.errors import InvalidInputError
from curbench.generators.checkpoint_io import CHECKPOINT_FORMAT, load_state, read_checkpoint
from curbench.generators.contract import Generator
from curbench.generators.dcgan import images_from_model
from curbench.generators.torch_gan import SAMPLE_BATCH, TorchGAN, training_device

if TYPE_CHECKING:
    from curbench.datasets.base import Dataset
    from curbench.generators.lifecycle import TrainingHooks

DATA_KINDS = ("image", "points")


def architectures() -> dict[str, Any]:
    """Registered generators that save curbench checkpoints, by the architecture name their checkpoints carry."""
    from curbench.plugins.registry import default_registry

    registry = default_registry()
    found = {}
    for name in registry.names("generator"):
        record = registry.get("generator", name)
        if record.checkpoint_architecture is not None:
            found[record.checkpoint_architecture] = record
    return found


def _build(architecture: str, **options: Any) -> TorchGAN:
    known = architectures()
    if architecture not in known:
        raise InvalidInputError(f"unknown generator architecture '{architecture}'; use one of {', '.join(known)}")
    built: TorchGAN = known[architecture].create(options)
    return built


def _is_torchscript(path: Path) -> bool:
    """TorchScript archives hold compiled code under ``<name>/code/``; torch.save files do not."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any("/code/" in name for name in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def _data_kind(dataset: Dataset) -> str:
    return "image" if dataset.is_image else "points"


class CheckpointGenerator(Generator):
    """A generator loaded from ``path``; ``fit`` only checks that the data kind matches."""

    def __init__(
        self,
        path: str,
        architecture: str | None = None,
        *,
        latent_dim: int | None = None,
        num_classes: int | None = None,
        data_kind: str = "image",
        device: str = "auto",
        **options: Any,
    ) -> None:
        self._arguments: dict[str, Any] = dict(
            architecture=architecture, latent_dim=latent_dim, num_classes=num_classes, data_kind=data_kind,
            device=device, **options,
        )
        self.path = Path(path)
        if not self.path.is_file():
            raise InvalidInputError(f"generator checkpoint not found: {self.path}; pass --generator-option path=FILE")
        if architecture is not None and architecture not in architectures():
            raise InvalidInputError(
                f"unknown generator architecture '{architecture}'; use one of {', '.join(architectures())}"
            )
        self.device = training_device(device)
        self.inner: TorchGAN | None = None
        self.script: torch.jit.ScriptModule | None = None
        self.class_probs: np.ndarray | None = None
        self._pending_state: dict[str, Any] | None = None
        self.script = self._try_torchscript()
        if self.script is not None:
            if data_kind not in DATA_KINDS:
                raise InvalidInputError(f"data_kind must be 'image' or 'points', got {data_kind!r}")
            self.data_kind = data_kind
            found: int | None = latent_dim or getattr(self.script, "latent_dim", None)
            if not found:
                raise InvalidInputError(
                    f"cannot tell the latent size of TorchScript generator {self.path}; pass --generator-option latent_dim=N"
                )
            self.latent_dim = found
            self.num_classes = num_classes
            if num_classes is not None:
                self.class_probs = np.full(num_classes, 1 / num_classes)
            return
        state = read_checkpoint(self.path)
        if state.get("format") == CHECKPOINT_FORMAT:
            stored = str(state.get("architecture"))
            if architecture is not None and architecture != stored:
                raise InvalidInputError(f"{self.path} holds a '{stored}' generator, not '{architecture}'; drop architecture=")
            self.inner = _build(stored, device=device)
            self.inner.load_state(state, self.path)
        else:
            if architecture is None:
                raise InvalidInputError(
                    f"{self.path} is a plain state dict; pass --generator-option architecture=dcgan (or mlp) with its options"
                )
            if latent_dim is not None:
                options["latent_dim"] = latent_dim
            self.inner = _build(architecture, device=device, ema=0.0, **options)
            # The data shape (and label set) needed to build the network are known only at fit().
            self._pending_state = state.get("generator", state)
        self.data_kind = self.inner.data_kind
        self.latent_dim = self.inner.latent_dim

    def _try_torchscript(self) -> torch.jit.ScriptModule | None:
        if not _is_torchscript(self.path):
            return None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # TorchScript is deprecated upstream but still loads
                # torch.jit.load is unannotated and has no typed equivalent.
                module: torch.jit.ScriptModule = torch.jit.load(  # type: ignore[no-untyped-call]
                    str(self.path), map_location=self.device
                )
                return module.eval()
        except RuntimeError as exc:
            reason = str(exc).strip().splitlines()[0]
            raise InvalidInputError(f"TorchScript generator {self.path} cannot be loaded ({reason})") from None

    @property
    def has_discriminator(self) -> bool:  # type: ignore[override]
        """True only for a full curbench checkpoint, which rebuilds the discriminator too."""
        return self.inner is not None and self._pending_state is None and self.inner.discriminator_net is not None

    def fit(
        self,
        dataset: Dataset,
        *,
        seed: int = 0,
        hooks: TrainingHooks | None = None,
        checkpoint_dir: Path | None = None,
    ) -> CheckpointGenerator:
        """Check that the dataset fits the file; no training.

        A plain state dict is loaded here, once the data shape is known; a conditional TorchScript module takes its
        class frequencies from the labels.
        """
        kind = _data_kind(dataset)
        if kind != self.data_kind:
            raise InvalidInputError(
                f"checkpoint {self.path} generates {self.data_kind} but dataset '{dataset.name}' holds {kind}; use matching data"
            )
        if self.script is not None:
            if self.num_classes is not None and dataset.labels is not None:
                counts = np.bincount(dataset.labels, minlength=self.num_classes)[: self.num_classes]
                self.class_probs = counts / counts.sum()
            return self
        if self._pending_state is not None:
            inner = self._gan()
            inner.spec = inner._spec(dataset)
            generator, _ = inner._init_networks(seed)
            load_state(generator, self._pending_state, "generator weights", self.path)
            inner.discriminator_net = None
            self._pending_state = None
        else:
            self._check_shape(dataset)
        return self

    def _gan(self) -> TorchGAN:
        """The curbench generator inside; every file that is not TorchScript has one."""
        if self.inner is None:
            raise InvalidInputError(f"{self.path} is a TorchScript generator; it holds no curbench generator")
        return self.inner

    def _check_shape(self, dataset: Dataset) -> None:
        spec = self._gan()._fitted_spec()
        expected = spec.get("shape") or [spec.get("dim")]
        if list(dataset.data.shape[1:]) != list(expected):
            raise InvalidInputError(
                f"checkpoint {self.path} generates data of shape {tuple(expected)} but dataset '{dataset.name}' "
                f"has {tuple(dataset.data.shape[1:])}"
            )

    def _ready(self) -> None:
        if self._pending_state is not None:
            raise InvalidInputError("a state-dict checkpoint needs fit(dataset) first, to learn the data shape")

    def sample_labels(self, n: int, *, seed: int) -> np.ndarray | None:
        """Labels for ``seed``: the inner GAN's, or TorchScript's from the class frequencies (uniform before fit)."""
        if self.script is None:
            self._ready()
            return self._gan().sample_labels(n, seed=seed)
        if self.class_probs is None:
            return None
        return np.random.default_rng([seed, streams.SAMPLE_LABELS]).choice(len(self.class_probs), size=n, p=self.class_probs)

    def sample(
        self, n: int, *, seed: int, labels: np.ndarray | None = None, latents: np.ndarray | None = None
    ) -> np.ndarray:
        """``n`` samples: the inner GAN's, or the TorchScript module's on seeded (or given) latents and labels."""
        if self.script is None:
            self._ready()
            return self._gan().sample(n, seed=seed, labels=labels, latents=latents)
        latents = self.sample_latents(n, seed=seed) if latents is None else np.asarray(latents, dtype=np.float32)
        if latents.shape != (n, self.latent_dim):
            raise InvalidInputError(f"latents must have shape ({n}, {self.latent_dim}), got {latents.shape}")
        if labels is None:
            labels = self.sample_labels(n, seed=seed)
        elif self.num_classes is None:
            raise InvalidInputError("this TorchScript generator is unconditional; pass num_classes= to condition it")
        chunks = []
        with torch.no_grad():
            for start in range(0, n, SAMPLE_BATCH):
                args = [torch.from_numpy(latents[start : start + SAMPLE_BATCH]).to(self.device)]
                if labels is not None:
                    args.append(torch.as_tensor(labels[start : start + SAMPLE_BATCH], dtype=torch.int64, device=self.device))
                output = self.script(*args).float()
                chunks.append(images_from_model(output) if self.data_kind == "image" else output.cpu().numpy())
        return np.concatenate(chunks)

    def discriminate(self, x: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        """The rebuilt discriminator's raw logits; raises unless the file was a full curbench checkpoint."""
        if not self.has_discriminator:
            raise InvalidInputError(f"checkpoint {self.path} has no discriminator; drs needs a full curbench checkpoint")
        return self._gan().discriminate(x, labels)

    def save(self, path: str | Path) -> None:
        """Save a TorchScript module as TorchScript, anything else as a curbench checkpoint of the inner GAN."""
        if self.script is not None:
            with atomic.atomic_path(path) as tmp:
                self.script.save(str(tmp))
            return
        self._ready()
        self._gan().save(path)

    def load(self, path: str | Path) -> CheckpointGenerator:
        """Read ``path`` with the arguments this generator was built with; returns self."""
        type(self).__init__(self, str(path), **self._arguments)  # the same reading rules, applied to another file
        return self
