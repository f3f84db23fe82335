"""curbench-cinn: a conditional invertible network (FrEIA) that separates source-specific from shared information.

``curbench_cinn.fit_sources({"a": features_a, "b": features_b})`` fits it; see ``docs/bias.md``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Projection", "Settings", "SourceFit", "fit_sources"]


def __getattr__(name: str) -> Any:
    # Plugin discovery imports curbench_cinn.plugin, hence this package: torch and FrEIA load only on use.
    if name in __all__:
        from curbench_cinn import separation

        return getattr(separation, name)
    raise AttributeError(f"module 'curbench_cinn' has no attribute '{name}'")
