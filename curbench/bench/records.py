"""Result records: one JSON per cell, named by the hash of the cell's configuration."""

from __future__ import annotations

import json
import math
import platform
import re
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, TypeGuard, TypeVar

from curbench import __version__, atomic
from curbench.cache import key_digest
from curbench.device import cpu_model
from curbench.progress import warn

RECORD_FILE = "result.json"
# 3: metrics come from metric plugins, each record carries their directions; configs name their metrics and plugins.
SCHEMA_VERSION = 3
_TRACKED_PACKAGES = ("torch", "torchvision", "numpy", "scipy", "scikit-learn", "torch-fidelity", "pluggy")


def cell_id(cell: dict[str, Any]) -> str:
    """A stable short identifier of a cell's configuration."""
    return key_digest(schema=SCHEMA_VERSION, **cell)[:16]


@dataclass
class Provenance:
    curbench_version: str
    packages: dict[str, str]
    git_commit: str | None
    python: str
    device: str
    wall_time_s: float
    finished_at: str
    # The processor: run-time-trained embedders (classifier, lenet) are bit-reproducible on one CPU type only.
    cpu: str = ""

    @classmethod
    def collect(cls, device: str, wall_time_s: float) -> Provenance:
        """This run's provenance: curbench, Python and tracked package versions, git commit, device, wall time."""
        packages = {}
        for name in _TRACKED_PACKAGES:
            try:
                packages[name] = version(name)
            except PackageNotFoundError:
                continue
        return cls(
            curbench_version=__version__,
            packages=packages,
            git_commit=git_commit(),
            python=platform.python_version(),
            device=device,
            wall_time_s=round(wall_time_s, 3),
            finished_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            cpu=cpu_model(),
        )


def git_commit() -> str | None:
    """The commit of the checkout curbench runs from, or None outside one (uncommitted edits are not noted)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path(__file__).parent
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


@dataclass
class Selection:
    """What the scorer kept: sizes, a hash of the kept indices, and retention per group."""

    n_total: int
    n_kept: int
    kept_hash: str
    retention_by_group: dict[str, dict[str, float]] = field(default_factory=dict)
    # What the fitted scorers report about themselves, e.g. an approximate index's recall: {name: {mean, min, fits}}.
    diagnostics: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass
class ResultRecord:
    cell_id: str
    config: dict[str, Any]
    metrics: dict[str, float]
    selection: Selection
    sampling: dict[str, float]
    audit: dict[str, Any]
    provenance: Provenance
    # Each metric key's direction as its plugin declares it: True higher is better, False lower, None not ranked.
    directions: dict[str, bool | None] = field(kw_only=True)
    # Reference rows computed with the same metric code ("real": split-half data, "kept": the selected
    # instances); see curbench.bench.references.
    references: dict[str, dict[str, float]] = field(default_factory=dict)
    # Training curve: one {"step", **metrics} per evaluation while training (eval_every > 0).
    curve: list[dict[str, float]] = field(default_factory=list)
    # The feature spaces used: {"selection"/"evaluation": {"embedder": name, ...quality}}.
    spaces: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Size of the trained model, e.g. {"generator_parameters": n, "discriminator_parameters": n}.
    model: dict[str, int] = field(default_factory=dict)
    # The same metrics in other feature spaces, e.g. {"selection": {...}}: where the scorer selected.
    metrics_by_space: dict[str, dict[str, float]] = field(default_factory=dict)
    schema: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; directions become [key, direction] pairs, because JSON objects are written with sorted keys
        and the tables show metrics in the order their plugins declare them."""
        data = asdict(self)
        data["directions"] = [[key, higher] for key, higher in self.directions.items()]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ResultRecord:
        """The record in ``data``, checked as untrusted input: a ValueError names the first field that is wrong."""
        check_schema(data)
        return cls(
            cell_id=data["cell_id"],
            config=data["config"],
            metrics=data["metrics"],
            directions={str(key): higher for key, higher in data["directions"]},
            selection=Selection(**data["selection"]),
            sampling=data.get("sampling", {}),
            audit=data.get("audit", {}),
            provenance=Provenance(**data["provenance"]),
            references=data.get("references", {}),
            curve=data.get("curve", []),
            spaces=data.get("spaces", {}),
            model=data.get("model", {}),
            metrics_by_space=data.get("metrics_by_space", {}),
            schema=data.get("schema", SCHEMA_VERSION),
        )

    def write(self, directory: str | Path) -> Path:
        """Write the record atomically as ``result.json`` in ``directory``; returns its path."""
        path = Path(directory) / RECORD_FILE
        atomic.write_json(path, self.to_dict())
        return path


# ----------------------------------------------------------------- the schema of a record read back
# Records are untrusted input (copied, committed, edited): every read checks their types and values.
CELL_ID = re.compile(r"[0-9a-f]{16}")
# Ranges the built-in metrics cannot leave (checked where the record's metric is the built-in one).
CORE_METRIC_BOUNDS: dict[str, dict[str, tuple[float | None, float | None]]] = {
    "fid": {"fid": (0.0, None)},
    "kid": {"kid_std": (0.0, None)},
    "prdc": {"precision": (0.0, 1.0), "recall": (0.0, 1.0), "coverage": (0.0, 1.0), "density": (0.0, None)},
}
COUNT_BOUNDS: dict[str, tuple[float | None, float | None]] = {"n_real": (0.0, None), "n_fake": (0.0, None)}
_PROVENANCE_TYPES: dict[str, Any] = {
    "curbench_version": str, "packages": dict, "git_commit": (str, type(None)), "python": str, "device": str,
    "wall_time_s": (int, float), "finished_at": str, "cpu": str,
}


def check_schema(data: Any) -> None:
    """Raise ValueError (one line, naming the field) unless ``data`` is a well-formed result record.

    Metrics (and the reference rows, other spaces and curve points) must be finite numbers or null under
    safe-identifier keys, inside the range of the built-in metric that produced them (an FID is never
    negative, a precision never above 1); directions are [key, true/false/null] pairs covering every metric.
    """
    if not isinstance(data, dict):
        raise ValueError(f"a record is a JSON object, not a JSON {type(data).__name__}")
    for key in ("cell_id", "config", "metrics", "directions", "selection", "provenance"):
        if key not in data:
            raise ValueError(f"'{key}' is missing")
    if not isinstance(data["cell_id"], str) or not CELL_ID.fullmatch(data["cell_id"]):
        raise ValueError(f"cell_id must be 16 hex digits, got {_short(data['cell_id'])}")
    config = data["config"]
    if not isinstance(config, dict) or not all(isinstance(key, str) for key in config):
        raise ValueError("config must be an object of run settings")
    bounds = _metric_bounds(config)
    directions = data["directions"]
    if not isinstance(directions, list) or not all(isinstance(pair, list) and len(pair) == 2 for pair in directions):
        raise ValueError("directions must be a list of [metric key, true/false/null] pairs")
    declared: dict[str, Any] = {}
    for key, higher in directions:
        if not atomic.is_safe_name(key):
            raise ValueError(f"directions holds an unsafe metric key {_short(key)} ({atomic.SAFE_NAME_RULE})")
        if higher is not None and not isinstance(higher, bool):
            raise ValueError(f"the direction of '{key}' must be true, false or null, got {_short(higher)}")
        if key in declared:
            raise ValueError(f"directions names '{key}' twice")
        declared[key] = higher
    # Null is "not computed": allowed for a reported value (direction null), never for a ranked one or a count.
    nullable = {key for key, higher in declared.items() if higher is None} - set(COUNT_BOUNDS)
    metrics = _metric_map(data["metrics"], "metrics", bounds, nullable)
    if not metrics:
        raise ValueError("metrics is empty")
    undirected = sorted(set(metrics) - set(declared))
    if undirected:
        raise ValueError(f"metric '{undirected[0]}' has no direction in directions")
    _check_selection(data["selection"])
    provenance = data["provenance"]
    if not isinstance(provenance, dict):
        raise ValueError("provenance must be an object")
    for key, expected in _PROVENANCE_TYPES.items():
        if key in provenance and (not isinstance(provenance[key], expected) or isinstance(provenance[key], bool)):
            raise ValueError(f"provenance.{key} has the wrong type ({_short(provenance[key])})")
    for key in ("references", "metrics_by_space"):
        rows = data.get(key, {})
        if not isinstance(rows, dict):
            raise ValueError(f"{key} must be an object")
        for name, values in rows.items():
            if not atomic.is_safe_name(name):
                raise ValueError(f"{key} holds an unsafe name {_short(name)} ({atomic.SAFE_NAME_RULE})")
            _metric_map(values, f"{key}.{name}", bounds, nullable)
    curve = data.get("curve", [])
    if not isinstance(curve, list):
        raise ValueError("curve must be a list of points")
    for index, point in enumerate(curve):
        values = _metric_map(point, f"curve[{index}]", {**bounds, "step": (0.0, None)}, nullable)
        if not isinstance(values.get("step"), int) or isinstance(values.get("step"), bool):
            raise ValueError(f"curve[{index}] has no integer step")
    for key, kind in (("sampling", dict), ("audit", dict), ("spaces", dict), ("model", dict)):
        if not isinstance(data.get(key, {}), kind):
            raise ValueError(f"{key} must be an object")
    for key, value in data.get("model", {}).items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"model.{key} must be a non-negative integer, got {_short(value)}")
    for key, value in data.get("sampling", {}).items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"sampling.{key} is {value}")
    if not all(isinstance(value, dict) for value in data.get("spaces", {}).values()):
        raise ValueError("spaces must map each space to an object")
    if "schema" in data and (not isinstance(data["schema"], int) or isinstance(data["schema"], bool)):
        raise ValueError(f"schema must be an integer, got {_short(data['schema'])}")


def _metric_bounds(config: dict[str, Any]) -> dict[str, tuple[float | None, float | None]]:
    """The ranges of the keys the record's built-in metrics produce (not a third-party metric of the same name)."""
    bounds = dict(COUNT_BOUNDS)
    names = config.get("metrics", [])
    plugins = config.get("plugins", {})
    for name in names if isinstance(names, list) else []:
        if isinstance(name, str) and name in CORE_METRIC_BOUNDS and not (
            isinstance(plugins, dict) and f"metric:{name}" in plugins
        ):
            bounds.update(CORE_METRIC_BOUNDS[name])
    return bounds


def _metric_map(
    values: Any, where: str, bounds: dict[str, tuple[float | None, float | None]], nullable: set[str]
) -> dict[str, Any]:
    if not isinstance(values, dict):
        raise ValueError(f"{where} must be an object of metric values, got {_short(values)}")
    for key, value in values.items():
        if not atomic.is_safe_name(key):
            raise ValueError(f"{where} holds an unsafe metric key {_short(key)} ({atomic.SAFE_NAME_RULE})")
        if value is None and key in nullable:
            continue  # explicitly not computed
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError(f"non-numeric or non-finite {where} ({key}): {_short(value)}, not a finite number"
                             + (" or null" if key in nullable else ""))
        low, high = bounds.get(key, (None, None))
        if (low is not None and value < low) or (high is not None and value > high):
            span = f"[{low:g}, {high:g}]" if high is not None else f">= {low:g}"
            raise ValueError(f"{where}.{key} = {value!r} is impossible (it must be {span})")
    return values


def _check_selection(selection: Any) -> None:
    if not isinstance(selection, dict):
        raise ValueError("selection must be an object")
    for key in ("n_total", "n_kept"):
        value = selection.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"selection.{key} must be a non-negative integer, got {_short(value)}")
    if selection["n_kept"] > selection["n_total"]:
        raise ValueError(f"selection keeps {selection['n_kept']} of {selection['n_total']} instances")
    if not isinstance(selection.get("kept_hash"), str):
        raise ValueError("selection.kept_hash must be a string")
    for key in ("retention_by_group", "diagnostics"):
        groups = selection.get(key, {})
        if not isinstance(groups, dict) or not all(isinstance(values, dict) for values in groups.values()):
            raise ValueError(f"selection.{key} must map each name to an object of numbers")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def read_record(path: str | Path, config: dict[str, Any] | None = None) -> ResultRecord | None:
    """The record at ``path``, or None when it is missing, unreadable, from another schema, or not a finished cell.

    With ``config`` (a cell's hashed fields), a record of another cell (copied or misplaced) also reads
    as None, so the caller recomputes instead of reusing a wrong result. A file that is there but is not
    a finished record (cut short, not a JSON object, no metrics) is named in one warning line.
    """
    path = Path(path)
    data, problem = _read_json(path)
    if problem is not None:
        _unusable(path, problem)
    if data is _MISSING or problem is not None:
        return None
    if not isinstance(data, dict):
        _unusable(path, f"it holds a JSON {type(data).__name__}, not an object")
        return None
    if isinstance(data.get("schema"), int) and data["schema"] != SCHEMA_VERSION:
        return None  # written by another curbench version: recomputed, never mixed in
    try:
        record = ResultRecord.from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        _unusable(path, f"{type(exc).__name__}: {exc}")
        return None
    if not isinstance(record.metrics, dict) or not record.metrics:
        _unusable(path, "it has no metrics")
        return None
    if config is not None and (record.cell_id != cell_id(config) or record.config != config):
        return None
    return record


def _unusable(path: Path, reason: str) -> None:
    warn(f"{path} is not a valid result record ({reason}); treating its cell as not run, so it is recomputed")


T = TypeVar("T")


def read_side_file(path: str | Path, what: str, valid: Callable[[Any], TypeGuard[T]]) -> T | None:
    """The JSON a cell keeps beside its record (detection scores, a training curve), or None when it is missing.

    A file that cannot be read, or whose content fails ``valid``, is named in one warning line and
    treated as missing, so the caller recomputes (and overwrites) it instead of failing the cell.
    """
    path = Path(path)
    data, problem = _read_json(path)
    if data is _MISSING:
        return None
    if problem is None:
        if valid(data):
            return data
        problem = f"unexpected content, a JSON {type(data).__name__}"
    warn(f"{path} is not a valid {what} ({problem}); ignoring it, so it is recomputed")
    return None


_MISSING = object()


def _read_json(path: Path) -> tuple[Any, str | None]:
    """(content, None); (_MISSING, None) when there is no file; (None, why) when it cannot be read or parsed."""
    try:
        return json.loads(path.read_text()), None
    except (FileNotFoundError, NotADirectoryError):  # no file, or a file where one of its folders should be
        return _MISSING, None
    except (OSError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
