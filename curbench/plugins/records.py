"""Typed registration records, one class per kind of component.

A plugin's registration hook calls ``register(name, factory, description, **declared)``;
``declared`` holds what the record of that kind declares about its component, so that
nothing has to be learnt by building the component and looking at it:

========== ==============================================================================
kind       declared fields
========== ==============================================================================
dataset    ``modality``: "image" (default) or "points"
embedder   ``code_version``
scorer     ``stage``: "data" (default) or "sample" (a sample-time curator);
           ``wants_context``: fit receives the :class:`~curbench.scorers.context.ScoringContext`
generator  ``modality``; ``checkpoint_architecture``: the name its checkpoints are saved under
metric     ``higher_is_better``: output key -> True, False or None (reported, not ranked);
           ``takes_reference``: called with the cached
           :class:`~curbench.metrics.reference.ReferenceStatistics` of the real features instead of the array
executor   (nothing beyond the common fields)
========== ==============================================================================

Every kind also takes ``code_version``: bump it when the component's results change,
and the cells that used it are recomputed; and ``runtime_options``: which of the values the
runner offers its kind (:data:`RUNTIME_VALUES`) the factory takes, e.g. ``("seed", "device")``
for a scorer. The runner passes exactly those (where the user did not set them as options);
nothing is inferred from the factory's signature, which is only checked against the declaration.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Literal

from curbench.atomic import SAFE_NAME_RULE, is_safe_name
from curbench.choices import Stage
from curbench.errors import CurbenchError, PluginError
from curbench.plugins.contracts import CONTRACTS, DataScorer, SampleTimeCurator, missing
from curbench.plugins.options import accepts_option, check_options, names_parameter
from curbench.progress import warn

Kind = Literal["dataset", "embedder", "scorer", "generator", "metric", "executor"]
KINDS: tuple[Kind, ...] = ("dataset", "embedder", "scorer", "generator", "metric", "executor")
Modality = Literal["image", "points"]
# Keys every cell's metrics hold besides the plugins' (sample counts) or its curve ("step"): no metric may declare them.
RESERVED_METRIC_KEYS = ("n_real", "n_fake", "step")
# The distribution whose components are part of curbench itself (their identity is curbench's code).
CORE_DISTRIBUTION = "curbench"
# What the runner and the CLI offer each kind of component at creation; a record's runtime_options picks from these.
RUNTIME_VALUES: dict[Kind, tuple[str, ...]] = {
    "dataset": ("root",),  # the --data-root folder of on-disk datasets
    "embedder": ("device", "weights"),  # weights: the --weights / --eval-weights file
    "scorer": ("seed", "device"),
    "generator": ("device",),
    "metric": ("k", "tie", "cache", "seed", "device"),  # k and tie: the neighbourhood of precision/recall/density/coverage
    "executor": ("workers",),
}


@dataclass(frozen=True)
class PluginRecord:
    """One registered component: what it is called, who provides it, how to build it."""

    kind: ClassVar[Kind]
    name: str
    factory: str | Callable[..., Any]
    description: str
    plugin: str
    distribution: str
    version: str
    code_version: str | None = None
    runtime_options: tuple[str, ...] = ()

    @property
    def is_core(self) -> bool:
        """True for components that ship with curbench itself (their identity is curbench's code)."""
        return self.distribution == CORE_DISTRIBUTION

    def where(self) -> str:
        """How error messages name this component: ``kind 'name' from distribution version``."""
        return f"{self.kind} '{self.name}' from {self.distribution} {self.version}"

    def identity(self) -> dict[str, str]:
        """What a cell records about this component; plugin versions and code versions change the cell's id."""
        found = {} if self.is_core else {"distribution": self.distribution, "version": self.version}
        if self.code_version is not None:
            found["code_version"] = self.code_version
        return found

    def load(self) -> Callable[..., Any]:
        """Import and return the factory; import failures and broken contracts name the plugin."""
        if callable(self.factory):
            target: Any = self.factory
        else:
            module_name, _, attribute = self.factory.partition(":")
            try:
                target = importlib.import_module(module_name)
                for part in attribute.split("."):
                    target = getattr(target, part)
            except Exception as exc:  # any failure inside third-party code
                raise PluginError(
                    f"{self.where()} failed to load ({type(exc).__name__}: {exc}); reinstall or upgrade that package"
                ) from exc
        if isinstance(target, type):
            self.check_contract(target)
        untaken = [name for name in self.runtime_options if not accepts_option(target, name)]
        if untaken:
            raise PluginError(f"{self.where()} declares runtime_options {', '.join(untaken)} that its factory does "
                              "not take; add the parameter or drop the declaration")
        undeclared = [name for name in RUNTIME_VALUES[self.kind]
                      if name not in self.runtime_options and names_parameter(target, name)]
        if undeclared:  # e.g. a scorer written before runtime_options existed: it would run unseeded without a word
            warn(f"{self.where()} takes {', '.join(undeclared)} but does not declare it in runtime_options, so it gets "
                 f"its own default; add runtime_options={tuple(undeclared)!r} to its register() call",
                 key=f"undeclared:{self.kind}:{self.name}")
        factory: Callable[..., Any] = target
        return factory

    def create(self, options: dict[str, Any] | None = None, /, **runtime: Any) -> Any:
        """Build the component from user ``options``, rejecting names its factory does not take.

        ``runtime`` (values of :data:`RUNTIME_VALUES`, e.g. the run's device or seed) fills in the
        options the user left out, for the names the record declares in ``runtime_options`` only.
        """
        factory = self.load()
        options = dict(options or {})
        check_options(factory, options, f"{self.kind} '{self.name}'")
        for key, value in runtime.items():
            if key not in options and key in self.runtime_options:
                options[key] = value
        try:
            component = factory(**options)
        except CurbenchError:
            raise
        except TypeError as exc:
            raise PluginError(f"{self.where()} rejected its options ({exc})") from exc
        self.check_contract(component)
        return component

    def check_contract(self, component: Any) -> None:
        """Raise :class:`PluginError` naming what ``component`` (a class or an instance) lacks for its contract."""
        absent = missing(self.contract(), component)
        if absent:
            raise PluginError(
                f"{self.where()} does not satisfy the {self.kind} contract: missing {', '.join(absent)}; "
                f"see docs/plugins.md"
            )

    def contract(self) -> type:
        """The Protocol of :mod:`curbench.plugins.contracts` that components of this kind must satisfy."""
        return CONTRACTS[self.kind]


@dataclass(frozen=True)
class DatasetRecord(PluginRecord):
    kind: ClassVar[Kind] = "dataset"
    modality: Modality = "image"


@dataclass(frozen=True)
class EmbedderRecord(PluginRecord):
    kind: ClassVar[Kind] = "embedder"


@dataclass(frozen=True)
class ScorerRecord(PluginRecord):
    kind: ClassVar[Kind] = "scorer"
    stage: Stage = "data"
    wants_context: bool = False

    def contract(self) -> type:
        """:class:`SampleTimeCurator` for a sample-stage scorer, :class:`DataScorer` otherwise."""
        return SampleTimeCurator if self.stage == "sample" else DataScorer


@dataclass(frozen=True)
class GeneratorRecord(PluginRecord):
    kind: ClassVar[Kind] = "generator"
    modality: Modality = "image"
    checkpoint_architecture: str | None = None


@dataclass(frozen=True)
class MetricRecord(PluginRecord):
    kind: ClassVar[Kind] = "metric"
    higher_is_better: Mapping[str, bool | None] = field(default_factory=dict)
    takes_reference: bool = False


@dataclass(frozen=True)
class ExecutorRecord(PluginRecord):
    kind: ClassVar[Kind] = "executor"


RECORD_TYPES: dict[Kind, type[PluginRecord]] = {
    cls.kind: cls
    for cls in (DatasetRecord, EmbedderRecord, ScorerRecord, GeneratorRecord, MetricRecord, ExecutorRecord)
}
_COMMON = {"name", "factory", "description", "plugin", "distribution", "version"}


def make_record(kind: Kind, name: object, factory: object, description: object, source: tuple[str, str, str],
                declared: dict[str, Any]) -> PluginRecord:
    """The typed record for one ``register(...)`` call; a malformed call raises ValueError naming what is wrong."""
    cls = RECORD_TYPES[kind]
    allowed = sorted(f.name for f in fields(cls) if f.name not in _COMMON)
    unknown = sorted(set(declared) - set(allowed))
    if unknown:
        raise ValueError(f"{kind} '{name}': unknown field(s) {', '.join(unknown)}; a {kind} declares {', '.join(allowed)}")
    if not isinstance(name, str) or not is_safe_name(name):
        raise ValueError(f"a {kind} name must be {SAFE_NAME_RULE} (it may name files), got {name!r}")
    if not (callable(factory) or (isinstance(factory, str) and ":" in factory)):
        raise ValueError(f"{kind} '{name}': factory must be a callable or a 'module:attribute' string, got {factory!r}")
    _check_declared(kind, name, declared)
    if "runtime_options" in declared:  # a list is fine in a register() call; the record is frozen and hashable
        declared = {**declared, "runtime_options": tuple(declared["runtime_options"])}
    return cls(name, factory, str(description), *source, **declared)


def _check_declared(kind: Kind, name: str, declared: dict[str, Any]) -> None:
    choices = {"modality": ("image", "points"), "stage": ("data", "sample")}
    for key, allowed in choices.items():
        if key in declared and declared[key] not in allowed:
            raise ValueError(f"{kind} '{name}': {key} must be one of {', '.join(allowed)}, got {declared[key]!r}")
    for flag in ("wants_context", "takes_reference"):
        if flag in declared and not isinstance(declared[flag], bool):
            raise ValueError(f"{kind} '{name}': {flag} must be True or False")
    if "code_version" in declared and not isinstance(declared["code_version"], str | None):
        raise ValueError(f"{kind} '{name}': code_version must be a string")
    if "runtime_options" in declared:
        offered, runtime = RUNTIME_VALUES[kind], declared["runtime_options"]
        if not isinstance(runtime, list | tuple) or not set(runtime) <= set(offered):
            raise ValueError(f"{kind} '{name}': runtime_options must be a tuple of names among {', '.join(offered)} "
                             f"(what curbench offers a {kind}), got {runtime!r}")
    if kind == "metric":
        directions = declared.get("higher_is_better")
        if not isinstance(directions, Mapping) or not directions or not all(
            isinstance(key, str) and (value is None or isinstance(value, bool)) for key, value in directions.items()
        ):
            raise ValueError(
                f"metric '{name}': higher_is_better must map each output key to True, False or None, "
                f"e.g. higher_is_better={{'{name}': False}}"
            )
        unsafe = [key for key in directions if not is_safe_name(key) or key in RESERVED_METRIC_KEYS]
        if unsafe:
            raise ValueError(
                f"metric '{name}': output key {unsafe[0]!r} is not allowed (keys name table columns and plot files: "
                f"{SAFE_NAME_RULE}; {', '.join(RESERVED_METRIC_KEYS)} are curbench's own)"
            )
