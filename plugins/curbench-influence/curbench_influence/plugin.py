"""Registration module, imported when curbench discovers plugins: a lazy string, no torch import."""

from __future__ import annotations

from curbench import hookimpl


@hookimpl
def curbench_register_scorers(register):
    """Register the ``influence`` scorer (Terashita et al.'s GAN influence estimation; needs the context)."""
    register(
        "influence",
        "curbench_influence.scorer:InfluenceScorer",
        "GAN influence estimation (Terashita et al.): keeps instances whose removal would worsen the metric",
        wants_context=True,
        runtime_options=("seed", "device"),
    )
