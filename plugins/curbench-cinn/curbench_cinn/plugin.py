"""Registration module, imported when curbench discovers plugins: a lazy string, no torch or FrEIA import."""

from __future__ import annotations

from curbench import hookimpl


@hookimpl
def curbench_register_metrics(register):
    """Register the ``cinn`` metric: real-vs-generated AUCs from a cINN's source-specific part and shared latent."""
    register(
        "cinn",
        "curbench_cinn.metric:CINNSeparation",
        "held-out AUC of predicting real vs generated from a cINN's source-specific part and from its shared latent",
        higher_is_better={"cinn_specific_auc": False, "cinn_shared_auc": False},
        runtime_options=("seed", "device"),
    )
