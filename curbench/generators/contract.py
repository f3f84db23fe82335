"""The generator contract: what the runner and the sample-time curators need from any generator.

A generator is built from keyword options, trained with :meth:`Generator.fit`
(resuming from ``checkpoint_dir``), and sampled with a seed. Images come back as
uint8 ``(N, C, H, W)``, points as float32 ``(N, D)``; see ``docs/generators.md``.
Plugins may subclass :class:`Generator` or only provide ``fit`` and ``sample``
(:class:`curbench.plugins.contracts.GeneratorContract`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from curbench.errors import InvalidInputError

if TYPE_CHECKING:
    from curbench.datasets.base import Dataset
    from curbench.generators.lifecycle import TrainingHooks


def truncated_normal(rng: np.random.Generator, shape: tuple[int, ...], psi: float) -> np.ndarray:
    """Standard normal draws restricted to [-psi, psi] by redrawing the entries that fall outside."""
    if not psi > 0:
        raise InvalidInputError(f"truncation psi must be > 0, got {psi}; pass e.g. --option psi=0.5")
    values = rng.standard_normal(shape)
    outside = np.abs(values) > psi
    while outside.any():
        values[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(values) > psi
    return values


class Generator(ABC):
    """What the runner and the sample-time curators need from a generator."""

    data_kind: str  # "image" or "points"; a class constant, except where it depends on the file loaded
    has_discriminator: ClassVar[bool] = False
    latent_dim: int

    @abstractmethod
    def fit(
        self,
        dataset: Dataset,
        *,
        seed: int = 0,
        hooks: TrainingHooks | None = None,
        checkpoint_dir: Path | None = None,
    ) -> Generator:
        """Train on ``dataset``; resume from the last checkpoint in ``checkpoint_dir`` if there is one."""

    @abstractmethod
    def sample(
        self, n: int, *, seed: int, labels: np.ndarray | None = None, latents: np.ndarray | None = None
    ) -> np.ndarray:
        """``n`` samples; ``labels`` default to draws from the training label distribution (conditional models)."""

    def sample_latents(self, n: int, *, seed: int, psi: float | None = None) -> np.ndarray:
        """``(n, latent_dim)`` prior draws: standard normal, truncated to [-psi, psi] when ``psi`` is given."""
        rng = np.random.default_rng(seed)
        shape = (n, self.latent_dim)
        values = rng.standard_normal(shape) if psi is None else truncated_normal(rng, shape, psi)
        return values.astype(np.float32)

    def sample_labels(self, n: int, *, seed: int) -> np.ndarray | None:
        """Labels ``sample`` uses for this seed when none are passed; None for unconditional models."""
        return None

    def discriminate(self, x: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        """Raw discriminator logits, one per sample (higher = judged real)."""
        raise InvalidInputError(f"{type(self).__name__} has no discriminator; use a generator that trains one")

    @abstractmethod
    def save(self, path: str | Path) -> None:
        """Save the trained generator to ``path`` so that :meth:`load` can restore it."""

    @abstractmethod
    def load(self, path: str | Path) -> Generator:
        """Restore the generator saved at ``path`` by :meth:`save`; returns it."""
