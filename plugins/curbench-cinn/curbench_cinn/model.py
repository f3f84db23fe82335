"""The conditional invertible network: FrEIA affine coupling blocks on whitened features, conditioned on the source.

``z = f(y | c)`` is trained by maximum likelihood to be standard normal under every
source's one-hot condition ``c``, so ``y = f^{-1}(z | c)`` with ``z ~ N(0, I)`` samples
that source. ``y`` are the features after pooled PCA whitening (:class:`Whitening`).
"""

from __future__ import annotations

import math
from contextlib import contextmanager

import numpy as np
import torch
from FrEIA.framework import SequenceINN
from FrEIA.modules import AllInOneBlock
from torch import nn

from curbench.errors import InvalidInputError

# Components whose variance is below this fraction of the largest are constant directions (e.g. blank pixels).
_RANK_TOLERANCE = 1e-6


class Whitening:
    """Pooled PCA whitening to at most ``n_components`` directions.

    Density and projection are modelled in the whitened space; a displacement found
    there maps back to feature space through the same directions, so the residual
    outside the kept components is treated as shared and left unchanged.
    """

    def __init__(self, features: np.ndarray, n_components: int) -> None:
        self.mean = features.mean(axis=0)
        centred = features - self.mean
        _, singular, vt = np.linalg.svd(centred, full_matrices=False)
        variance = singular**2 / max(len(features) - 1, 1)
        rank = int((variance > _RANK_TOLERANCE * variance[0]).sum()) if variance[0] > 0 else 0
        self.n_components = min(n_components, rank)
        if self.n_components < 2:
            raise InvalidInputError(
                f"the features span {rank} non-constant direction(s); the cINN needs at least 2 (pass richer features)"
            )
        self.components = vt[: self.n_components]
        self.scale = np.sqrt(variance[: self.n_components])
        self.explained_variance = float(variance[: self.n_components].sum() / variance.sum())

    def transform(self, features: np.ndarray) -> np.ndarray:
        """Features (N, D) -> whitened (N, n_components): centred, projected, divided by each direction's std."""
        return ((features - self.mean) @ self.components.T) / self.scale

    def displacement(self, whitened_delta: np.ndarray) -> np.ndarray:
        """Feature-space displacement of a whitened-space displacement."""
        return (whitened_delta * self.scale) @ self.components


def _subnet(hidden: int):
    def build(dims_in: int, dims_out: int) -> nn.Module:
        net = nn.Sequential(nn.Linear(dims_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, dims_out))
        # Zero last layer: every coupling starts as the identity, which keeps early training stable.
        nn.init.zeros_(net[-1].weight)
        nn.init.zeros_(net[-1].bias)
        return net

    return build


@contextmanager
def _seeded(seed: int):
    """Seed torch and numpy (FrEIA draws its permutations from numpy's global generator), then restore both."""
    numpy_state = np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        np.random.seed(seed)
        try:
            yield
        finally:
            np.random.set_state(numpy_state)


@contextmanager
def _one_thread(device: str):
    """Train small CPU models on one thread: with these tiny matrices, extra threads only add synchronisation
    (measured 10x slower with two threads on a busy two-core machine)."""
    threads = torch.get_num_threads()
    if device == "cpu":
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class ConditionalINN:
    """``blocks`` FrEIA ``AllInOneBlock``s (affine coupling, soft random rotation, ActNorm), condition = one-hot source."""

    def __init__(self, dim: int, n_sources: int, *, blocks: int, hidden: int, clamp: float, seed: int, device: str) -> None:
        self.dim = dim
        self.n_sources = n_sources
        self.device = device
        with _seeded(seed):
            self.net = SequenceINN(dim)
            for _ in range(blocks):
                self.net.append(
                    AllInOneBlock, cond=0, cond_shape=(n_sources,), subnet_constructor=_subnet(hidden),
                    affine_clamping=clamp, permute_soft=True,
                )  # fmt: skip
        self.net.to(device)

    def _condition(self, sources: np.ndarray) -> torch.Tensor:
        return nn.functional.one_hot(torch.as_tensor(sources, dtype=torch.long), self.n_sources).float().to(self.device)

    def fit(
        self, y: np.ndarray, sources: np.ndarray, *, steps: int, batch_size: int, lr: float, noise: float, seed: int
    ) -> list[float]:
        """Adam on the negative log-likelihood per dimension, cosine-decayed learning rate; returns the loss curve.

        ``noise`` (std, whitened units) is added to every training batch: the usual
        regulariser of flows fitted to few points, which otherwise memorise them.
        """
        data = torch.as_tensor(y, dtype=torch.float32, device=self.device)
        conditions = self._condition(sources)
        generator = torch.Generator().manual_seed(seed)
        optimiser = torch.optim.Adam(self.net.parameters(), lr=lr)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, steps)
        batch_size = min(batch_size, len(data))
        losses = []
        self.net.train()
        with _one_thread(self.device):
            for _ in range(steps):
                rows = torch.randperm(len(data), generator=generator)[:batch_size].to(self.device)
                jitter = noise * torch.randn(len(rows), self.dim, generator=generator).to(self.device)
                z, log_det = self.net(data[rows] + jitter, c=[conditions[rows]])
                loss = (0.5 * (z**2).sum(1) - log_det).mean() / self.dim
                optimiser.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(self.net.parameters(), 10.0)
                optimiser.step()
                schedule.step()
                losses.append(loss.item())
        self.net.eval()
        return losses

    @torch.no_grad()
    def encode(self, y: np.ndarray, sources: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``z = f(y | source)`` and the log-density of ``y`` under that source (whitened space, nats)."""
        z, log_det = self.net(torch.as_tensor(y, dtype=torch.float32, device=self.device), c=[self._condition(sources)])
        log_density = -0.5 * (z**2).sum(1) - 0.5 * self.dim * math.log(2 * math.pi) + log_det
        return z.double().cpu().numpy(), log_density.double().cpu().numpy()

    @torch.no_grad()
    def decode(self, z: np.ndarray, sources: np.ndarray) -> np.ndarray:
        """``y = f^{-1}(z | source)``: whitened features for latents ``z`` under each row's source."""
        y, _ = self.net(torch.as_tensor(z, dtype=torch.float32, device=self.device), c=[self._condition(sources)], rev=True)
        return y.double().cpu().numpy()
