"""The metrics of a cell: the registered metric plugins it names, run on real and generated features.

Each metric's record declares the keys it produces and their direction
(``higher_is_better``); every number a metric returns must be one of those keys and
finite. Built-in metrics share the real side's cached statistics; a third party's
metric receives plain arrays.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from curbench.errors import PluginError
from curbench.metrics import KID, PRDC, PRDCPoints, kid_and_prdc
from curbench.metrics.reference import checked_inputs
from curbench.plugins import MetricRecord, Registry
from curbench.plugins.contracts import NeedsNeighbours

COUNT_KEYS = {"n_real": None, "n_fake": None}  # how many points each side had: reported, never ranked


@dataclass(frozen=True)
class MetricSet:
    """The metrics one cell computes, built once with the cell's neighbourhood settings."""

    records: tuple[MetricRecord, ...]
    components: tuple[Any, ...]

    def __post_init__(self) -> None:
        _check_distinct_keys(self.records)

    @classmethod
    def build(cls, registry: Registry, names: Sequence[str], *, k: int, tie: str, cache: bool = True, **defaults: Any) -> MetricSet:
        """The named metrics, each given ``k``, ``tie``, ``cache`` and ``defaults`` where its factory takes them."""
        records = tuple(registry.get("metric", name) for name in names)
        components = tuple(record.create({}, k=k, tie=tie, cache=cache, **defaults) for record in records)
        return cls(records, components)

    def directions(self) -> dict[str, bool | None]:
        """Every output key -> True (higher is better), False (lower is better) or None (not ranked)."""
        found: dict[str, bool | None] = {}
        for record in self.records:
            found.update(record.higher_is_better)
        return {**found, **COUNT_KEYS}


    @property
    def neighbourhood(self) -> int:
        """Rows the inputs need: more than the largest k of a k-NN metric."""
        return max([c.k for c in self.components if isinstance(c, NeedsNeighbours)] + [1]) + 1

    def __call__(self, real: np.ndarray, fake: np.ndarray, *, cache: bool = True) -> dict[str, float]:
        """All metrics of ``fake`` against ``real``."""
        return self.with_points(real, fake, cache=cache)[0]

    def with_points(
        self, real: np.ndarray, fake: np.ndarray, *, k: int = 5, tie: str = "lt", cache: bool = True
    ) -> tuple[dict[str, float], PRDCPoints]:
        """The metrics, and the per-point P/R/D/C outcomes the bias audit needs (computed with ``k``/``tie`` when no
        ``prdc`` metric is in the set)."""
        reference, fake = checked_inputs(real, fake, min_rows=self.neighbourhood, use_cache=cache, why="the metrics")
        prdc_points: PRDCPoints | None = None
        kid = next((m for m in self.components if isinstance(m, KID)), None)
        prdc = next((m for m in self.components if isinstance(m, PRDC)), None)
        shared: dict[str, float] | None = None
        if kid is not None and prdc is not None:
            shared, prdc_points = kid_and_prdc(kid, prdc, reference, fake)  # KID takes its products from P/R/D/C's passes
        result: dict[str, float] = {}
        for record, metric in zip(self.records, self.components, strict=True):
            if isinstance(metric, PRDC):
                if prdc_points is None:
                    prdc_points = metric.per_point(reference, fake)
                values = prdc_points.metrics()
            elif metric is kid and shared is not None:
                values = shared
            else:
                values = metric(reference if record.takes_reference else reference.real, fake)
            result.update(_checked(record, values))
        result.update(n_real=len(reference.real), n_fake=len(fake))
        if prdc_points is None:
            prdc_points = PRDC(k=k, tie=tie, cache=cache).per_point(reference, fake)
        return result, prdc_points


def _check_distinct_keys(records: Sequence[MetricRecord]) -> None:
    """Each output key comes from one chosen metric: a plugin declaring another's key (e.g. 'fid') would overwrite
    its numbers and its direction."""
    owners: dict[str, MetricRecord] = {}
    for record in records:
        for key in record.higher_is_better:
            if key in COUNT_KEYS:
                raise PluginError(f"{record.where()} declares output key '{key}', which curbench reports itself; "
                                  "rename the key in that plugin")
            if key in owners and owners[key] is not record:
                raise PluginError(
                    f"{owners[key].where()} and {record.where()} both declare output key '{key}'; choose one of them "
                    "(--metric / metrics:) or rename the key in the plugin"
                )
            owners[key] = record


def _checked(record: MetricRecord, values: Any) -> dict[str, float]:
    declared = record.higher_is_better
    if not isinstance(values, Mapping):
        raise PluginError(f"{record.where()} returned {type(values).__name__}, not a mapping of its keys to numbers")
    checked = {}
    for key, value in values.items():
        if key not in declared:
            raise PluginError(
                f"{record.where()} returned key '{key}', which its registration does not declare "
                f"(declared: {', '.join(declared)}); add it to higher_is_better"
            )
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise PluginError(f"{record.where()} returned a non-number for '{key}': {value!r}") from None
        if not math.isfinite(number):
            raise PluginError(
                f"{record.where()} returned {number} for '{key}': the features may be degenerate or too large "
                "for its arithmetic; check the embedder's output"
            )
        checked[key] = number
    return checked


def declared_directions(registry: Registry, names: Sequence[str]) -> dict[str, bool | None]:
    """The directions the named metrics declare, without building them (what a record of them carries)."""
    return MetricSet(tuple(registry.get("metric", name) for name in names), ()).directions()
