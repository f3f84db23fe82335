"""Registration module, imported when curbench discovers plugins: lazy strings only, no scikit-learn import."""

from __future__ import annotations

from curbench import hookimpl


@hookimpl
def curbench_register_scorers(register):
    """Register the ``isolation-forest`` and ``lof`` outlier scorers (higher = more normal)."""
    register(
        "isolation-forest",
        "curbench_outliers.scorers:IsolationForestScorer",
        "scikit-learn IsolationForest score_samples (higher = more normal)",
        runtime_options=("seed",),
    )
    register(
        "lof",
        "curbench_outliers.scorers:LOFScorer",
        "negative local outlier factor (higher = more normal)",
    )
