"""Plugin discovery and the registry of components.

Every component, built-in or third-party, arrives through the ``curbench``
entry-point group. Loading an entry point imports only its registration module;
each registered factory is a lazy ``"module:attribute"`` reference (or a callable)
that is imported the first time the component is used.
"""

from __future__ import annotations

import difflib
import functools
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Literal, overload

import pluggy

from curbench import PROJECT_NAME, hookspecs
from curbench.errors import PluginError
from curbench.plugins.installs import effective_version
from curbench.plugins.records import (
    KINDS,
    DatasetRecord,
    EmbedderRecord,
    ExecutorRecord,
    GeneratorRecord,
    Kind,
    MetricRecord,
    PluginRecord,
    ScorerRecord,
    make_record,
)
from curbench.progress import warn

BUILTIN_DISTRIBUTION = PROJECT_NAME  # curbench's own components: they keep their plain names

HOOK_PREFIX = f"{PROJECT_NAME}_"
REGISTER_HOOKS: dict[Kind, str] = {kind: f"{HOOK_PREFIX}register_{kind}s" for kind in KINDS}


@dataclass(frozen=True)
class BrokenPlugin:
    """A plugin whose registration failed; listed, and fatal only to runs naming it."""

    plugin: str
    distribution: str
    version: str
    error: str
    traceback: str = ""


@dataclass
class Registry:
    """All registered components, keyed by (kind, name)."""

    records: dict[tuple[Kind, str], PluginRecord] = field(default_factory=dict)
    conflicts: dict[tuple[Kind, str], list[PluginRecord]] = field(default_factory=dict)
    # Every record also under "distribution:name"; a third party's records that a built-in name shadows.
    qualified: dict[tuple[Kind, str], PluginRecord] = field(default_factory=dict)
    shadowed: dict[tuple[Kind, str], list[PluginRecord]] = field(default_factory=dict)
    broken: list[BrokenPlugin] = field(default_factory=list)
    plugin_manager: pluggy.PluginManager | None = None

    def add(self, record: PluginRecord) -> None:
        """Register ``record`` under its name and its qualified name ``distribution:name``.

        Two plugins registering one name: curbench's built-in keeps the plain name (the other is reached as
        ``distribution:name``, with a warning when the plain name is used); between third parties the plain
        name is a conflict, and each stays reachable by its qualified name.
        """
        self.qualified[(record.kind, f"{record.distribution}:{record.name}")] = record
        key = (record.kind, record.name)
        if key in self.conflicts:
            self.conflicts[key].append(record)
        elif key not in self.records:
            self.records[key] = record
        elif self.records[key].distribution == BUILTIN_DISTRIBUTION or record.distribution == BUILTIN_DISTRIBUTION:
            builtin, other = sorted((self.records[key], record), key=lambda r: r.distribution != BUILTIN_DISTRIBUTION)
            self.records[key] = builtin
            self.shadowed.setdefault(key, []).append(other)
        else:
            self.conflicts[key] = [self.records.pop(key), record]

    def names(self, kind: Kind) -> list[str]:
        """The plain names, and the qualified names of plugins that share a plain name with another."""
        plain = {name for k, name in (*self.records, *self.conflicts) if k == kind}
        shared = {f"{r.distribution}:{r.name}" for key, rs in (*self.conflicts.items(), *self.shadowed.items())
                  if key[0] == kind for r in rs}
        return sorted(plain | shared)

    def __iter__(self) -> Iterator[PluginRecord]:
        return iter(sorted(self.records.values(), key=lambda r: (KINDS.index(r.kind), r.name)))

    @overload
    def get(self, kind: Literal["dataset"], name: str) -> DatasetRecord: ...
    @overload
    def get(self, kind: Literal["embedder"], name: str) -> EmbedderRecord: ...
    @overload
    def get(self, kind: Literal["scorer"], name: str) -> ScorerRecord: ...
    @overload
    def get(self, kind: Literal["generator"], name: str) -> GeneratorRecord: ...
    @overload
    def get(self, kind: Literal["metric"], name: str) -> MetricRecord: ...
    @overload
    def get(self, kind: Literal["executor"], name: str) -> ExecutorRecord: ...
    @overload
    def get(self, kind: Kind, name: str) -> PluginRecord: ...

    def get(self, kind: Kind, name: str) -> PluginRecord:
        """The typed record of that kind (a :class:`~curbench.plugins.records.ScorerRecord` for "scorer", ...)."""
        key = (kind, name)
        if key in self.qualified:
            return self.qualified[key]
        if key in self.records:
            for other in self.shadowed.get(key, ()):
                warn(f"{kind} '{name}' is curbench's built-in; the one {other.distribution} also registers is "
                     f"'{other.distribution}:{name}'", key=f"shadowed:{kind}:{name}")
            return self.records[key]
        if key in self.conflicts:
            providers = " and ".join(f"{r.distribution} {r.version}" for r in self.conflicts[key])
            qualified = " or ".join(f"'{r.distribution}:{name}'" for r in self.conflicts[key])
            raise PluginError(
                f"{kind} '{name}' is registered by more than one plugin ({providers}); name one of them as {qualified}"
            )
        failed = next((b for b in self.broken if f"{kind} '{name}'" in b.error), None)
        if failed is not None:  # the name was registered, but its registration was refused: say why, not "unknown"
            raise PluginError(
                f"{kind} '{name}' from {failed.distribution} {failed.version} could not be registered: {failed.error}"
            )
        hint = ""
        if self.broken:
            hint = " (plugins that failed to load: " + ", ".join(b.plugin for b in self.broken) + "; see `curbench plugins`)"
        known = self.names(kind)
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        suggestion = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
        raise PluginError(f"unknown {kind} '{name}'; {suggestion}available: {', '.join(known) or 'none'}{hint}")

    def create(self, kind: Kind, name: str, options: dict[str, Any] | None = None, /, **defaults: Any) -> Any:
        """Build component ``name`` of ``kind`` from user ``options``, as :meth:`PluginRecord.create` does."""
        return self.get(kind, name).create(options, **defaults)


def _distribution_of(entry_point: EntryPoint) -> tuple[str, str]:
    dist = getattr(entry_point, "dist", None)
    if dist is None:
        return "unknown", "?"
    return dist.metadata["Name"], effective_version(dist)


def new_plugin_manager() -> pluggy.PluginManager:
    """A pluggy manager for the ``curbench`` project with curbench's hook specs added."""
    manager = pluggy.PluginManager(PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    return manager


def _unknown_hooks(manager: pluggy.PluginManager, plugin: object) -> list[str]:
    """Hook implementations of ``plugin`` that match no hook spec (e.g. a misspelt name), as check_pending sees them."""
    unknown = []
    for caller in manager.get_hookcallers(plugin) or []:
        if caller.has_spec():
            continue
        if any(impl.plugin is plugin and not impl.optionalhook for impl in caller.get_hookimpls()):
            unknown.append(caller.name)
    return sorted(unknown)


def _misspelt(names: list[str]) -> str:
    specs = [name for name in dir(hookspecs) if name.startswith(HOOK_PREFIX)]
    parts = []
    for name in names:
        close = difflib.get_close_matches(name, specs, n=1)
        parts.append(f"'{name}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
    return "unknown hook " + ", ".join(parts)


@functools.cache
def default_registry() -> Registry:
    """The registry of the installed plugins, read once per process."""
    return load_registry()


def load_registry(plugin_entry_points: list[EntryPoint] | None = None) -> Registry:
    """Discover plugins through entry points and collect what they register.

    A plugin that fails to import, implements a hook that does not exist, or whose
    registration hook raises, is kept in ``Registry.broken`` with none of its
    components, and does not stop the others from loading.
    """
    manager = new_plugin_manager()
    registry = Registry(plugin_manager=manager)
    found = entry_points(group=PROJECT_NAME) if plugin_entry_points is None else plugin_entry_points
    sources: dict[str, tuple[str, str]] = {}
    for entry_point in sorted(found, key=lambda e: e.name):
        distribution, version = _distribution_of(entry_point)
        try:
            plugin = entry_point.load()
            manager.register(plugin, name=entry_point.name)
        except Exception as exc:  # third-party import failures of any kind
            registry.broken.append(BrokenPlugin(
                entry_point.name, distribution, version, f"{type(exc).__name__}: {exc}", traceback.format_exc()
            ))
            continue
        unknown = _unknown_hooks(manager, plugin)
        if unknown:
            manager.unregister(plugin)
            registry.broken.append(BrokenPlugin(entry_point.name, distribution, version, _misspelt(unknown)))
            continue
        sources[entry_point.name] = (distribution, version)
    manager.check_pending()  # every remaining implementation matches a spec

    for plugin_name, (distribution, version) in sources.items():
        collected = _registrations(manager, plugin_name, (plugin_name, distribution, version), registry)
        for record in collected or ():
            registry.add(record)
    return registry


def _registrations(
    manager: pluggy.PluginManager, plugin_name: str, source: tuple[str, str, str], registry: Registry
) -> list[PluginRecord] | None:
    """Everything one plugin registers, through pluggy; None (and a broken entry) if any of its hooks raises."""
    others = [plugin for name, plugin in manager.list_name_plugin() if name != plugin_name]
    collected: list[PluginRecord] = []
    for kind, hook_name in REGISTER_HOOKS.items():

        def register(name: str, factory: object, description: str = "", *, _kind: Kind = kind, **declared: Any) -> None:
            collected.append(make_record(_kind, name, factory, description, source, declared))

        try:
            manager.subset_hook_caller(hook_name, remove_plugins=others)(register=register)
        except Exception as exc:  # a raising hook must not hide the other plugins, nor leave half its components
            registry.broken.append(BrokenPlugin(
                *source, f"{hook_name}: {type(exc).__name__}: {exc}", traceback.format_exc()
            ))
            return None
    return collected
