"""The plugin layer: typed component records, the contract per kind, discovery and the registry."""

from curbench.plugins.options import check_options
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
)
from curbench.plugins.registry import BrokenPlugin, Registry, load_registry, new_plugin_manager

__all__ = [
    "KINDS",
    "BrokenPlugin",
    "DatasetRecord",
    "EmbedderRecord",
    "ExecutorRecord",
    "GeneratorRecord",
    "Kind",
    "MetricRecord",
    "PluginRecord",
    "Registry",
    "ScorerRecord",
    "check_options",
    "load_registry",
    "new_plugin_manager",
]
