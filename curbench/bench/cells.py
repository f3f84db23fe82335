"""Cells and their roles: what a method is compared with, and where a cell lives on disk.

Every other layer (runner, sweep, leaderboards, reports, curves) asks this module
which role a cell plays and which cells are its baselines; none matches on labels.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from curbench.bench.records import RECORD_FILE, ResultRecord, cell_id, read_record
from curbench.config import RunConfig
from curbench.plugins import Kind, Registry
from curbench.plugins.registry import default_registry

CELLS_DIR = "cells"
GENERATORS_DIR = "generators"
# The evaluation features of a cell are kept beside its record when small (CPU tracks), for
# `curbench run --save-features` and `curbench metrics`.
FEATURES_FILE = "features.npz"


class Role(str, Enum):
    """What a row of a board is: a curation method, one of its baselines, or a reference without a generator."""

    METHOD = "method"
    FULL = "full"  # the generator trained on all the data
    RANDOM = "random"  # the generator trained on a random subset of the method's size
    REAL = "real"  # real data against the reference (a split half, or a held-out split): the ceiling
    KEPT = "kept"  # the kept instances themselves against the full data: the subset with no generator

    @property
    def label(self) -> str:
        """How tables and reports name the role, e.g. "random subset" or "real data (ceiling)"."""
        return _LABELS[self]

    def __str__(self) -> str:
        return self.value


_LABELS = {
    Role.METHOD: "method",
    Role.FULL: "full data",
    Role.RANDOM: "random subset",
    Role.REAL: "real data (ceiling)",
    Role.KEPT: "kept data, no generator",
}
GENERATOR_ROLES = frozenset({Role.FULL, Role.RANDOM, Role.METHOD})
REFERENCE_ROLES = frozenset({Role.REAL, Role.KEPT})


def role_of(config: Mapping[str, Any] | RunConfig) -> Role:
    """FULL = random scorer keeping everything, RANDOM = random subset, else METHOD."""
    cell = config.cell() if isinstance(config, RunConfig) else config
    if cell["scorer"] == "random" and cell["stage"] == "data":
        return Role.FULL if cell["retention"] >= 100 else Role.RANDOM
    return Role.METHOD


IDENTITY_KEYS = ("plugins", "inputs")  # what a cell's hashed description adds to its RunConfig


def config_of(cell: Mapping[str, Any]) -> RunConfig:
    """The RunConfig of a record's hashed config (which also names its plugins and the digests of its input files)."""
    return RunConfig(**{key: value for key, value in cell.items() if key not in IDENTITY_KEYS})


def record_is_sample_time(record: ResultRecord) -> bool:
    """The stage the cell ran as (validated against the scorer's declared stage before it ran)."""
    return bool(record.config["stage"] == "sample")


@dataclass(frozen=True)
class Baselines:
    """The cells a method is compared against: all the data, and a random subset of the same size."""

    full: RunConfig
    random: RunConfig | None

    @property
    def compared_with(self) -> RunConfig:
        """A data-stage method is judged against the random subset; sample-time curation against the full-data sampler."""
        return self.random or self.full


def baselines_for(config: RunConfig) -> Baselines:
    """Sample-time curation is compared with the uncurated sampler, which is the full-data cell."""
    full = config.replace(scorer="random", scorer_options={}, retention=100.0, stage="data")
    if not config.selects_data:
        return Baselines(full=full, random=None)
    random = config.replace(scorer="random", scorer_options={}, stage="data")
    return Baselines(full=full, random=random)


def with_baselines(configs: Sequence[RunConfig]) -> list[RunConfig]:
    """Each config followed by its full-data and (for data-stage methods) random baseline, deduplicated by cell id."""
    cells: dict[str, RunConfig] = {}
    for config in configs:
        group = [config]
        if config.baselines:
            baselines = baselines_for(config)
            group += [baselines.full] + ([baselines.random] if baselines.random is not None else [])
        for member in group:
            cells.setdefault(cell_key(member), member)
    return list(cells.values())


def cell_dir(config: RunConfig, registry: Registry | None = None) -> Path:
    """The cell's folder: ``<output_dir>/cells/<cell id>``, the id covering its plugins and input files."""
    return Path(config.output_dir) / CELLS_DIR / cell_key(config, registry)


def finished_record(config: RunConfig, registry: Registry | None = None) -> ResultRecord | None:
    """The cell's record when it has run before (and is really this cell's, with these plugins), else None."""
    return read_record(cell_dir(config, registry) / RECORD_FILE, cell_of(config, registry))


def is_finished(config: RunConfig) -> bool:
    """Whether the cell has a valid record of its own (default registry); see :func:`finished_record`."""
    return finished_record(config) is not None


def components(config: RunConfig) -> list[tuple[Kind, str]]:
    """Every registered component a cell uses, as (kind, name)."""
    used: list[tuple[Kind, str]] = [("dataset", config.dataset), ("scorer", config.scorer), ("generator", config.generator)]
    if config.retention < 100 or config.stage == "sample":
        used.append(("embedder", config.embedder))
    used.append(("embedder", config.eval_embedder))
    used += [("metric", name) for name in config.metrics]
    return list(dict.fromkeys(used))


def plugin_identity(config: RunConfig, registry: Registry | None = None) -> dict[str, dict[str, str]]:
    """``{"kind:name": {distribution, version, code_version}}`` of the third-party and versioned components a cell uses.

    Part of the cell's hashed configuration: upgrading a plugin, or bumping a component's
    ``code_version``, names a new cell, so stale results are never reused.
    """
    registry = registry or default_registry()
    found = {}
    for kind, name in components(config):
        identity = registry.get(kind, name).identity()
        if identity:
            found[f"{kind}:{name}"] = identity
    return found


def input_files(config: RunConfig) -> dict[str, str]:
    """``{"field.option": sha256}`` of every input file a cell names: a weights path, or an option whose value is
    the path of an existing file (an ``npy`` dataset, a generator checkpoint, ...).

    Part of the cell's identity, so that replacing a file's content under the same name is a new cell and
    never reuses a stale result. Folders (an image folder, a torchvision root) are not hashed.
    """
    named: list[tuple[str, Any]] = [("weights", config.weights), ("eval_weights", config.eval_weights)]
    options = {"dataset_options": config.dataset_options, "embedder_options": config.embedder_options,
               "scorer_options": config.scorer_options, "generator_options": config.generator_options,
               "eval_embedder_options": config.eval_embedder_options}
    for field, values in options.items():
        named += [(f"{field}.{key}", value) for key, value in values.items()]
    found = {}
    for name, value in named:
        if isinstance(value, str) and value and (path := Path(value).expanduser()).is_file():
            stat = path.stat()
            found[name] = _file_digest(str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    return found


@functools.lru_cache(maxsize=256)
def _file_digest(path: str, size: int, modified_ns: int) -> str:
    """sha256 of a file; cached per process while its size and modification time stay the same."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cell_of(config: RunConfig, registry: Registry | None = None) -> dict[str, Any]:
    """The hashed description of a cell: its result-determining settings, the identity of its plugins and the
    content of its input files (added only when it names any, so that other cells keep their ids)."""
    inputs = input_files(config)
    return {**config.cell(), "plugins": plugin_identity(config, registry), **({"inputs": inputs} if inputs else {})}


def cell_key(config: RunConfig, registry: Registry | None = None) -> str:
    """The cell's id (:func:`cell_id` of :func:`cell_of`), which also names its folder."""
    return cell_id(cell_of(config, registry))
