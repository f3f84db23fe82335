"""Record one GAN training run through the plugin manager and turn a target metric into per-instance influence."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pluggy
import torch
from torch import Tensor

from curbench.datasets.base import Dataset
from curbench.generators.labels import label_index
from curbench.generators.lifecycle import TrainingHooks
from curbench_influence.errors import InfluenceError
from curbench_influence.recording import GENERATOR, Recording, TrainingRecorder
from curbench_influence.replay import Replayer

Target = Callable[[Tensor], Tensor]


def record_training(generator, dataset: Dataset, plugin_manager: pluggy.PluginManager, *, seed: int,
                    window: int | None = None, dtype: torch.dtype = torch.float32) -> Recording:
    """Train ``generator`` on ``dataset`` from scratch while a :class:`TrainingRecorder` listens on ``plugin_manager``."""
    recorder = TrainingRecorder(window=window, dtype=dtype)
    plugin_manager.register(recorder)
    try:
        generator.fit(dataset, seed=seed, hooks=TrainingHooks(plugin_manager), checkpoint_dir=None)
    finally:
        plugin_manager.unregister(recorder)
    if recorder.recording is None or not recorder.finished:
        raise InfluenceError(
            f"generator {type(generator).__name__} reported no training through curbench's training hooks; "
            "influence needs a GAN trained by curbench's shared loop (mlp, dcgan)"
        )
    return recorder.recording


@dataclass
class TargetEvaluator:
    """A target metric of the generator's samples for a fixed set of latents (and labels)."""

    replayer: Replayer
    target: Target
    latents: Tensor
    class_index: Tensor | None = None

    @classmethod
    def for_generator(cls, replayer: Replayer, target: Target, generator, n: int, seed: int) -> TargetEvaluator:
        """Latents and labels exactly as ``generator.sample(n, seed=seed)`` would draw them."""
        latents = torch.from_numpy(generator.sample_latents(n, seed=seed)).to(replayer.device, replayer.dtype)
        labels = generator.sample_labels(n, seed=seed)
        class_index = None
        if labels is not None:
            class_index = torch.from_numpy(label_index(np.asarray(generator.classes), labels)).to(replayer.device)
        return cls(replayer, target, latents, class_index)

    def value(self, params: list[Tensor]) -> Tensor:
        """The target of the samples drawn from the fixed latents with generator ``params`` (differentiable)."""
        samples = self.replayer.call(GENERATOR, params, self.replayer.generator_buffers(), self.latents, self.class_index)
        return self.target(samples)

    def gradient(self, params: list[Tensor]) -> tuple[float, list[Tensor]]:
        """The target's value and its gradient with respect to each of ``params`` (zeros where unused)."""
        leaves = [p.detach().requires_grad_(True) for p in params]
        with torch.enable_grad():
            value = self.value(leaves)
            grads = torch.autograd.grad(value, leaves, allow_unused=True, materialize_grads=True)
        return float(value.detach()), [g.detach() for g in grads]


def estimate_influence(evaluator: TargetEvaluator, damping: float = 0.0) -> tuple[float, np.ndarray]:
    """(target value of the trained generator, d target / d w_j for each training instance j)."""
    value, grad = evaluator.gradient(evaluator.replayer.final_sampling_params())
    return value, evaluator.replayer.influence(grad, damping=damping)
