"""Sample-time curators: change how a trained generator is sampled instead of what it is trained on.

Registered with ``stage="sample"`` (contract: curbench.plugins.contracts.SampleTimeCurator): built from keyword options, then
``curate(generator, n, *, seed, real) -> (samples, info)`` returns ``n`` curated
samples and a dict of numbers (e.g. ``acceptance_rate``) for the result record.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, cast

import numpy as np
import numpy.typing as npt
from scipy.special import expit, logit
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from curbench import streams
from curbench.errors import InvalidInputError
from curbench.generators.contract import truncated_normal

if TYPE_CHECKING:
    from collections.abc import Callable

    from curbench.datasets.base import Dataset
    from curbench.generators.contract import Generator

PROB_CLIP = 1e-14
_LOG_HALF = np.log(0.5)


class TruncationCurator:
    """The truncation trick: latents from a standard normal truncated to [-psi, psi] by resampling."""

    def __init__(self, psi: float = 0.5) -> None:
        truncated_normal(np.random.default_rng(0), (0,), psi)  # validates psi with the same message
        self.psi = float(psi)

    def curate(self, generator: Generator, n: int, *, seed: int, real: Dataset) -> tuple[np.ndarray, dict[str, float]]:
        """``n`` samples from latents truncated to [-psi, psi], drawn with ``seed``; ``real`` is not used."""
        latents = generator.sample_latents(n, seed=seed, psi=self.psi)
        return generator.sample(n, seed=seed, latents=latents), {"psi": self.psi}


def log1mexp(x: np.ndarray) -> npt.NDArray[np.float64]:
    """log(1 - exp(x)) for x < 0, accurate near 0 (expm1) and for very negative x (log1p)."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    near_zero = x > _LOG_HALF
    out[near_zero] = np.log(-np.expm1(x[near_zero]))
    out[~near_zero] = np.log1p(-np.exp(x[~near_zero]))
    return out


def drs_log_odds(calibrated_logits: np.ndarray, max_logit: float, epsilon: float) -> np.ndarray:
    """F = (D - D_M) - log(1 - exp(D - D_M - eps)), before the gamma shift (Azadi et al. 2019, eq. 8)."""
    delta = np.asarray(calibrated_logits, dtype=np.float64) - max_logit
    return delta - log1mexp(delta - epsilon)


def fit_calibration(
    real_logits: np.ndarray, fake_logits: np.ndarray, method: str
) -> Callable[[np.ndarray], np.ndarray]:
    """Map raw discriminator logits to calibrated P(real), fitted on real (1) vs fake (0) with balanced weights."""
    x = np.concatenate([real_logits, fake_logits]).astype(np.float64)
    y = np.concatenate([np.ones(len(real_logits)), np.zeros(len(fake_logits))])
    weight = np.where(y == 1, len(x) / (2 * len(real_logits)), len(x) / (2 * len(fake_logits)))
    if method == "logistic":
        model = LogisticRegression().fit(x[:, None], y, sample_weight=weight)
        return lambda logits: model.predict_proba(np.asarray(logits, dtype=np.float64)[:, None])[:, 1]
    isotonic = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(x, y, sample_weight=weight)
    return lambda logits: isotonic.predict(np.asarray(logits, dtype=np.float64))


def calibrated_logit(probabilities: np.ndarray) -> np.ndarray:
    """Logit of calibrated probabilities, clipped to [1e-14, 1 - 1e-14] so that 0 and 1 map to finite values."""
    return cast(np.ndarray, logit(np.clip(probabilities, PROB_CLIP, 1 - PROB_CLIP)))


class DRSCurator:
    """Discriminator rejection sampling (Azadi et al. 2019) with a calibrated discriminator.

    Each round draws ``pilot_samples`` candidates (the first round is the pilot,
    which also calibrates the discriminator and sets the running maximum D_M),
    shifts F by the round's ``gamma_percentile``-th percentile and accepts each
    candidate with probability sigmoid(F). Fails with a clear error when
    ``max_rounds`` rounds do not yield ``n`` samples.
    """

    def __init__(
        self,
        pilot_samples: int = 10000,
        gamma_percentile: float = 95.0,
        epsilon: float = 1e-6,
        calibration: Literal["logistic", "isotonic"] = "logistic",
        max_rounds: int = 100,
    ) -> None:
        if not isinstance(pilot_samples, int) or pilot_samples < 10:
            raise InvalidInputError(f"drs option pilot_samples must be an integer >= 10, got {pilot_samples!r}")
        if not 0 <= gamma_percentile <= 100:
            raise InvalidInputError(f"drs option gamma_percentile must be in [0, 100], got {gamma_percentile!r}")
        if not epsilon > 0:
            raise InvalidInputError(f"drs option epsilon must be > 0, got {epsilon!r}")
        if calibration not in ("logistic", "isotonic"):
            raise InvalidInputError(f"drs option calibration must be 'logistic' or 'isotonic', got {calibration!r}")
        if not isinstance(max_rounds, int) or max_rounds < 1:
            raise InvalidInputError(f"drs option max_rounds must be a positive integer, got {max_rounds!r}")
        self.pilot_samples = pilot_samples
        self.gamma_percentile = float(gamma_percentile)
        self.epsilon = float(epsilon)
        self.calibration = calibration
        self.max_rounds = max_rounds

    def curate(self, generator: Generator, n: int, *, seed: int, real: Dataset) -> tuple[np.ndarray, dict[str, float]]:
        """``n`` samples accepted by DRS, with the acceptance rate, the rounds used and the final D_M.

        Raises :class:`InvalidInputError` without a discriminator, or when ``max_rounds`` rounds fall short.
        """
        if not generator.has_discriminator:
            raise InvalidInputError(f"drs needs a generator with a discriminator; {type(generator).__name__} has none")
        real_logits = self._real_logits(generator, real, seed)
        candidates, labels = self._draw(generator, seed, 0)
        fake_logits = generator.discriminate(candidates, labels)
        calibrate = fit_calibration(real_logits, fake_logits, self.calibration)
        max_logit = -np.inf
        accepted: list[np.ndarray] = []
        n_accepted = n_drawn = 0
        for round_index in range(self.max_rounds):
            if round_index > 0:
                candidates, labels = self._draw(generator, seed, round_index)
                fake_logits = generator.discriminate(candidates, labels)
            logits = calibrated_logit(calibrate(fake_logits))
            max_logit = max(max_logit, float(logits.max()))
            scores = drs_log_odds(logits, max_logit, self.epsilon)
            scores = scores - np.percentile(scores, self.gamma_percentile)
            uniform = np.random.default_rng([seed, round_index, streams.DRS_ACCEPT]).random(len(scores))
            keep = uniform < expit(scores)
            accepted.append(candidates[keep])
            n_accepted += int(keep.sum())
            n_drawn += len(keep)
            if n_accepted >= n:
                samples = np.concatenate(accepted)[:n]
                return samples, {
                    "acceptance_rate": n_accepted / n_drawn,
                    "rounds": float(round_index + 1),
                    "max_logit": max_logit,
                }
        raise InvalidInputError(
            f"drs accepted only {n_accepted} of {n} samples from {n_drawn} candidates in {self.max_rounds} rounds; "
            "raise --option max_rounds or lower --option gamma_percentile"
        )

    def _draw(self, generator: Generator, seed: int, round_index: int) -> tuple[np.ndarray, np.ndarray | None]:
        round_seed = int(np.random.SeedSequence([seed, round_index]).generate_state(1)[0])
        labels = generator.sample_labels(self.pilot_samples, seed=round_seed)
        return generator.sample(self.pilot_samples, seed=round_seed, labels=labels), labels

    def _real_logits(self, generator: Generator, real: Dataset, seed: int) -> np.ndarray:
        kind = "image" if real.is_image else "points"
        if kind != generator.data_kind:
            raise InvalidInputError(f"drs got {kind} real data for a generator of {generator.data_kind}; use matching data")
        chosen = np.random.default_rng([seed, streams.DRS_PILOT]).permutation(len(real))[: self.pilot_samples]
        labels = None
        if generator.sample_labels(1, seed=0) is not None:
            if real.labels is None:
                raise InvalidInputError("drs with a class-conditional generator needs real data with labels")
            labels = real.labels[chosen]
        return generator.discriminate(real.data[chosen], labels)
