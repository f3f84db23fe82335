"""Optimiser steps as pure, differentiable functions, with hyper-parameters read from live torch optimisers.

Replaying a recorded step through these functions lets autograd give the
Jacobian of the whole update (gradient, moment estimates, bias correction),
which is what the influence estimator back-propagates through.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from curbench_influence.errors import InfluenceError

# sqrt(v) has an infinite derivative at v = 0 (parameters whose gradient is exactly zero);
# flooring v far below eps**2 changes no forward value but keeps the backward pass finite.
_SECOND_MOMENT_FLOOR = 1e-30


@dataclass(frozen=True)
class OptimizerSpec:
    """Hyper-parameters of one single-group SGD or Adam(W) optimiser."""

    kind: str  # "sgd" or "adam"
    lr: float
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    decoupled_weight_decay: bool = False
    momentum: float = 0.0
    dampening: float = 0.0
    nesterov: bool = False

    @property
    def slot_names(self) -> tuple[str, ...]:
        """Per-parameter optimiser state, in the names torch uses."""
        if self.kind == "adam":
            return ("exp_avg", "exp_avg_sq")
        return ("momentum_buffer",) if self.momentum else ()


def optimizer_spec(optimizer: torch.optim.Optimizer, module: nn.Module, what: str) -> OptimizerSpec:
    """The spec of ``optimizer``, which must drive exactly ``module``'s parameters in one group."""
    if len(optimizer.param_groups) != 1:
        raise InfluenceError(f"{what} optimiser has {len(optimizer.param_groups)} parameter groups; influence replay supports one")
    group = optimizer.param_groups[0]
    if [id(p) for p in group["params"]] != [id(p) for p in module.parameters()]:
        raise InfluenceError(f"{what} optimiser must hold exactly the network's parameters, in order, for influence replay")
    if group.get("maximize"):
        raise InfluenceError(f"{what} optimiser uses maximize=True, which influence replay does not support")
    if isinstance(optimizer, torch.optim.Adam):
        if group.get("amsgrad"):
            raise InfluenceError(f"{what} optimiser uses AMSGrad, which influence replay does not support; use plain Adam")
        return OptimizerSpec(
            kind="adam",
            lr=float(group["lr"]),
            weight_decay=float(group["weight_decay"]),
            betas=(float(group["betas"][0]), float(group["betas"][1])),
            eps=float(group["eps"]),
            decoupled_weight_decay=bool(group.get("decoupled_weight_decay", False)),
        )
    if type(optimizer) is torch.optim.SGD:
        return OptimizerSpec(
            kind="sgd",
            lr=float(group["lr"]),
            weight_decay=float(group["weight_decay"]),
            momentum=float(group["momentum"]),
            dampening=float(group["dampening"]),
            nesterov=bool(group["nesterov"]),
        )
    raise InfluenceError(
        f"{what} optimiser is {type(optimizer).__name__}; influence replay supports torch.optim.SGD and Adam/AdamW"
    )


def read_slots(optimizer: torch.optim.Optimizer, spec: OptimizerSpec) -> list[list[Tensor]]:
    """Copies of the optimiser's per-parameter state; zeros before its first step."""
    params = optimizer.param_groups[0]["params"]
    slots = []
    for name in spec.slot_names:
        values = []
        for p in params:
            value = optimizer.state.get(p, {}).get(name)
            values.append(torch.zeros_like(p.detach()) if value is None else value.detach().clone())
        slots.append(values)
    return slots


def apply_step(
    spec: OptimizerSpec, params: list[Tensor], slots: list[list[Tensor]], grads: list[Tensor], step: int
) -> tuple[list[Tensor], list[list[Tensor]]]:
    """One optimiser step, out of place; ``step`` is the count before it (0 for the first)."""
    if spec.kind == "adam":
        return _adam(spec, params, slots, grads, step + 1)
    return _sgd(spec, params, slots, grads, step)


def _adam(spec, params, slots, grads, step):
    beta1, beta2 = spec.betas
    bias1 = 1 - beta1**step
    bias2_sqrt = (1 - beta2**step) ** 0.5
    new_params, new_m, new_v = [], [], []
    for p, m, v, g in zip(params, slots[0], slots[1], grads, strict=True):
        if spec.weight_decay and spec.decoupled_weight_decay:
            p = p * (1 - spec.lr * spec.weight_decay)
        elif spec.weight_decay:
            g = g + spec.weight_decay * p
        m = m + (1 - beta1) * (g - m)
        v = beta2 * v + (1 - beta2) * g * g
        denom = v.clamp_min(_SECOND_MOMENT_FLOOR).sqrt() / bias2_sqrt + spec.eps
        new_params.append(p - (spec.lr / bias1) * m / denom)
        new_m.append(m)
        new_v.append(v)
    return new_params, [new_m, new_v]


def _sgd(spec, params, slots, grads, step):
    new_params, new_buffers = [], []
    for i, (p, g) in enumerate(zip(params, grads, strict=True)):
        if spec.weight_decay:
            g = g + spec.weight_decay * p
        if spec.momentum:
            # torch seeds the buffer with the first gradient, undamped
            buf = g if step == 0 else spec.momentum * slots[0][i] + (1 - spec.dampening) * g
            new_buffers.append(buf)
            g = g + spec.momentum * buf if spec.nesterov else buf
        new_params.append(p - spec.lr * g)
    return new_params, [new_buffers] if spec.momentum else []
