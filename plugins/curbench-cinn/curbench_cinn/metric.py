"""The ``cinn`` metric: how separable generated features are from real ones, through a conditional invertible network."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

from curbench.validation import check_features, check_same_dim
from curbench_cinn.separation import Settings, check_seed, fit_sources


class CINNSeparation:
    """``CINNSeparation(**settings)(real, fake) -> {"cinn_specific_auc", "cinn_shared_auc"}``.

    A cINN is fitted on real and generated features conditioned on which is which
    (:func:`curbench_cinn.fit_sources`). ``cinn_specific_auc``: cross-validated AUC
    of telling them apart from the source-specific part, on instances held out of
    the cINN's training; 0.5 when the generator matches the data. ``cinn_shared_auc``:
    the same from the shared latent; near 0.5 whenever the cINN fits, so a high value
    flags the specific AUC as unreliable. Options are fields of :class:`Settings`.
    """

    def __init__(
        self,
        n_components: int = Settings.n_components,
        steps: int = Settings.steps,
        noise: float = Settings.noise,
        blocks: int = Settings.blocks,
        hidden: int = Settings.hidden,
        holdout: float = Settings.holdout,
        seed: int = 0,
        device: str = "cpu",
    ) -> None:
        # Bad values fail here, when the metric is built, not after a generator has trained.
        self.settings = Settings(n_components=n_components, steps=steps, noise=noise, blocks=blocks, hidden=hidden, holdout=holdout)
        self.seed = check_seed(seed)
        self.device = device

    def __call__(self, real: np.ndarray, fake: np.ndarray) -> dict[str, float]:
        """Fit a cINN on the real and fake (N, D) features, conditioned on which is which; the two held-out AUCs."""
        real, fake = check_features(real, "real features"), check_features(fake, "fake features")
        check_same_dim(real, fake)
        fit = fit_sources({"real": real, "fake": fake}, seed=self.seed, device=self.device, **asdict(self.settings))
        separation = fit.separation
        return {"cinn_specific_auc": separation["specific_auc"], "cinn_shared_auc": separation["shared_auc"]}
