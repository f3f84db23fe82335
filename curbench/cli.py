"""The ``curbench`` command line: parses flags, calls the library, prints results."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import os
import sys
import traceback
import types
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast, get_args, get_origin, get_type_hints

import numpy as np
import typer

from curbench import cli_suites
from curbench.choices import Selection, SelectionMode, Tie
from curbench.cli_suites import OptionList
from curbench.errors import DEBUG_ENV, CurbenchError, debug_enabled, failure_line

if TYPE_CHECKING:
    from curbench.bench.cells import Role
    from curbench.bench.records import ResultRecord
    from curbench.plugins.records import Kind

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Benchmark data-curation methods for generative models.",
)

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="YAML file whose keys are these flags (dashes -> underscores).")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]


@app.callback(invoke_without_command=True)
def _root(
    context: typer.Context,
    version: Annotated[bool, typer.Option("--version", is_eager=True, help="Print the version and exit.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help=f"Full tracebacks for plugin, cell and CLI failures (or {DEBUG_ENV}=1).")] = False,
) -> None:
    """Benchmark data-curation methods for generative models."""
    if debug:
        os.environ[DEBUG_ENV] = "1"  # inherited by worker processes
    _expand_user_paths()
    if version:
        from curbench import __version__

        typer.echo(f"curbench {__version__}")
        raise typer.Exit()
    if context.invoked_subcommand is None:  # bare `curbench`: help, and success
        typer.echo(context.get_help())
        raise typer.Exit()


# Folders named by the environment; a shell does not expand '~' inside a quoted or exported value.
PATH_ENVS = ("CURBENCH_CACHE_DIR", "CURBENCH_WEIGHTS_DIR", "CURBENCH_DATA_DIR")


def _expand_user_paths() -> None:
    """``~`` in the path variables means the home folder, as everywhere else (workers inherit the expanded value)."""
    for name in PATH_ENVS:
        value = os.environ.get(name)
        if value and value.startswith("~"):
            os.environ[name] = os.path.expanduser(value)


@functools.cache
def installed(kind: Kind) -> str:
    """The installed names of a plugin kind, for --help (discovery imports no model code; once per process)."""
    from curbench.plugins.registry import default_registry

    return ", ".join(default_registry().names(kind)) or "none"


def _quiet(quiet: bool) -> None:
    from curbench.progress import set_quiet

    set_quiet(quiet)


def _flag_name(field: dataclasses.Field[Any]) -> str:
    """The keyword of a RunConfig field's flag: singular for the repeatable ones (``--scorer-option``, ``--metric``)."""
    if field.name.endswith("_options"):
        return field.name[: -len("s")]
    return "metric" if field.name == "metrics" else field.name


def _flag_type(hint: Any) -> type:
    """The command-line type of a field: the non-None member of an optional, and str for a closed set of strings
    (RunConfig checks the value and names the choices)."""
    members = [arg for arg in get_args(hint) if arg is not type(None)] if isinstance(hint, types.UnionType) else [hint]
    scalar = members[0]
    return str if get_origin(scalar) is Literal else cast(type, scalar)


def _run_flag(field: dataclasses.Field[Any], hint: Any) -> inspect.Parameter:
    """``curbench run``'s flag for a RunConfig field, with the help its metadata holds."""
    help_text = field.metadata["help"]
    if field.metadata["plugin"]:
        help_text += f" Installed: {installed(field.metadata['plugin'])}."
    annotation: Any
    if field.name == "scorer_options":
        option, annotation = typer.Option("--scorer-option", "--option", help=help_text), OptionList
    elif field.name == "metrics":
        option, annotation = typer.Option("--metric", help=help_text), OptionList
    elif field.name.endswith("_options"):
        option, annotation = typer.Option(help=help_text), OptionList
    elif field.name == "baselines":
        option, annotation = typer.Option("--baselines/--no-baselines", help=help_text), bool | None
    else:
        option, annotation = typer.Option(help=help_text), _flag_type(hint) | None
    return inspect.Parameter(_flag_name(field), inspect.Parameter.KEYWORD_ONLY, default=None,
                             annotation=Annotated[annotation, option])


def _run_signature() -> inspect.Signature:
    """``--config``, one flag per RunConfig field (generated, so a new field is a new flag), then the output actions."""
    from curbench.config import RunConfig

    hints = get_type_hints(RunConfig)
    keyword = inspect.Parameter.KEYWORD_ONLY
    return inspect.Signature([
        inspect.Parameter("config", keyword, default=None, annotation=ConfigOpt),
        *(_run_flag(field, hints[field.name]) for field in dataclasses.fields(RunConfig)),
        inspect.Parameter("save_features", keyword, default=None, annotation=Annotated[Path | None, typer.Option(
            help="Also write the evaluation features here: real.npy and one .npy per row (method.npy, full.npy, "
                 "random.npy).")]),
        inspect.Parameter("quiet", keyword, default=False, annotation=QuietOpt),
    ], return_annotation=None)


def _run_flags(values: dict[str, Any]) -> dict[str, Any]:
    """The RunConfig fields the flags set (None: not given), with key=value options parsed."""
    from curbench.config import RunConfig, parse_options

    flags = {}
    for field in dataclasses.fields(RunConfig):
        value = values[_flag_name(field)]
        if field.name.endswith("_options"):
            value = parse_options(value, "--option" if field.name == "scorer_options" else f"--{_flag_name(field).replace('_', '-')}")
        flags[field.name] = value
    return flags


def run(**values: Any) -> None:
    """Run one cell plus its baselines; print and write the comparison table."""
    from curbench import atomic
    from curbench.bench.sweep import run_with_baselines
    from curbench.boards.report import comparison_frame, comparison_markdown
    from curbench.boards.tables import write_table
    from curbench.config import build_run_config

    config, save_features = values["config"], values["save_features"]
    _quiet(values["quiet"])
    if save_features is not None:
        atomic.check_writable(save_features, "--save-features", folder=True)
    flags = _run_flags(values)
    run_config = build_run_config(config, flags)
    atomic.check_writable(run_config.output_dir, "--output-dir", folder=True)  # before any worker starts
    from curbench.bench.cells import finished_record

    if finished_record(run_config) is None:  # there is work to do: what the cells would find wrong is found now
        from curbench.bench.runner import CellRunner

        CellRunner().check_before_work([run_config])
    results = run_with_baselines(run_config)
    records = results.records
    from curbench.bench.cells import CELLS_DIR, cell_key

    frame = comparison_frame(records)
    # One table per method cell, so runs in the same output folder keep each other's tables.
    stem = Path(run_config.output_dir) / "comparisons" / cell_key(run_config)
    text = comparison_markdown(records)
    md_path, _ = write_table(frame, stem, title="curbench comparison", markdown=text)
    typer.echo(text)
    for role, record in records.items():
        typer.echo(f"{role}: {Path(run_config.output_dir) / CELLS_DIR / record.cell_id / 'result.json'}")
    if save_features is not None:
        for path in _save_features(Path(run_config.output_dir), records, save_features):
            typer.echo(f"features: {path}")
    if results.reused:
        reused = ", ".join(role.label for role in records if role in results.reused)
        typer.echo(f"reused from earlier runs (not recomputed): {reused}")
    typer.echo(f"table: {md_path}")


run.__signature__ = _run_signature()  # type: ignore[attr-defined]  # typer reads the flags from it
app.command()(run)


def _same_file(first: Path, second: Path) -> bool:
    """Whether two paths name one file (``s.npy`` and ``./s.npy``, or a link to it)."""
    try:
        if first.exists() and second.exists():
            return first.samefile(second)
    except OSError:
        pass
    return first.resolve() == second.resolve()


def _save_features(output_dir: Path, records: Mapping[Role, ResultRecord], target: Path) -> list[Path]:
    """Copy the evaluation features kept in each cell directory to ``target`` (real.npy, <role>.npy)."""
    from curbench import atomic
    from curbench.bench.cells import CELLS_DIR, FEATURES_FILE
    from curbench.cache import load_verified

    paths: list[Path] = []
    for role, record in records.items():
        source = output_dir / CELLS_DIR / record.cell_id / FEATURES_FILE
        if not source.is_file():
            raise CurbenchError(
                f"cell {record.cell_id} kept no features ({source} is missing: it ran with an older curbench or its "
                "features exceed 256 MB); rerun with another --output-dir"
            )
        stored = load_verified(source)
        if stored is None:
            raise CurbenchError(
                f"{source} is damaged or was not written by this curbench (its checksum does not match); delete "
                f"{source.parent} and rerun to recompute the cell"
            )
        if not paths:
            atomic.save_npy(target / "real.npy", stored["real"])
            paths.append(target / "real.npy")
        atomic.save_npy(target / f"{role}.npy", stored["fake"])
        paths.append(target / f"{role}.npy")
    return paths


@app.command()
def embed(
    out: Annotated[Path, typer.Option(help="Output .npy file of float32 features (N x D).")],
    embedder: Annotated[str, typer.Option(help="Embedder plugin name.")] = "pixels",
    dataset: Annotated[str | None, typer.Option(help="Dataset plugin name.")] = None,
    images: Annotated[Path | None, typer.Option(help="uint8 N x C x H x W .npy file instead of --dataset.")] = None,
    labels: Annotated[Path | None, typer.Option(help="Labels .npy for --images (trainable embedders use them).")] = None,
    data_root: Annotated[str | None, typer.Option(help="Root folder of on-disk datasets.")] = None,
    weights: Annotated[str | None, typer.Option(help="Embedder weights file.")] = None,
    embedder_option: Annotated[OptionList, typer.Option(help="Embedder option key=value.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Images per forward pass.")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not read or write the feature cache.")] = False,
    quiet: QuietOpt = False,
) -> None:
    """Embed a dataset or an image array; under torchrun the work is sharded across processes."""
    from curbench import atomic, distributed
    from curbench.config import parse_options
    from curbench.device import resolve_device
    from curbench.embedders.features import embed_dataset
    from curbench.errors import InvalidInputError
    from curbench.plugins import load_registry

    _quiet(quiet)
    if (dataset is None) == (images is None):
        raise InvalidInputError("pass exactly one of --dataset NAME or --images IMAGES.npy")
    for path, flag in ((images, "--images"), (labels, "--labels")):
        if path is not None and _same_file(out, path):
            raise InvalidInputError(f"--out is the input {flag} file ({path}); pass another --out")
    atomic.check_writable(out, "--out")
    registry = load_registry()
    if images is not None:
        options = {"images": str(images), "labels": str(labels) if labels else None}
        data = registry.create("dataset", "npy", options)
    else:
        data = registry.create("dataset", cast(str, dataset), root=data_root)  # exactly one of the two is given
    distributed.init_from_env()
    resolved = resolve_device(device)
    model = registry.create("embedder", embedder, parse_options(embedder_option, "--embedder-option"), weights=weights, device=resolved)
    features = embed_dataset(model, data, cache=not no_cache, batch_size=batch_size, device=resolved)
    if distributed.is_main():
        atomic.save_npy(out, features.astype(np.float32, copy=False))
        typer.echo(f"{features.shape[0]} x {features.shape[1]} features -> {out}")


@app.command()
def score(
    features: Annotated[Path, typer.Argument(help="Features .npy (N x D).")],
    out: Annotated[Path, typer.Option(help="Output .npy of one score per instance (higher = keep).")],
    scorer: Annotated[str, typer.Option(help="Scorer plugin name.")] = "knn",
    scorer_option: Annotated[OptionList, typer.Option("--option", "--scorer-option", help="Scorer option key=value.")] = None,
    labels: Annotated[Path | None, typer.Option(help="Labels .npy: scores and selection per class.")] = None,
    retention: Annotated[float | None, typer.Option(help="Also select this percent; writes --kept-out.")] = None,
    kept_out: Annotated[Path | None, typer.Option(help="Output .npy of kept indices (with --retention).")] = None,
    selection: Annotated[str, typer.Option(help="'per-class' or 'global'.")] = "per-class",
    selection_mode: Annotated[str, typer.Option(help="'percentile' or 'count'.")] = "percentile",
    seed: Annotated[int, typer.Option(help="Seed for stochastic scorers.")] = 0,
) -> None:
    """Score every instance of a feature file, and optionally select the top percent."""
    from curbench import atomic
    from curbench.config import RunConfig, check_seed, parse_options
    from curbench.errors import InvalidInputError
    from curbench.plugins import load_registry
    from curbench.scorers.selection import check_data_scorer, score_instances, select
    from curbench.validation import check_features, check_labels, load_npy

    check_seed(seed, "--seed")
    options = parse_options(scorer_option)
    flags = RunConfig(retention=retention or 100.0, selection=cast(Selection, selection),  # RunConfig validates them
                      selection_mode=cast(SelectionMode, selection_mode))
    kept_path = kept_out or out.with_name(out.stem + "_kept.npy")
    if retention is not None and _same_file(out, kept_path):
        raise InvalidInputError(f"--out and --kept-out are the same file ({out}); the kept indices would overwrite the "
                                "scores: pass two paths")
    for path, flag in ((features, "FEATURES"), (labels, "--labels")):
        if path is not None and (_same_file(out, path) or (retention is not None and _same_file(kept_path, path))):
            raise InvalidInputError(f"an output is the input {flag} file ({path}); pass another --out / --kept-out")
    array = check_features(load_npy(features, "features"), "features")
    label_array = check_labels(load_npy(labels, "labels"), len(array)) if labels else None
    record = load_registry().get("scorer", scorer)
    check_data_scorer(record)
    record.create(options, seed=seed)  # option values (e.g. knn's k=-3) fail before any output is written
    atomic.check_writable(out, "--out")
    if retention is not None:
        atomic.check_writable(kept_path, "--kept-out")
    per_class = selection == "per-class" and label_array is not None
    scores = score_instances(lambda: record.create(options, seed=seed), array, label_array, per_class=per_class)
    atomic.save_npy(out, scores)
    message = f"{len(scores)} scores -> {out}"
    if retention is not None:
        kept = select(scores, retention, labels=label_array, per_class=per_class, mode=flags.selection_mode)
        atomic.save_npy(kept_path, kept)
        message += f"; kept {len(kept)} -> {kept_path}"
    typer.echo(message)
    if selection == "per-class" and label_array is None:
        typer.echo("note: no --labels given, so scores and selection were global (pass --labels for per-class)", err=True)


@app.command()
def metrics(
    real: Annotated[Path, typer.Argument(help="Real (reference) features .npy.")],
    fake: Annotated[Path, typer.Argument(help="Generated features .npy.")],
    k: Annotated[int, typer.Option(help="Neighbourhood size for precision/recall/density/coverage.")] = 5,
    tie: Annotated[str, typer.Option(help="'lt' (prdc) or 'le' (torch-fidelity) ball membership.")] = "lt",
    metric: Annotated[OptionList, typer.Option("--metric", help=f"Metric to compute (repeatable; default: fid, kid, prdc). Installed: {installed('metric')}.")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the KID subsets (default: 2020, torch-fidelity's).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not cache reference statistics.")] = False,
    quiet: QuietOpt = False,
) -> None:
    """Metrics of FAKE against REAL features: FID, KID, precision, recall, density and coverage by default."""
    from curbench.bench.evaluation import MetricSet
    from curbench.config import DEFAULT_METRICS, RunConfig, check_seed
    from curbench.plugins import load_registry
    from curbench.validation import load_npy

    _quiet(quiet)
    flags = RunConfig(k=k, tie=cast(Tie, tie), metrics=metric or list(DEFAULT_METRICS))  # RunConfig validates them
    seeded = {} if seed is None else {"seed": check_seed(seed, "--seed")}
    evaluate = MetricSet.build(load_registry(), flags.metrics, k=k, tie=flags.tie, cache=not no_cache, **seeded)
    result = evaluate(load_npy(real, "real features"), load_npy(fake, "fake features"), cache=not no_cache)
    if as_json:
        typer.echo(json.dumps(result, indent=2, sort_keys=True))
    else:
        for name, value in result.items():
            typer.echo(f"{name:>10}: {value:.6g}")


@app.command()
def show(
    scorer: Annotated[OptionList, typer.Option(help="Scorer to draw (repeatable; default: gaussian, ppca, knn).")] = None,
    dataset: Annotated[str, typer.Option(help="Image dataset plugin name.")] = "digits",
    data_root: Annotated[str | None, typer.Option(help="Root folder of on-disk datasets.")] = None,
    embedder: Annotated[str, typer.Option(help="Selection embedder.")] = "classifier",
    weights: Annotated[str | None, typer.Option(help="Weights file of the embedder.")] = None,
    selection: Annotated[str, typer.Option(help="Score 'per-class' or 'global'.")] = "per-class",
    out_dir: Annotated[Path, typer.Option(help="Folder for the PNG grids.")] = Path("runs/show"),
    seed: Annotated[int, typer.Option(help="Seed of stochastic scorers (embedders are seeded by their own recipes).")] = 0,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    quiet: QuietOpt = False,
) -> None:
    """Draw the most and least typical training images per class under each scorer (the paper's Figure 1)."""
    from curbench import atomic
    from curbench.bench.runner import CellRunner
    from curbench.config import RunConfig
    from curbench.device import resolve_device
    from curbench.scorers.selection import check_data_scorer
    from curbench.visualize import save_typicality_grid

    _quiet(quiet)
    atomic.check_writable(out_dir, "--out-dir", folder=True)
    runner = CellRunner()
    resolved = resolve_device(device)
    base = RunConfig(dataset=dataset, data_root=data_root, embedder=embedder, weights=weights,
                     selection=cast(Selection, selection), seed=seed)  # RunConfig validates it
    configs = [base.replace(scorer=name) for name in scorer or ["gaussian", "ppca", "knn"]]
    for config in configs:  # every scorer is checked before the first is computed
        check_data_scorer(runner.scorer_record(config))
        runner.validate(config)
        atomic.safe_child(out_dir, f"typicality_{dataset}_{embedder}_{config.scorer}.png", "the grid file")
    data = runner.registry.create("dataset", dataset, root=data_root)
    for config in configs:
        path = atomic.safe_child(out_dir, f"typicality_{dataset}_{embedder}_{config.scorer}.png", "the grid file")
        save_typicality_grid(data, runner.scores(config, data, resolved), path)
        typer.echo(f"{config.scorer}: {path}")


@app.command()
def plugins() -> None:
    """List every registered component and any plugin that failed to load."""
    from curbench.plugins import load_registry

    registry = load_registry()
    rows = [(r.kind, r.name, f"{r.distribution} {r.version}", r.description) for r in registry]
    rows += [(kind, name, "CONFLICT: " + " & ".join(r.distribution for r in recs), "") for (kind, name), recs in registry.conflicts.items()]
    width = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        typer.echo("  ".join(cell.ljust(width[i]) for i, cell in enumerate(row[:3])) + "  " + row[3])
    for broken in registry.broken:
        typer.echo(f"BROKEN  {broken.plugin}  {broken.distribution} {broken.version}  {broken.error}")
        if debug_enabled() and broken.traceback:
            typer.echo(broken.traceback)


app.command()(cli_suites.sweep)
app.command()(cli_suites.leaderboard)
app.command()(cli_suites.report)
app.command()(cli_suites.submit)


def main() -> None:
    """Console entry point: user errors become one line on stderr and a non-zero exit."""
    if "--debug" in sys.argv[2:]:  # a global flag, accepted after the subcommand too (`curbench run --debug`)
        sys.argv = [sys.argv[0], "--debug", *(arg for arg in sys.argv[1:] if arg != "--debug")]
    try:
        app()
    except CurbenchError as exc:
        if debug_enabled():
            traceback.print_exc()
        typer.echo(f"curbench: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except Exception as exc:  # a bug (ours or a plugin's): one line naming where, the traceback under --debug
        if debug_enabled():
            raise
        typer.echo(f"curbench: internal error: {failure_line(exc)}; rerun with --debug for the traceback", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        typer.echo("curbench: interrupted; finished cells are kept and will be reused", err=True)
        sys.exit(130)
