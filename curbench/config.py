"""Typed run configuration. YAML keys are the CLI flag names with dashes as underscores."""

from __future__ import annotations

import dataclasses
import difflib
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import yaml

from curbench.errors import InvalidInputError

Stage = Literal["data", "sample"]
Selection = Literal["per-class", "global"]
SelectionMode = Literal["percentile", "count"]
Tie = Literal["lt", "le"]

_EXPONENT_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+")
# Fields that change where or how a cell runs, not what it computes: left out of the cell hash.
EXECUTION_FIELDS = frozenset({"baselines", "output_dir", "device"})
DEFAULT_METRICS = ("fid", "kid", "prdc")
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class RunConfig:
    """One cell of the benchmark grid, plus how to execute it."""

    dataset: str = "digits"
    dataset_options: dict[str, Any] = field(default_factory=dict)
    data_root: str | None = None
    embedder: str = "classifier"
    embedder_options: dict[str, Any] = field(default_factory=dict)
    weights: str | None = None
    scorer: str = "knn"
    scorer_options: dict[str, Any] = field(default_factory=dict)
    stage: Stage = "data"
    retention: float = 50.0
    selection: Selection = "per-class"
    selection_mode: SelectionMode = "percentile"
    generator: str = "dcgan"
    generator_options: dict[str, Any] = field(default_factory=dict)
    eval_embedder: str = "lenet"
    eval_embedder_options: dict[str, Any] = field(default_factory=dict)
    eval_weights: str | None = None
    samples: int | None = None
    eval_every: int = 0
    metrics: list[str] = field(default_factory=lambda: list(DEFAULT_METRICS))
    k: int = 5
    tie: Tie = "lt"
    seed: int = 0
    baselines: bool = True
    output_dir: str = "runs"
    device: str = "auto"

    def __post_init__(self) -> None:
        for name in _OPTION_FIELDS:
            value = getattr(self, name)
            if value is None:  # an empty YAML key: no options
                object.__setattr__(self, name, {})
            elif not isinstance(value, dict):
                raise InvalidInputError(
                    f"{name} must be a mapping of option names to values, got {value!r}; e.g. {name}: {{seed: 1}}"
                )
        for name in _NAME_FIELDS:
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise InvalidInputError(f"{name} must be a plugin name (a string), got {getattr(self, name)!r}")
        if not isinstance(self.baselines, bool):
            raise InvalidInputError(f"baselines must be true or false, got {self.baselines!r}")
        if not _is_number(self.retention):
            raise InvalidInputError(f"retention must be a number in (0, 100], got {self.retention!r}; e.g. retention: 50")
        if isinstance(self.retention, int):
            # YAML's 50 and the CLI's 50.0 must name the same cell.
            object.__setattr__(self, "retention", float(self.retention))
        if not 0 < self.retention <= 100:
            raise InvalidInputError(f"retention must be in (0, 100], got {self.retention}; pass e.g. --retention 50")
        for name, low in (("k", 1), ("seed", 0), ("eval_every", 0)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise InvalidInputError(f"{name} must be an integer >= {low}, got {value!r}")
        if self.seed > MAX_SEED:  # scikit-learn's random_state (used by the trained embedders) stops there
            raise InvalidInputError(f"seed must be an integer in [0, {MAX_SEED}], got {self.seed}")
        if self.samples is not None and (not isinstance(self.samples, int) or isinstance(self.samples, bool)):
            raise InvalidInputError(f"samples must be an integer (or null for the dataset size), got {self.samples!r}")
        if self.samples is not None and self.samples < self.k + 1:
            raise InvalidInputError(f"samples must be more than k={self.k}, got {self.samples}")
        if isinstance(self.metrics, str):
            object.__setattr__(self, "metrics", [self.metrics])
        if (
            not isinstance(self.metrics, list | tuple) or not self.metrics
            or not all(isinstance(m, str) and m for m in self.metrics) or len(set(self.metrics)) != len(self.metrics)
        ):
            raise InvalidInputError(f"metrics must be a list of distinct metric names, got {self.metrics!r}; e.g. [fid, kid, prdc]")
        object.__setattr__(self, "metrics", list(self.metrics))
        for name, literal in (("stage", Stage), ("selection", Selection), ("selection_mode", SelectionMode), ("tie", Tie)):
            value = getattr(self, name)
            if value not in get_args(literal):
                choices = ", ".join(get_args(literal))
                raise InvalidInputError(f"{name} must be one of {choices}, got {value!r}")

    def cell(self) -> dict[str, Any]:
        """The fields that determine the result; hashed to name the cell."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in EXECUTION_FIELDS}

    def replace(self, **changes: Any) -> RunConfig:
        return dataclasses.replace(self, **changes)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


RUN_FIELDS = tuple(f.name for f in dataclasses.fields(RunConfig))
_OPTION_FIELDS = tuple(name for name in RUN_FIELDS if name.endswith("_options"))
_NAME_FIELDS = ("dataset", "embedder", "scorer", "generator", "eval_embedder")


def check_keys(keys: Any, allowed: tuple[str, ...], where: str) -> None:
    for key in keys:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=3)
            hint = f"did you mean {', '.join(close)}? " if close else ""
            raise InvalidInputError(f"unknown key '{key}' in {where}; {hint}valid keys: {', '.join(allowed)}")


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"config file not found: {path}; pass an existing YAML file to --config")
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            f"config file {path} is not UTF-8 text (byte {exc.start} is {exc.object[exc.start:exc.start + 1]!r}); "
            "save it as UTF-8"
        ) from None
    except yaml.YAMLError as exc:
        reason = str(exc).splitlines()[0]
        raise InvalidInputError(f"config file {path} is not valid YAML ({reason})") from None
    if not isinstance(loaded, dict):
        raise InvalidInputError(f"config file {path} must be a mapping of flag names to values")
    return loaded


# Defaults for datasets of 2-D points, where the image defaults (dcgan, classifier, lenet) cannot run.
POINT_DEFAULTS = {"generator": "mlp", "embedder": "pixels", "eval_embedder": "pixels"}


def build_run_config(config_file: str | Path | None, flags: dict[str, Any]) -> RunConfig:
    """Defaults (fitted to the dataset's modality), overridden by the YAML file, overridden by flags the user passed."""
    values: dict[str, Any] = {}
    if config_file is not None:
        values.update(load_yaml(config_file))
        check_keys(values, RUN_FIELDS, str(config_file))
    values.update({k: v for k, v in flags.items() if v is not None and v != {}})
    values = fitted_defaults(values)
    try:
        return RunConfig(**values)
    except TypeError as exc:
        raise InvalidInputError(f"invalid run configuration: {exc}") from None


def parse_options(pairs: list[str] | None, flag: str = "--option") -> dict[str, Any]:
    """``["k=5", "metric=cosine"]`` -> ``{"k": 5, "metric": "cosine"}``; values are parsed as YAML scalars."""
    options: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInputError(f"{flag} expects key=value, got {pair!r}")
        try:
            options[key.strip()] = _number_or_self(yaml.safe_load(raw)) if raw.strip() else ""
        except yaml.YAMLError:
            options[key.strip()] = raw
    return options


def _number_or_self(value: Any) -> Any:
    """YAML 1.1 reads ``1e-4`` (no dot) as a string; a user typing it on the command line means the number."""
    if isinstance(value, str) and _EXPONENT_NUMBER.fullmatch(value.strip()):
        return float(value)
    return value


def fitted_defaults(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with the point-data defaults filled in where the dataset holds points and a field is unset."""
    if dataset_modality(str(values.get("dataset", RunConfig.dataset))) == "points":
        return {**POINT_DEFAULTS, **values}
    return values


@functools.cache
def dataset_modality(name: str) -> str:
    """The modality the dataset's record declares; 'image' for unknown names, which fail later with a did-you-mean."""
    from curbench.errors import CurbenchError
    from curbench.plugins import load_registry

    try:
        return str(load_registry().get("dataset", name).modality)
    except CurbenchError:
        return "image"
