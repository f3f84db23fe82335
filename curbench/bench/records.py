"""Result records: one JSON per cell, named by the hash of the cell's configuration."""

from __future__ import annotations

import json
import platform
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from curbench import __version__, atomic
from curbench.cache import key_digest
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

    @classmethod
    def collect(cls, device: str, wall_time_s: float) -> Provenance:
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
        )


def git_commit() -> str | None:
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
        path = Path(directory) / RECORD_FILE
        atomic.write_json(path, self.to_dict())
        return path


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


def read_side_file(path: str | Path, what: str, valid: Callable[[Any], bool]) -> Any | None:
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
    except FileNotFoundError:
        return _MISSING, None
    except (OSError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
