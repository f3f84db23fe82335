"""Recording a GAN's training through curbench's training-lifecycle hooks.

:class:`TrainingRecorder` is registered on the plugin manager for one training
run. After every optimisation step it stores what a differentiable replay of
that step needs: which network moved, its parameters and optimiser state after
the step, the buffers of both networks (spectral-norm power-iteration vectors
change on every forward), the mini-batch positions, latents and labels. The
generator code never learns that anyone is listening.

Memory is bounded by ``window``: only the last ``window`` training steps are
kept, and the state just before them is kept as the base of the replay.
"""

from __future__ import annotations

import copy
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from curbench import hookimpl
from curbench.generators.lifecycle import TrainRun, TrainStep
from curbench_influence.errors import InfluenceError
from curbench_influence.optim import OptimizerSpec, optimizer_spec, read_slots

GENERATOR, DISCRIMINATOR = "generator", "discriminator"
SUPPORTED_LOSSES = ("hinge",)


def _copy(tensors: list[Tensor], dtype: torch.dtype | None) -> list[Tensor]:
    return [t.detach().to(dtype=dtype if dtype is not None and t.is_floating_point() else t.dtype, copy=True) for t in tensors]


def _nbytes(tensors: list[Tensor]) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


@dataclass
class NetState:
    """One network's parameters and optimiser state; ``step`` counts the updates before it."""

    params: list[Tensor]
    slots: list[list[Tensor]]
    step: int

    @classmethod
    def capture(cls, module: nn.Module, optimizer: torch.optim.Optimizer, spec: OptimizerSpec, step: int,
                dtype: torch.dtype | None) -> NetState:
        """Copies of ``module``'s parameters and optimiser slots (in ``dtype`` when given) after ``step`` updates."""
        return cls(_copy(list(module.parameters()), dtype), [_copy(s, dtype) for s in read_slots(optimizer, spec)], step)

    @property
    def nbytes(self) -> int:
        """Bytes held by the parameters and optimiser slots."""
        return _nbytes(self.params) + sum(_nbytes(s) for s in self.slots)

    def working_copy(self, device: torch.device, dtype: torch.dtype) -> NetState:
        """A copy in the replay's precision on ``device`` (recordings may be stored in half precision)."""
        return NetState(
            [p.to(device, dtype, copy=True) for p in self.params],
            [[s.to(device, dtype, copy=True) for s in slot] for slot in self.slots],
            self.step,
        )


@dataclass
class StepRecord:
    """One recorded optimisation step of ``net``."""

    net: str
    step: int
    batch_indices: np.ndarray | None
    latents: Tensor
    labels: np.ndarray | None
    fake_labels: np.ndarray | None
    after: NetState
    buffers_after: dict[str, list[Tensor]]
    applied: bool = True  # False when AMP's gradient scaler skipped the update (inf/NaN gradients)

    @property
    def nbytes(self) -> int:
        """Bytes held by the state after the step, the latents and the buffers."""
        return self.after.nbytes + _nbytes([self.latents]) + sum(_nbytes(b) for b in self.buffers_after.values())


@dataclass
class Recording:
    """What the replay needs: networks to call, optimiser specs, the base state and the window of steps."""

    generator: nn.Module
    discriminator: nn.Module
    specs: dict[str, OptimizerSpec]
    options: dict[str, Any]
    train_indices: np.ndarray
    base: dict[str, NetState]
    base_buffers: dict[str, list[Tensor]]
    records: deque[StepRecord] = field(default_factory=deque)
    starts_at_beginning: bool = True
    final_ema: list[Tensor] | None = None
    ema_decays: list[float] = field(default_factory=list)  # decay used after each recorded generator step

    @property
    def nbytes(self) -> int:
        """Bytes held by the base states and buffers and by every recorded step."""
        base = sum(s.nbytes for s in self.base.values()) + sum(_nbytes(b) for b in self.base_buffers.values())
        return base + sum(r.nbytes for r in self.records)

    def module(self, net: str) -> nn.Module:
        """The recording's private copy of the generator for ``generator``, else of the discriminator."""
        return self.generator if net == GENERATOR else self.discriminator


class TrainingRecorder:
    """Hook implementation that records one training run; register it only for that run.

    ``window``: keep the last ``window`` training steps (a step is one
    discriminator and one generator update in curbench's loop); None keeps all. ``dtype`` stores
    parameters and optimiser state in e.g. ``torch.bfloat16`` to halve memory.
    """

    def __init__(self, window: int | None = None, dtype: torch.dtype | None = torch.float32) -> None:
        if window is not None and window < 1:
            raise InfluenceError(f"influence window must be a positive number of steps or None for all, got {window}")
        self.window = window
        self.dtype = dtype
        self.recording: Recording | None = None
        self.finished = False
        self._optimizers: dict[str, torch.optim.Optimizer] = {}
        self._modules: dict[str, nn.Module] = {}
        self._specs: dict[str, OptimizerSpec] = {}

    @hookimpl
    def curbench_train_start(self, run: TrainRun) -> None:
        """Check the run can be replayed (hinge loss, step 0, fresh optimisers); capture networks and base state."""
        loss = run.options.get("loss")
        if loss not in SUPPORTED_LOSSES:
            raise InfluenceError(f"influence replay supports losses {', '.join(SUPPORTED_LOSSES)}; this generator trains with {loss!r}")
        if run.options.get("start_step", 0):
            raise InfluenceError("influence recording needs training from step 0, not a resumed run; use an empty checkpoint directory")
        self._modules = {GENERATOR: run.generator, DISCRIMINATOR: run.discriminator}
        self._optimizers = {GENERATOR: run.g_optimizer, DISCRIMINATOR: run.d_optimizer}
        self._specs = {net: optimizer_spec(self._optimizers[net], self._modules[net], net) for net in self._modules}
        if any(optimizer.state for optimizer in self._optimizers.values()):
            raise InfluenceError("influence recording needs fresh optimisers at the start of training, not restored ones")
        self.recording = Recording(
            # private copies: the replay swaps tensors into them and must not disturb the live networks
            generator=copy.deepcopy(run.generator).train(),
            discriminator=copy.deepcopy(run.discriminator).train(),
            specs=self._specs,
            options=dict(run.options),
            train_indices=np.asarray(run.train_indices),
            base={net: self._capture(net, step=0) for net in self._modules},
            base_buffers=self._buffers(),
        )

    @hookimpl
    def curbench_train_step(self, run: TrainRun, step: TrainStep) -> None:
        """Record this step's updated state, buffers, batch, latents and labels; evict steps past ``window``."""
        recording = self.recording
        if recording is None:
            return
        net = step.phase
        previous = self._latest(net)
        applied = _applied(self._optimizers[net], previous.step)
        after = self._capture(net, step=previous.step + applied)
        latents = torch.as_tensor(np.asarray(step.latents) if not torch.is_tensor(step.latents) else step.latents)
        recording.records.append(StepRecord(
            net=net,
            step=step.step,
            batch_indices=None if step.batch_indices is None else np.asarray(step.batch_indices, dtype=np.int64),
            latents=latents.detach().to(torch.float32).clone(),
            labels=None if step.labels is None else np.asarray(step.labels),
            fake_labels=None if step.fake_labels is None else np.asarray(step.fake_labels),
            after=after,
            buffers_after=self._buffers(),
            applied=applied,
        ))
        if net == GENERATOR:
            recording.ema_decays.append(_ema_decay(recording.options, step.step))
        while self.window is not None and recording.records[0].step <= step.step - self.window:
            evicted = recording.records.popleft()
            recording.base[evicted.net] = evicted.after
            recording.base_buffers = evicted.buffers_after
            recording.starts_at_beginning = False
            if evicted.net == GENERATOR:
                recording.ema_decays.pop(0)

    @hookimpl
    def curbench_train_end(self, run: TrainRun) -> None:
        """Keep the final EMA generator's parameters (when training keeps one) and mark the recording finished."""
        if self.recording is None:
            return
        ema = run.options.get("ema_generator")
        if ema is not None:
            self.recording.final_ema = _copy(list(ema.parameters()), torch.float32)
        self.finished = True

    def _latest(self, net: str) -> NetState:
        for record in reversed(self.recording.records):
            if record.net == net:
                return record.after
        return self.recording.base[net]

    def _capture(self, net: str, step: int) -> NetState:
        return NetState.capture(self._modules[net], self._optimizers[net], self._specs[net], step, self.dtype)

    def _buffers(self) -> dict[str, list[Tensor]]:
        return {net: _copy(list(module.buffers()), None) for net, module in self._modules.items()}


def _applied(optimizer: torch.optim.Optimizer, updates_before: int) -> bool:
    """Whether the optimiser really stepped: AMP's gradient scaler skips steps with inf/NaN gradients.

    Adam counts its applied steps; SGD keeps no counter and is assumed to have stepped.
    """
    state = optimizer.state.get(optimizer.param_groups[0]["params"][0], {})
    return "step" not in state or int(state["step"]) == updates_before + 1


def _ema_decay(options: dict[str, Any], step: int) -> float:
    """The EMA decay curbench's shared loop applies after generator step ``step`` (0 without EMA)."""
    from curbench.generators.train import EMA_WARMUP

    ema = float(options.get("ema") or 0.0)
    return min(ema, (1 + step) / (EMA_WARMUP + step)) if ema > 0 else 0.0
