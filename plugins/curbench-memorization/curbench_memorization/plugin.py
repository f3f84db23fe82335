"""Registration module, imported when curbench discovers plugins: a lazy string, no numeric imports."""

from __future__ import annotations

from curbench import hookimpl


@hookimpl
def curbench_register_metrics(register):
    """Register the ``memorization`` metric (``nn_distance_ratio`` is reported, not ranked)."""
    register(
        "memorization",
        "curbench_memorization.metric:Memorization",
        "fraction of generated samples closer to a real instance than its own nearest real neighbour",
        higher_is_better={"memorization": False, "nn_distance_ratio": None},
    )
