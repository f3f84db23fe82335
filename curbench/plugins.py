"""Plugin discovery and the registry of components.

Every component, built-in or third-party, arrives through the ``curbench``
entry-point group. Loading an entry point imports only its registration module;
each registered factory is a lazy ``"module:attribute"`` reference (or a callable)
that is imported the first time the component is used.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Literal

import pluggy

from curbench import PROJECT_NAME, hookspecs
from curbench.errors import PluginError

Kind = Literal["dataset", "embedder", "scorer", "generator", "metric"]
KINDS: tuple[Kind, ...] = ("dataset", "embedder", "scorer", "generator", "metric")
_REGISTER_HOOKS: dict[Kind, str] = {kind: f"curbench_register_{kind}s" for kind in KINDS}


@dataclass(frozen=True)
class PluginRecord:
    """One registered component: what it is called, who provides it, how to build it."""

    kind: Kind
    name: str
    factory: str | Callable[..., Any]
    description: str
    plugin: str
    distribution: str
    version: str

    def load(self) -> Callable[..., Any]:
        """Import and return the factory; import failures name the plugin."""
        if callable(self.factory):
            return self.factory
        module_name, _, attribute = self.factory.partition(":")
        try:
            target = importlib.import_module(module_name)
            for part in attribute.split("."):
                target = getattr(target, part)
        except Exception as exc:  # any failure inside third-party code
            raise PluginError(
                f"{self.kind} '{self.name}' from {self.distribution} {self.version} failed to load "
                f"({type(exc).__name__}: {exc}); reinstall or upgrade that package"
            ) from None
        return target

    def create(self, options: dict[str, Any] | None = None, /, **defaults: Any) -> Any:
        """Build the component from user ``options``, rejecting names its factory does not take.

        ``defaults`` (e.g. the run's device or seed) fill in options the user left
        out, and only where the factory accepts them.
        """
        factory = self.load()
        options = dict(options or {})
        check_options(factory, options, f"{self.kind} '{self.name}'")
        for key, value in defaults.items():
            if key not in options and accepts_option(factory, key):
                options[key] = value
        return factory(**options)


def accepts_option(factory: Callable[..., Any], option: str) -> bool:
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False
    return option in parameters or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())


def check_options(factory: Callable[..., Any], options: dict[str, Any], what: str) -> None:
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # builtins without a signature: let the call decide
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    accepted = [n for n, p in parameters.items() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
    for option in options:
        if option not in accepted:
            valid = ", ".join(accepted) or "none"
            raise PluginError(f"unknown option '{option}' for {what}; valid options: {valid}")


@dataclass(frozen=True)
class BrokenPlugin:
    """A plugin whose registration failed; listed, and fatal only to runs naming it."""

    plugin: str
    distribution: str
    version: str
    error: str


@dataclass
class Registry:
    """All registered components, keyed by (kind, name)."""

    records: dict[tuple[Kind, str], PluginRecord] = field(default_factory=dict)
    conflicts: dict[tuple[Kind, str], list[PluginRecord]] = field(default_factory=dict)
    broken: list[BrokenPlugin] = field(default_factory=list)
    plugin_manager: pluggy.PluginManager | None = None

    def add(self, record: PluginRecord) -> None:
        key = (record.kind, record.name)
        if key in self.conflicts:
            self.conflicts[key].append(record)
        elif key in self.records:
            self.conflicts[key] = [self.records.pop(key), record]
        else:
            self.records[key] = record

    def names(self, kind: Kind) -> list[str]:
        return sorted({name for k, name in (*self.records, *self.conflicts) if k == kind})

    def __iter__(self) -> Iterable[PluginRecord]:
        return iter(sorted(self.records.values(), key=lambda r: (KINDS.index(r.kind), r.name)))

    def get(self, kind: Kind, name: str) -> PluginRecord:
        key = (kind, name)
        if key in self.records:
            return self.records[key]
        if key in self.conflicts:
            providers = " and ".join(f"{r.distribution} {r.version}" for r in self.conflicts[key])
            raise PluginError(
                f"{kind} '{name}' is registered by more than one plugin ({providers}); uninstall one of them"
            )
        hint = ""
        if self.broken:
            hint = " (plugins that failed to load: " + ", ".join(b.plugin for b in self.broken) + "; see `curbench plugins`)"
        known = self.names(kind)
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        suggestion = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
        raise PluginError(f"unknown {kind} '{name}'; {suggestion}available: {', '.join(known) or 'none'}{hint}")

    def create(self, kind: Kind, name: str, options: dict[str, Any] | None = None, /, **defaults: Any) -> Any:
        return self.get(kind, name).create(options, **defaults)


def _distribution_of(entry_point: EntryPoint) -> tuple[str, str]:
    dist = getattr(entry_point, "dist", None)
    if dist is None:
        return "unknown", "?"
    return dist.metadata["Name"], dist.version


def new_plugin_manager() -> pluggy.PluginManager:
    manager = pluggy.PluginManager(PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    return manager


def load_registry(plugin_entry_points: Iterable[EntryPoint] | None = None) -> Registry:
    """Discover plugins through entry points and collect what they register.

    A plugin that fails to import, or whose registration hook raises, is kept
    in ``Registry.broken`` and does not stop the others from loading.
    """
    manager = new_plugin_manager()
    registry = Registry(plugin_manager=manager)
    if plugin_entry_points is None:
        plugin_entry_points = entry_points(group=PROJECT_NAME)
    sources: dict[str, tuple[str, str]] = {}
    for entry_point in sorted(plugin_entry_points, key=lambda e: e.name):
        distribution, version = _distribution_of(entry_point)
        try:
            manager.register(entry_point.load(), name=entry_point.name)
        except Exception as exc:  # third-party import failures of any kind
            registry.broken.append(BrokenPlugin(entry_point.name, distribution, version, f"{type(exc).__name__}: {exc}"))
            continue
        sources[entry_point.name] = (distribution, version)

    for kind, hook_name in _REGISTER_HOOKS.items():
        for impl in getattr(manager.hook, hook_name).get_hookimpls():
            distribution, version = sources[impl.plugin_name]

            def register(
                name: str, factory: object, description: str = "", *, _kind: Kind = kind, _source=(impl.plugin_name, distribution, version)
            ) -> None:
                registry.add(PluginRecord(_kind, name, factory, description, *_source))

            try:
                impl.function(register=register)
            except Exception as exc:  # a raising hook must not hide the other plugins
                registry.broken.append(
                    BrokenPlugin(impl.plugin_name, distribution, version, f"{hook_name}: {type(exc).__name__}: {exc}")
                )
    return registry
