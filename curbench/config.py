"""Typed run configuration. Each field carries the help of its ``curbench run`` flag, which the CLI generates from
the fields; YAML keys are the flag names with dashes as underscores."""

from __future__ import annotations

import dataclasses
import difflib
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

import yaml

from curbench.choices import Selection, SelectionMode, Stage, Tie
from curbench.errors import InvalidInputError

_EXPONENT_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+")
# Fields that change where or how a cell runs, not what it computes: never part of a cell's identity.
EXECUTION_FIELDS = frozenset({"baselines", "output_dir", "device", "data_root"})
# The fields whose values every cell id has hashed since the first record schema. A field added later is
# hashed only when set away from its default, so adding one leaves every existing id unchanged. data_root,
# hashed by the first schema, stays in the hash as null (its default) whatever the root: where the data
# lies does not change what a cell computes.
IDENTITY_FIELDS = (
    "dataset", "dataset_options", "data_root", "embedder", "embedder_options", "weights", "scorer", "scorer_options",
    "stage", "retention", "selection", "selection_mode", "generator", "generator_options", "eval_embedder",
    "eval_embedder_options", "eval_weights", "samples", "eval_every", "metrics", "k", "tie", "seed",
)
DEFAULT_METRICS = ("fid", "kid", "prdc")
MAX_SEED = 2**32 - 1  # numpy's legacy seeding and scikit-learn's random_state stop there
DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def _flag(default: Any, help: str, *, plugin: str | None = None) -> Any:
    """A RunConfig field with its command-line help (``plugin``: the kind whose installed names the help lists).

    ``curbench run``'s flags are generated from these fields, so a field is declared, documented and exposed once.
    A callable ``default`` is a default factory (a fresh dict or list per config).
    """
    metadata = {"help": help, "plugin": plugin}
    if callable(default):
        return field(default_factory=default, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class RunConfig:
    """One cell of the benchmark grid, plus how to execute it."""

    dataset: str = _flag("digits", "Dataset plugin name (default: digits).", plugin="dataset")
    dataset_options: dict[str, Any] = _flag(dict, "Dataset option key=value (repeatable).")
    data_root: str | None = _flag(None, "Root folder of on-disk datasets.")
    embedder: str = _flag("classifier", "Selection embedder (default: classifier; pixels for point data).", plugin="embedder")
    embedder_options: dict[str, Any] = _flag(dict, "Selection-embedder option key=value.")
    weights: str | None = _flag(None, "Weights file of the selection embedder.")
    scorer: str = _flag("knn", "Scorer plugin name (default: knn).", plugin="scorer")
    scorer_options: dict[str, Any] = _flag(dict, "Scorer option key=value.")
    stage: Stage = _flag("data", "Curate the training data ('data') or generated samples ('sample').")
    retention: float = _flag(50.0, "Percent of instances kept, in (0, 100] (default: 50).")
    selection: Selection = _flag("per-class", "'per-class' (default when labelled) or 'global'.")
    selection_mode: SelectionMode = _flag("percentile", "'percentile' (paper's rule) or 'count' (exact count).")
    generator: str = _flag("dcgan", "Generator plugin name (default: dcgan; mlp for point data).", plugin="generator")
    generator_options: dict[str, Any] = _flag(dict, "Generator option key=value, e.g. steps=2000.")
    eval_embedder: str = _flag("lenet", "Embedder for the metrics (default: lenet, a space unlike the selection one; "
                               "pixels for point data).", plugin="embedder")
    eval_embedder_options: dict[str, Any] = _flag(dict, "Eval-embedder option key=value.")
    eval_weights: str | None = _flag(None, "Weights file of the eval embedder.")
    samples: int | None = _flag(None, "Generated samples to evaluate (default: dataset size).")
    eval_every: int = _flag(0, "Evaluate the sampler every N training steps and record the training curve (default: "
                            "0, none).")
    metrics: list[str] = _flag(lambda: list(DEFAULT_METRICS), "Metric plugin (repeatable; default: fid, kid, prdc).",
                               plugin="metric")
    k: int = _flag(5, "Neighbourhood size of precision/recall/density/coverage (default: 5).")
    tie: Tie = _flag("lt", "Ball membership: 'lt' (prdc, default) or 'le' (torch-fidelity).")
    seed: int = _flag(0, "Seed of selection, training and sampling (default: 0).")
    baselines: bool = _flag(True, "Also run the full-data and random baselines.")
    output_dir: str = _flag("runs", "Where cells and tables are written (default: runs).")
    device: str = _flag("auto", "auto, cpu, cuda or cuda:N (default: auto).")

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
        if not isinstance(self.output_dir, str) or not self.output_dir.strip():
            raise InvalidInputError(
                f"output_dir must be a folder path (a non-empty string), got {self.output_dir!r}; e.g. output_dir: runs"
            )
        if not isinstance(self.device, str) or not DEVICE.fullmatch(self.device):
            raise InvalidInputError(f"device must be one of auto, cpu, cuda, cuda:N or mps, got {self.device!r}; "
                                    "e.g. --device cpu")
        for name in ("data_root", "weights", "eval_weights"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                raise InvalidInputError(f"{name} must be a path (a string) or null, got {getattr(self, name)!r}")
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
        check_seed(self.seed)
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
        """The fields that determine the result; hashed to name the cell (the rule: :data:`IDENTITY_FIELDS`)."""
        values = dataclasses.asdict(self)
        cell = {}
        for spec in dataclasses.fields(self):
            if spec.name in IDENTITY_FIELDS:
                cell[spec.name] = None if spec.name in EXECUTION_FIELDS else values[spec.name]
            elif spec.name not in EXECUTION_FIELDS and values[spec.name] != _default(spec):
                cell[spec.name] = values[spec.name]
        return cell

    @property
    def selects_data(self) -> bool:
        """Whether the cell trains on a subset of the data: data-stage curation below 100% retention."""
        return self.stage == "data" and self.retention < 100

    def replace(self, **changes: Any) -> RunConfig:
        """A copy with ``changes`` applied, validated again like a new config."""
        return dataclasses.replace(self, **changes)


def _default(spec: dataclasses.Field[Any]) -> Any:
    if spec.default_factory is not dataclasses.MISSING:
        return spec.default_factory()
    return spec.default


def check_seed(seed: Any, flag: str = "seed") -> int:
    """``seed`` when numpy, torch and scikit-learn all accept it; else one line naming the range."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise InvalidInputError(f"{flag} must be an integer in [0, {MAX_SEED}], got {seed!r}")
    return seed


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


RUN_FIELDS = tuple(f.name for f in dataclasses.fields(RunConfig))
_OPTION_FIELDS = tuple(name for name in RUN_FIELDS if name.endswith("_options"))
_NAME_FIELDS = ("dataset", "embedder", "scorer", "generator", "eval_embedder")


def check_keys(keys: Any, allowed: tuple[str, ...], where: str) -> None:
    """Raise :class:`InvalidInputError` at the first key not in ``allowed`` (suggesting close matches)."""
    for key in keys:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=3)
            hint = f"did you mean {', '.join(close)}? " if close else ""
            raise InvalidInputError(f"unknown key '{key}' in {where}; {hint}valid keys: {', '.join(allowed)}")


# Bounds of a YAML document: a config is a few nested mappings, never a deep tree or a web of aliases.
MAX_YAML_DEPTH = 64
MAX_YAML_NODES = 100_000  # values after expanding aliases (a billion-laughs file expands to 10**9)
# Top-level keys whose YAML type is fixed wherever they appear (run configs and suites).
_BOOLEAN_KEYS = ("baselines", "gpu")
_MAPPING_KEYS = ("ci_slice",)  # grid: checked by the suite loader


class YAMLLimitError(yaml.YAMLError):
    """A document that safe YAML would load, but that curbench refuses (one line, with where)."""


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML (no arbitrary tags) that also refuses a key given twice in one mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
                continue  # keys merged in with << may be overridden, as YAML intends
            key, line = self.construct_object(key_node), key_node.start_mark.line + 1
            if key in seen:
                raise YAMLLimitError(f"key '{key}' appears twice (lines {seen[key]} and {line}); keep one of them")
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


@dataclass
class _Open:
    """A collection being read by :func:`_check_shape`."""

    anchor: str | None
    start: int  # values counted before it
    mapping: bool
    label: str = ""  # the key (or [index]) of the child being read
    expect_key: bool = True
    index: int = -1


def _check_shape(text: str) -> None:
    """Refuse, from the event stream and before building anything, a document nested deeper than
    MAX_YAML_DEPTH or whose aliases expand past MAX_YAML_NODES values (or refer to themselves)."""
    stack: list[_Open] = []
    anchors: dict[str, int] = {}  # anchor -> values it expands to
    total = 0  # values so far, aliases expanded

    def where(event: yaml.Event) -> str:
        labels = [frame.label for frame in stack if frame.label][:4]
        key = ".".join(labels).replace(".[", "[") + (".." if len(stack) > 4 else "")
        line = f"line {event.start_mark.line + 1}" if event.start_mark is not None else "a line"
        return line + (f", key '{key}'" if key else "")

    def child(key: Any = None) -> None:
        """Note which child of the innermost collection is being read (a key names the values after it)."""
        if not stack:
            return
        frame = stack[-1]
        if not frame.mapping:
            frame.index += 1
            frame.label = f"[{frame.index}]"
        elif frame.expect_key:
            frame.label = str(key) if key is not None else "?"
        frame.expect_key = not frame.expect_key if frame.mapping else True

    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.ScalarEvent | yaml.AliasEvent | yaml.CollectionStartEvent):
            child(event.value if isinstance(event, yaml.ScalarEvent) else None)
        if isinstance(event, yaml.ScalarEvent):
            total += 1
            if event.anchor is not None:
                anchors[event.anchor] = 1
        elif isinstance(event, yaml.AliasEvent):
            if event.anchor not in anchors:
                raise YAMLLimitError(f"alias *{event.anchor} ({where(event)}) refers to itself or to nothing; "
                                     "write the value out")
            total += anchors[event.anchor]
        elif isinstance(event, yaml.CollectionStartEvent):
            stack.append(_Open(event.anchor, total, isinstance(event, yaml.MappingStartEvent)))
            total += 1
            if len(stack) > MAX_YAML_DEPTH:
                raise YAMLLimitError(f"it nests deeper than {MAX_YAML_DEPTH} levels ({where(event)}); "
                                     "a config is a few nested mappings")
        elif isinstance(event, yaml.CollectionEndEvent):
            frame = stack.pop()
            if frame.anchor is not None:
                anchors[frame.anchor] = total - frame.start
        if total > MAX_YAML_NODES:
            raise YAMLLimitError(f"its aliases expand to more than {MAX_YAML_NODES} values ({where(event)}); "
                                 "write the values out instead of nesting aliases")


def safe_yaml(text: str) -> Any:
    """``text`` as safe, strict YAML: no arbitrary tags, no duplicate keys, bounded depth and aliases.

    Raises :class:`yaml.YAMLError` (one line via :func:`yaml_problem`) for anything else.
    """
    _check_shape(text)
    return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass


def yaml_problem(exc: yaml.YAMLError) -> str:
    """A YAML error in one line: the problem and its line."""
    if isinstance(exc, YAMLLimitError):
        return str(exc)
    problem = getattr(exc, "problem", None)
    mark = getattr(exc, "problem_mark", None)
    if problem and mark is not None:
        return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
    return str(exc).splitlines()[0]


def load_yaml(path: str | Path) -> dict[str, Any]:
    """The mapping in a YAML config file (bounded safe loader, fixed-type keys checked); errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"config file not found: {path}; pass an existing YAML file to --config")
    try:
        loaded = safe_yaml(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            f"config file {path} is not UTF-8 text (byte {exc.start} is {exc.object[exc.start:exc.start + 1]!r}); "
            "save it as UTF-8"
        ) from None
    except yaml.YAMLError as exc:
        if isinstance(exc, YAMLLimitError):
            raise InvalidInputError(f"config file {path} is refused: {yaml_problem(exc)}") from None
        raise InvalidInputError(f"config file {path} is not valid YAML ({yaml_problem(exc)})") from None
    except RecursionError:  # a last resort: the shape check bounds the depth first
        raise InvalidInputError(f"config file {path} nests too deeply; a config is a few nested mappings") from None
    if not isinstance(loaded, dict):
        raise InvalidInputError(f"config file {path} must be a mapping of flag names to values")
    _check_types(loaded, path)
    return loaded


def _check_types(values: dict[str, Any], path: Path) -> None:
    """Keys whose type is fixed: booleans must be YAML booleans (the string 'false' is not), mappings mappings."""
    for key in values:
        if not isinstance(key, str):
            raise InvalidInputError(f"config file {path}: key {key!r} is not a name; keys are flag names like seed")
    for key in _BOOLEAN_KEYS:
        value = values.get(key)
        if value is not None and not isinstance(value, bool):
            raise InvalidInputError(
                f"config file {path}: {key} must be true or false (unquoted), got {value!r}; e.g. {key}: false"
            )
    for key in _MAPPING_KEYS:
        value = values.get(key)
        if value is not None and not isinstance(value, dict):
            raise InvalidInputError(
                f"config file {path}: {key} must be a mapping of run settings, got {value!r}; e.g. {key}: {{seed: [0]}}"
            )


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
    """``["k=5", "metric=cosine"]`` -> ``{"k": 5, "metric": "cosine"}``; values are parsed as YAML scalars.

    A key given twice is refused rather than silently taking the last value.
    """
    options: dict[str, Any] = {}
    given: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InvalidInputError(f"{flag} expects key=value, got {pair!r}")
        if key in given:
            raise InvalidInputError(f"{flag} sets '{key}' twice ({given[key]!r} and {pair!r}); pass it once")
        given[key] = pair
        try:
            options[key] = _number_or_self(safe_yaml(raw)) if raw.strip() else ""
        except YAMLLimitError as exc:
            raise InvalidInputError(f"{flag} {key}: the value is refused ({exc})") from None
        except (yaml.YAMLError, RecursionError):
            options[key] = raw
    return options


def _number_or_self(value: Any) -> Any:
    """YAML 1.1 reads ``1e-4`` (no dot) as a string; a user typing it on the command line means the number."""
    if isinstance(value, str) and _EXPONENT_NUMBER.fullmatch(value.strip()):
        return float(value)
    return value


def fitted_defaults(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with defaults fitted to the named components where a field is unset: the point-data defaults
    where the dataset holds points, and ``stage: sample`` for a sample-time curator (truncation, drs), so that a
    cell's stage is always what it ran as."""
    if dataset_modality(str(values.get("dataset", RunConfig.dataset))) == "points":
        values = {**POINT_DEFAULTS, **values}
    if "stage" not in values and scorer_stage(str(values.get("scorer", RunConfig.scorer))) == "sample":
        values = {**values, "stage": "sample"}
    return values


@functools.cache
def scorer_stage(name: str) -> str:
    """The stage the scorer's record declares; 'data' for unknown names, which fail later with a did-you-mean."""
    from curbench.errors import CurbenchError
    from curbench.plugins import load_registry

    try:
        return str(load_registry().get("scorer", name).stage)
    except CurbenchError:
        return "data"


@functools.cache
def dataset_modality(name: str) -> str:
    """The modality the dataset's record declares; 'image' for unknown names, which fail later with a did-you-mean."""
    from curbench.errors import CurbenchError
    from curbench.plugins import load_registry

    try:
        return str(load_registry().get("dataset", name).modality)
    except CurbenchError:
        return "image"
