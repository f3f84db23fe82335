"""Held-out log-likelihood and outlier mass of low-dimensional samples, through Gaussian kernel density estimates.

- ``all`` (average log-likelihood, the toy-data metric of Terashita et al.'s data cleansing for GANs):
  the mean log-density of the real reference points under a Gaussian KDE fitted on the generated
  samples. It rewards putting mass where held-out data lies and punishes mass elsewhere, which FID
  (two Gaussians' moments) cannot see on a multi-modal 2-D ring.
- ``outlier_mass``: the fraction of generated samples whose density under a KDE of the reference is
  below the ``OUTLIER_QUANTILE`` quantile of the reference points' own leave-one-out densities:
  mass the generator puts where almost no real data lies.

Bandwidths follow Scott's rule (scipy.stats.gaussian_kde). Meant for point data of a few dimensions:
a KDE in hundreds of dimensions says little, so more than ``MAX_DIMENSIONS`` features are refused.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp
from scipy.stats import gaussian_kde

from curbench.errors import InvalidInputError
from curbench.metrics.reference import ReferenceStatistics

OUTLIER_QUANTILE = 0.01
MAX_DIMENSIONS = 10


def _leave_one_out_log_density(kde: gaussian_kde) -> np.ndarray:
    """Each fitted point's log-density under the KDE of the other points (same bandwidth)."""
    points = kde.dataset.T
    n = len(points)
    inverse = kde.inv_cov
    log_norm = -0.5 * (points.shape[1] * np.log(2 * np.pi) + np.linalg.slogdet(kde.covariance)[1])
    result = np.empty(n)
    for start in range(0, n, 512):
        block = points[start : start + 512]
        diff = block[:, None, :] - points[None, :, :]
        exponent = -0.5 * np.einsum("ijk,kl,ijl->ij", diff, inverse, diff)
        exponent[np.arange(len(block)), np.arange(start, start + len(block))] = -np.inf
        result[start : start + len(block)] = logsumexp(exponent, axis=1) + log_norm - np.log(n - 1)
    return result


class HeldOutLikelihood:
    """``HeldOutLikelihood()(real, fake) -> {"all": …, "outlier_mass": …}`` (see the module docstring)."""

    def __call__(self, real: np.ndarray | ReferenceStatistics, fake: np.ndarray) -> dict[str, float]:
        """``all`` and ``outlier_mass`` (see the module docstring), for features of at most 10 dimensions."""
        reference = real.real if isinstance(real, ReferenceStatistics) else np.asarray(real)
        reference, fake = np.asarray(reference, dtype=np.float64), np.asarray(fake, dtype=np.float64)
        if reference.shape[1] > MAX_DIMENSIONS:
            raise InvalidInputError(
                f"loglik estimates densities with kernels, meaningful for at most {MAX_DIMENSIONS} dimensions; "
                f"the features have {reference.shape[1]}: use it on point data (e.g. --dataset toy)"
            )
        generated = gaussian_kde(fake.T)
        real_density = gaussian_kde(reference.T)
        threshold = np.quantile(_leave_one_out_log_density(real_density), OUTLIER_QUANTILE)
        return {
            "all": float(np.mean(generated.logpdf(reference.T))),
            "outlier_mass": float(np.mean(real_density.logpdf(fake.T) < threshold)),
        }
