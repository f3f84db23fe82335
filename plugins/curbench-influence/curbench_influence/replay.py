"""Differentiable replay of recorded GAN training, forwards (counterfactual retraining) and backwards (influence).

Every training instance j carries a loss weight w_j (1 in the recorded run) on
its term of the discriminator's real-data loss. The generator only sees an
instance through the discriminator, so the derivative of a target metric of
the final generator with respect to w_j is obtained by back-propagating the
metric's gradient through every recorded step (Terashita et al., ICLR 2021):
generator steps depend on the discriminator's parameters, discriminator steps
on the generator's and on the weights of the instances in their mini-batch.
Setting w_j = 0 and replaying forwards is exact leave-one-out retraining with
the same initialisation, batch order and latents; the backward pass is its
first-order (linear) estimate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.func import functional_call

from curbench.generators.labels import label_index
from curbench.progress import progress
from curbench_influence.errors import InfluenceError
from curbench_influence.optim import apply_step
from curbench_influence.recording import DISCRIMINATOR, GENERATOR, NetState, Recording, StepRecord


@dataclass
class _Moment:
    """One recorded step together with the states it started from (references, not copies)."""

    record: StepRecord
    before: NetState
    other_params: list[Tensor]
    buffers: dict[str, list[Tensor]]


class Replayer:
    """Replays a :class:`Recording` of a curbench ``TorchGAN`` trained on ``data`` (the training subset).

    ``to_model`` maps raw data to the tensors the discriminator sees and
    ``classes`` lists the class labels of a conditional model (None otherwise);
    both come from the recorded model unless given. ``dtype`` is the replay's
    precision (float32 reproduces float32 training; float64 for exact checks).
    """

    def __init__(self, recording: Recording, data: np.ndarray, device: str | torch.device = "cpu",
                 to_model: Callable[[Tensor], Tensor] | None = None, classes: np.ndarray | None = None,
                 dtype: torch.dtype = torch.float32) -> None:
        if not recording.records:
            raise InfluenceError("the training recording holds no steps; train for at least one step")
        model = recording.options.get("model")
        if model is None and to_model is None:
            raise InfluenceError("the recording has no run.options['model']; pass to_model= (data -> network input) to the replayer")
        self.recording = recording
        self.dtype = dtype
        self.device = torch.device(device)
        self.to_model = to_model or model.to_model
        self.classes = classes if classes is not None or model is None else model.classes
        self.data = torch.from_numpy(np.ascontiguousarray(data))
        self.n = len(data)
        self.uses_ema = recording.options.get("ema_generator") is not None
        self.generator = recording.generator.to(self.device)
        self.discriminator = recording.discriminator.to(self.device)
        self._names = {
            net: ([n for n, _ in module.named_parameters()], [n for n, _ in module.named_buffers()])
            for net, module in ((GENERATOR, self.generator), (DISCRIMINATOR, self.discriminator))
        }

    # --- calling the networks with given tensors -------------------------------------
    def call(self, net: str, params: list[Tensor], buffers: list[Tensor], *args: Tensor | None) -> Tensor:
        """Run ``net`` with ``params``/``buffers`` swapped in; ``buffers`` are updated in place as in training."""
        param_names, buffer_names = self._names[net]
        module = self.generator if net == GENERATOR else self.discriminator
        tensors = dict(zip(param_names, params, strict=True)) | dict(zip(buffer_names, buffers, strict=True))
        return functional_call(module, tensors, args)

    def _class_index(self, labels: np.ndarray | None) -> Tensor | None:
        if labels is None or self.classes is None:
            return None
        return torch.from_numpy(label_index(np.asarray(self.classes), labels)).to(self.device)

    def _real(self, indices: np.ndarray) -> Tensor:
        return self.to_model(self.data[torch.from_numpy(indices)].to(self.device)).to(self.dtype)

    def cast(self, tensors: list[Tensor]) -> list[Tensor]:
        """Copies on the replay's device, floating-point ones in its precision."""
        return [t.to(self.device, self.dtype if t.is_floating_point() else t.dtype, copy=True) for t in tensors]

    def update(self, record: StepRecord, before: NetState, other_params: list[Tensor], buffers: dict[str, list[Tensor]],
               batch_weights: Tensor | None, create_graph: bool) -> tuple[list[Tensor], list[list[Tensor]]]:
        """The recorded step as a function: new (params, optimiser slots) of the network it updated.

        Mirrors curbench's shared loop: hinge loss; the discriminator sees real
        and fake samples in one forward; the real-data term is a weighted mean.
        """
        latents = record.latents.to(self.device, self.dtype)
        fake_y = self._class_index(record.fake_labels)
        if record.net == DISCRIMINATOR:
            generator_params, discriminator_params = other_params, before.params
            real = self._real(record.batch_indices)
            real_y = self._class_index(record.labels)
            fake = self.call(GENERATOR, generator_params, buffers[GENERATOR], latents, fake_y)
            both_y = None if real_y is None else torch.cat([real_y, fake_y])
            logits = self.call(DISCRIMINATOR, discriminator_params, buffers[DISCRIMINATOR],
                               torch.cat([real, fake.to(real.dtype)]), both_y).to(self.dtype)
            real_logits, fake_logits = logits[: len(real)], logits[len(real):]
            real_terms = F.relu(1 - real_logits)
            if batch_weights is not None:
                real_terms = real_terms * batch_weights
            loss = real_terms.mean() + F.relu(1 + fake_logits).mean()
        else:
            fake = self.call(GENERATOR, before.params, buffers[GENERATOR], latents, fake_y)
            loss = -self.call(DISCRIMINATOR, other_params, buffers[DISCRIMINATOR], fake, fake_y).to(self.dtype).mean()
        grads = torch.autograd.grad(loss, before.params, create_graph=create_graph)
        return apply_step(self.recording.specs[record.net], before.params, before.slots, list(grads), before.step)

    # --- forwards: counterfactual retraining -------------------------------------------
    def retrain(self, weights: Tensor | np.ndarray | None = None) -> list[Tensor]:
        """Final sampling parameters of the generator (the EMA ones if it keeps one) trained with instance ``weights``.

        ``weights`` (one per training instance, default all 1) scale each
        instance's real-data loss term; 0 removes it. Needs a recording of the
        whole run (no window).
        """
        recording = self.recording
        if not recording.starts_at_beginning:
            raise InfluenceError("retraining needs a recording of the whole run; record with window=None")
        weights = None if weights is None else torch.as_tensor(weights, dtype=self.dtype, device=self.device)
        states = {net: state.working_copy(self.device, self.dtype) for net, state in recording.base.items()}
        buffers = {net: self.cast(bufs) for net, bufs in recording.base_buffers.items()}
        ema = [p.clone() for p in states[GENERATOR].params] if self.uses_ema else None
        decays = iter(recording.ema_decays)
        for record in recording.records:
            net, other = record.net, _other(record.net)
            before = states[net]
            leaves = NetState([p.detach().requires_grad_(True) for p in before.params], before.slots, before.step)
            batch_weights = None
            if weights is not None and record.batch_indices is not None:
                batch_weights = weights[torch.from_numpy(record.batch_indices).to(self.device)]
            with torch.enable_grad():
                params, slots = self.update(record, leaves, states[other].params, buffers, batch_weights, create_graph=False)
            if record.applied:
                states[net] = NetState([p.detach() for p in params], [[s.detach() for s in slot] for slot in slots], before.step + 1)
            if net == GENERATOR and ema is not None:
                decay = next(decays)
                ema = [e + (1 - decay) * (p - e) for e, p in zip(ema, states[GENERATOR].params, strict=True)]
        return ema if ema is not None else states[GENERATOR].params

    # --- backwards: influence -------------------------------------------------------------
    def _moments(self) -> Iterator[_Moment]:
        recording = self.recording
        latest = dict(recording.base)
        buffers = recording.base_buffers
        for record in recording.records:
            yield _Moment(record, latest[record.net], latest[_other(record.net)].params, buffers)
            latest[record.net] = record.after
            buffers = record.buffers_after

    def final_sampling_params(self) -> list[Tensor]:
        """The recorded generator the target is evaluated at: the EMA copy when training keeps one."""
        if self.uses_ema:
            return self.cast(self.recording.final_ema)
        last = next(r for r in reversed(self.recording.records) if r.net == GENERATOR)
        return self.cast(last.after.params)

    def generator_buffers(self) -> list[Tensor]:
        """Copies of the generator's buffers at the start of the recorded window, in the replay's precision."""
        return self.cast(self.recording.base_buffers[GENERATOR])

    def influence(self, target_grad: list[Tensor], damping: float = 0.0) -> np.ndarray:
        """d target / d w_j for every training instance j (float64, zero for instances never in a recorded batch).

        ``target_grad`` is the gradient of the target at :meth:`final_sampling_params`.
        ``damping`` in [0, 1) shrinks the back-propagated vector by (1 - damping)
        per optimisation step, the usual remedy when the step Jacobians amplify it.
        """
        if not 0 <= damping < 1:
            raise InfluenceError(f"influence damping must be in [0, 1), got {damping}")
        moments = list(self._moments())
        adjoint = {net: _zeros_like(state, self.device, self.dtype) for net, state in self.recording.base.items()}
        grad = self.cast(target_grad)
        ema_adjoint = grad if self.uses_ema else None
        if ema_adjoint is None:
            adjoint[GENERATOR].params = grad
        decays = list(self.recording.ema_decays)
        scores = torch.zeros(self.n, dtype=torch.float64, device=self.device)
        keep = 1.0 - damping
        for moment in progress(reversed(moments), total=len(moments), desc="influence backward", unit="step"):
            record = moment.record
            if record.net == GENERATOR and ema_adjoint is not None:
                decay = decays.pop()
                adjoint[GENERATOR].params = [a + (1 - decay) * e for a, e in zip(adjoint[GENERATOR].params, ema_adjoint, strict=True)]
                ema_adjoint = [decay * e for e in ema_adjoint]
            if record.applied:
                self._step_backward(moment, adjoint, scores)
            if damping:
                for state in adjoint.values():
                    state.params = [keep * a for a in state.params]
                    state.slots = [[keep * a for a in slot] for slot in state.slots]
                if ema_adjoint is not None:
                    ema_adjoint = [keep * e for e in ema_adjoint]
        return scores.cpu().numpy()

    def _step_backward(self, moment: _Moment, adjoint: dict[str, NetState], scores: Tensor) -> None:
        record = moment.record
        net, other = record.net, _other(record.net)
        before = moment.before.working_copy(self.device, self.dtype)
        before.params = [p.requires_grad_(True) for p in before.params]
        before.slots = [[s.requires_grad_(True) for s in slot] for slot in before.slots]
        other_params = [p.requires_grad_(True) for p in self.cast(moment.other_params)]
        buffers = {n: self.cast(bufs) for n, bufs in moment.buffers.items()}
        batch_weights = None
        if record.batch_indices is not None:
            batch_weights = torch.ones(len(record.batch_indices), dtype=self.dtype, device=self.device, requires_grad=True)
        with torch.enable_grad():
            params, slots = self.update(record, before, other_params, buffers, batch_weights, create_graph=True)
            outputs = params + [s for slot in slots for s in slot]
            grad_outputs = adjoint[net].params + [a for slot in adjoint[net].slots for a in slot]
            inputs = before.params + [s for slot in before.slots for s in slot] + other_params
            inputs += [batch_weights] if batch_weights is not None else []
            grads = torch.autograd.grad(outputs, inputs, grad_outputs, allow_unused=True, materialize_grads=True)
        n_params = len(before.params)
        adjoint[net].params = [g.detach() for g in grads[:n_params]]
        offset = n_params
        new_slots = []
        for slot in before.slots:
            new_slots.append([g.detach() for g in grads[offset: offset + len(slot)]])
            offset += len(slot)
        adjoint[net].slots = new_slots
        adjoint[other].params = [a + g.detach() for a, g in zip(adjoint[other].params, grads[offset: offset + len(other_params)], strict=True)]
        if batch_weights is not None:
            positions = torch.from_numpy(record.batch_indices).to(self.device)
            scores.index_add_(0, positions, grads[-1].detach().to(torch.float64))


def _other(net: str) -> str:
    return DISCRIMINATOR if net == GENERATOR else GENERATOR


def _zeros_like(state: NetState, device: torch.device, dtype: torch.dtype) -> NetState:
    def zeros(t: Tensor) -> Tensor:
        return torch.zeros(t.shape, dtype=dtype, device=device)

    return NetState([zeros(p) for p in state.params], [[zeros(s) for s in slot] for slot in state.slots], state.step)
