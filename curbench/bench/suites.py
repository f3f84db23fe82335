"""Benchmark suites: a YAML grid over run settings, expanded into cells.

A suite file holds fixed :class:`~curbench.config.RunConfig` fields (same keys as
``curbench run --config``), a ``grid:`` of lists over RunConfig fields, ``include:`` entries
that add cells outside the product (fields set jointly, such as a sample-time curator with its
own options), and a few suite keys (``track``, ``description``, ``gpu``, ``ci_slice``, ``in_progress``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curbench.atomic import is_safe_name
from curbench.bench.cells import cell_key, with_baselines
from curbench.bench.records import ResultRecord
from curbench.config import RUN_FIELDS, RunConfig, check_keys, fitted_defaults, load_yaml
from curbench.errors import InvalidInputError

SUITE_FIELDS = ("track", "description", "gpu", "grid", "include", "ci_slice", "in_progress")


@dataclass(frozen=True)
class Suite:
    """A parsed suite file: the grid, the fixed settings, and what the leaderboard needs to know."""

    track: str
    grid: dict[str, list[Any]]
    fixed: dict[str, Any]
    description: str = ""
    gpu: bool = False
    ci_slice: dict[str, Any] = field(default_factory=dict)
    path: str = ""
    # Each entry fixes the fields it names and is crossed with the grid axes it leaves free.
    include: list[dict[str, Any]] = field(default_factory=list)
    # A sweep too long for one machine session, published cell by cell: the board shows how far it got and the
    # findings wait for the full grid (``leaderboard --check`` fails once the grid is complete and this is still set).
    in_progress: bool = False

    @property
    def varied(self) -> set[str]:
        """Fields that differ between the suite's cells (grid axes and the fields include entries set)."""
        return set(self.grid).union(*self.include)


def load_suite(path: str | Path) -> Suite:
    """Parse a suite YAML file, checking every key and every cell's settings now rather than mid-sweep."""
    values = load_yaml(path)
    check_keys(values, SUITE_FIELDS + RUN_FIELDS, str(path))
    grid = values.pop("grid", None) or {}
    if not isinstance(grid, dict):
        raise InvalidInputError(f"'grid' in {path} must map RunConfig fields to lists, e.g. grid: {{seed: [0, 1, 2]}}")
    check_keys(grid, RUN_FIELDS, f"the grid of {path}")
    for key, choices in grid.items():
        if not isinstance(choices, list) or not choices:
            raise InvalidInputError(f"grid entry '{key}' in {path} must be a non-empty list, e.g. {key}: [{choices!r}]")
    include = values.pop("include", None) or []
    if not isinstance(include, list) or not all(isinstance(entry, dict) and entry for entry in include):
        raise InvalidInputError(f"'include' in {path} must be a list of mappings of RunConfig fields, e.g. "
                                "include: [{scorer: truncation, stage: sample, retention: 100}]")
    for entry in include:
        check_keys(entry, RUN_FIELDS, f"an include entry of {path}")
    ci_slice = values.pop("ci_slice", None) or {}
    check_keys(ci_slice, RUN_FIELDS, f"the ci_slice of {path}")
    track = str(values.pop("track", Path(path).stem))
    if not is_safe_name(track):  # a folder under leaderboards/, never a path nor an option-like name
        raise InvalidInputError(
            f"track name {track!r} in {path} must start with a letter or digit, then letters, digits, '.', '_' or '-' "
            "(no path); e.g. track: my-track"
        )
    suite = Suite(
        track=track,
        description=str(values.pop("description", "")),
        gpu=bool(values.pop("gpu", False)),
        in_progress=bool(values.pop("in_progress", False)),
        grid=grid,
        fixed=values,
        ci_slice=ci_slice,
        path=str(path),
        include=include,
    )
    suite_configs(suite)  # validates every field value now rather than mid-sweep
    return suite


def _product(grid: dict[str, list[Any]]) -> Iterable[dict[str, Any]]:
    keys = list(grid)
    for values in itertools.product(*(grid[key] for key in keys)):
        yield dict(zip(keys, values, strict=True))


def _admits(entry: dict[str, Any], overrides: dict[str, Any]) -> bool:
    """Whether an include entry survives the overrides (a ci_slice restricting scorer to knn drops a truncation entry)."""
    for key, value in overrides.items():
        if key in entry and (entry[key] not in value if isinstance(value, list) else entry[key] != value):
            return False
    return True


def suite_configs(suite: Suite, overrides: dict[str, Any] | None = None) -> list[RunConfig]:
    """The suite's method cells, without baselines; ``overrides`` replace grid lists (list) or fix fields (scalar)."""
    overrides = overrides or {}
    grid = dict(suite.grid)
    fixed = dict(suite.fixed)
    for key, value in overrides.items():
        if isinstance(value, list):
            grid[key] = value
        else:
            grid.pop(key, None)
            fixed[key] = value
    choices = list(_product(grid))
    for entry in suite.include:
        if _admits(entry, overrides):
            free_axes = {key: values for key, values in grid.items() if key not in entry}
            choices += [{**choice, **entry} for choice in _product(free_axes)]
    configs = []
    for choice in choices:
        try:
            configs.append(RunConfig(**fitted_defaults({**fixed, **choice})))
        except TypeError as exc:
            raise InvalidInputError(f"invalid cell in suite {suite.path or suite.track}: {exc}") from None
    return configs


def missing_cells(suite: Suite, records: Iterable[ResultRecord]) -> list[RunConfig]:
    """The suite's cells (with their baselines) that none of ``records`` is of."""
    present = {record.cell_id for record in records}
    return [config for config in with_baselines(suite_configs(suite)) if cell_key(config) not in present]
