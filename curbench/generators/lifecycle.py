"""What a generator reports while it trains, and the facade it reports through.

Generators call :class:`TrainingHooks` and never ``pm.hook`` directly, so a
generator works the same with or without a plugin manager.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    import pluggy


@dataclass
class TrainRun:
    """One training run: the live modules and optimisers, plus what they train on.

    ``train_indices`` maps positions in the training subset back to indices of
    the full dataset, so per-instance methods can report on the full dataset.
    """

    generator: Any
    discriminator: Any
    g_optimizer: Any
    d_optimizer: Any
    train_indices: np.ndarray
    seed: int
    total_steps: int
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainStep:
    """One optimisation step, reported after the optimiser has stepped.

    ``batch_indices`` are positions in the training subset (``TrainRun.train_indices``
    maps them to the full dataset); ``latents`` is the noise the step used and
    ``labels`` the class labels of conditional models.
    """

    step: int
    phase: Literal["discriminator", "generator"]
    batch_indices: np.ndarray | None
    latents: Any
    losses: dict[str, float]
    labels: Any = None
    fake_labels: Any = None


class TrainingHooks:
    """Facade over the plugin manager's training-lifecycle hooks."""

    def __init__(self, plugin_manager: pluggy.PluginManager | None = None) -> None:
        self._pm = plugin_manager

    def start(self, run: TrainRun) -> None:
        """Call the plugins' ``curbench_train_start`` hooks; nothing without a plugin manager."""
        if self._pm is not None:
            self._pm.hook.curbench_train_start(run=run)

    def step(self, run: TrainRun, step: TrainStep) -> None:
        """Call the plugins' ``curbench_train_step`` hooks; nothing without a plugin manager."""
        if self._pm is not None:
            self._pm.hook.curbench_train_step(run=run, step=step)

    def end(self, run: TrainRun) -> None:
        """Call the plugins' ``curbench_train_end`` hooks; nothing without a plugin manager."""
        if self._pm is not None:
            self._pm.hook.curbench_train_end(run=run)
