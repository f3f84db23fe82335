"""Differentiable GAN evaluation metrics used as influence targets.

A target maps generated samples (a torch tensor, in the generator's output
space) to one scalar, differentiably, so its gradient with respect to the
generator's parameters can start the backward replay.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import numpy as np
import torch
from torch import Tensor

from curbench.validation import check_features
from curbench_influence.errors import InfluenceError

FeatureMap = Callable[[Tensor], Tensor]
_EIGENVALUE_FLOOR = 1e-12


class KDELogLikelihood:
    """Average log-likelihood of real points under a Gaussian KDE of the generated points (higher is better).

    log p(x) = logsumexp_i(-||x - g_i||^2 / 2h^2) - log M - (D/2) log(2 pi h^2).
    ``bandwidth`` None uses Scott's rule for the M generated points, scaled by
    the real points' mean per-dimension standard deviation. ``feature_map``
    maps generated samples into the space of ``real`` (identity by default).
    """

    name = "loglik"
    higher_is_better = True

    def __init__(self, real: np.ndarray, n_generated: int, bandwidth: float | None = None,
                 feature_map: FeatureMap | None = None, chunk: int = 4096) -> None:
        real = check_features(real, "influence target real points", min_rows=2)
        if bandwidth is None:
            spread = float(real.std(axis=0).mean())
            bandwidth = spread * n_generated ** (-1.0 / (real.shape[1] + 4))
        if not bandwidth > 0:
            raise InfluenceError(f"KDE bandwidth must be > 0, got {bandwidth}; pass --option bandwidth=0.1 or leave it unset")
        self.real = torch.from_numpy(real).double()
        self.bandwidth = float(bandwidth)
        self.feature_map = feature_map
        self.chunk = chunk

    def __call__(self, generated: Tensor) -> Tensor:
        """Mean log-density of the real points under an isotropic Gaussian KDE of the generated samples (float64)."""
        if self.feature_map is not None:
            generated = self.feature_map(generated)
        generated = generated.reshape(len(generated), -1).double()
        real = self.real.to(generated.device)
        m, d = generated.shape
        h2 = self.bandwidth**2
        normaliser = math.log(m) + 0.5 * d * math.log(2 * math.pi * h2)
        total = generated.new_zeros(())
        for start in range(0, len(real), self.chunk):
            x = real[start: start + self.chunk]
            squared = (x * x).sum(1, keepdim=True) - 2 * x @ generated.T + (generated * generated).sum(1)
            total = total + torch.logsumexp(-squared.clamp_min(0) / (2 * h2), dim=1).sum()
        return total / len(real) - normaliser


class FrechetDistance:
    """FID between real features and ``feature_map(generated)`` (lower is better), differentiable in float64.

    tr sqrt(S_r S_f) is computed as sum sqrt(eigvalsh(sqrt(S_r) S_f sqrt(S_r))), clipped at 0:
    exact (eigenvalues below 1e-12 of the largest are floored), and its gradient V diag(1/(2 sqrt(l))) V^T needs no eigenvector derivatives.
    """

    name = "fid"
    higher_is_better = False

    def __init__(self, real_features: np.ndarray, feature_map: FeatureMap) -> None:
        real = check_features(real_features, "influence target real features", min_rows=2).astype(np.float64)
        self.feature_map = feature_map
        self.mu = torch.from_numpy(real.mean(axis=0))
        sigma = np.cov(real, rowvar=False).reshape(real.shape[1], real.shape[1])
        values, vectors = np.linalg.eigh(sigma)
        self.sqrt_sigma = torch.from_numpy((vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T)
        self.trace_sigma = float(np.trace(sigma))

    def __call__(self, generated: Tensor) -> Tensor:
        """FID between the real features and the generated samples' features, a differentiable float64 scalar."""
        features = self.feature_map(generated).reshape(len(generated), -1).double()
        if len(features) < 2:
            raise InfluenceError("the FID target needs at least 2 generated samples; raise eval_samples")
        mu = self.mu.to(features.device)
        sqrt_sigma = self.sqrt_sigma.to(features.device)
        centred = features - features.mean(0)
        sigma_fake = centred.T @ centred / (len(features) - 1)
        product = sqrt_sigma @ sigma_fake @ sqrt_sigma
        eigenvalues = torch.linalg.eigvalsh((product + product.T) / 2)
        # numerically-zero eigenvalues (rank-deficient covariances) would give sqrt an infinite slope
        floor = _EIGENVALUE_FLOOR * eigenvalues.detach().abs().max().clamp_min(1e-300)
        trace_sqrt = eigenvalues.clamp_min(floor).sqrt().sum()
        mean_term = ((features.mean(0) - mu) ** 2).sum()
        return mean_term + self.trace_sigma + torch.trace(sigma_fake) - 2 * trace_sqrt


def data_space_map(to_model: Callable[[Tensor], Tensor], example: np.ndarray) -> FeatureMap:
    """Differentiable inverse of a generator's elementwise-affine ``to_model`` (generator output -> data units).

    Probed at 0 and at 1 (255 for uint8 images) and checked on ``example`` data,
    so it follows whatever scaling the generator uses without knowing it.
    """
    example = np.ascontiguousarray(example[:64])
    high = 255 if example.dtype == np.uint8 else 1
    probe = torch.from_numpy(example[:1])
    zero = to_model(torch.zeros_like(probe)).double()
    scale = (to_model(torch.full_like(probe, high)).double() - zero) / high
    mapped = to_model(torch.from_numpy(example)).double()
    if (scale == 0).any() or not torch.allclose(mapped, torch.from_numpy(example).double() * scale + zero, rtol=1e-4, atol=1e-4):
        raise InfluenceError("the generator's to_model is not elementwise affine, so its samples cannot be mapped back to data units")

    def to_data(generated: Tensor) -> Tensor:
        return (generated.double() - zero.to(generated.device)) / scale.to(generated.device)

    return to_data


def embedder_feature_map(embedder, data: np.ndarray, features: np.ndarray) -> FeatureMap:
    """A differentiable form of a curbench ``Embedder`` on float data units, verified against its own output.

    Points pass through (as curbench's point embedders do); images go through
    ``embedder.preprocess`` and ``embedder.model``, with grayscale repeated to
    three channels or not, whichever reproduces ``features`` (the embedder's
    output for ``data``). Embedders that neither form reproduces are refused.
    """
    def points(x: Tensor) -> Tensor:
        return x.reshape(len(x), -1)

    def network(x: Tensor, rgb: bool) -> Tensor:
        if rgb and x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        return embedder.model(embedder.preprocess(x.to(embedder.device, torch.float32))).flatten(1)

    candidates = [points] if data.ndim == 2 else [partial(network, rgb=False), partial(network, rgb=True)]
    reference = torch.from_numpy(np.array(features, dtype=np.float64))
    probe = torch.from_numpy(np.array(data)).double()
    for candidate in candidates:
        try:
            with torch.no_grad():
                mapped = candidate(probe).double().cpu()
        except RuntimeError:  # e.g. a grayscale image into an RGB network
            continue
        if mapped.shape == reference.shape and torch.allclose(mapped, reference, rtol=1e-3, atol=1e-4):
            return candidate
    raise InfluenceError(
        f"cannot differentiate through eval embedder '{embedder.name}' (its preprocess/model do not reproduce its "
        "features); use --option target=loglik or --eval-embedder pixels"
    )


def pixel_features(data: np.ndarray) -> np.ndarray:
    """The ``pixels`` embedding of real data: images scaled to [0, 1] and flattened, points unchanged."""
    data = np.asarray(data)
    flat = data.reshape(len(data), -1).astype(np.float64)
    return flat / 255 if data.dtype == np.uint8 else flat
