"""The suite-level commands: ``sweep``, ``submit``, ``leaderboard`` and ``report`` (registered on the app in curbench.cli)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from curbench.errors import CurbenchError, InvalidInputError

if TYPE_CHECKING:
    from curbench.bench.records import ResultRecord

OptionList = list[str] | None


def sweep(
    config: Annotated[Path, typer.Option("--config", help="Suite YAML: fixed run settings, a grid: of lists, a track: name.")],
    output_dir: Annotated[str | None, typer.Option(help="Where cells are cached (default: runs/<track>); rerun to resume.")] = None,
    executor: Annotated[str, typer.Option(help="A registered executor: 'local' (process pool), 'serial', 'ray', or one a plugin adds.")] = "local",
    workers: Annotated[int | None, typer.Option(help="Parallel cells (default: GPUs if any, else CPU cores).")] = None,
    executor_option: Annotated[OptionList, typer.Option(help="Executor option key=value, e.g. address=auto for a Ray cluster.")] = None,
    data_root: Annotated[str | None, typer.Option(help="Root folder of on-disk datasets (overrides the suite).")] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu, cuda or cuda:N (default: auto).")] = None,
    publish: Annotated[bool, typer.Option("--publish", help="Publish each record to leaderboards/<track>/records/ as its cell finishes, resume from the records published there, and regenerate the boards.")] = False,
    leaderboards: Annotated[Path, typer.Option(help="Root folder of the leaderboard tracks.")] = Path("leaderboards"),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List the cells (with baselines) and exit.")] = False,
    metric: Annotated[OptionList, typer.Option("--metric", help="Metric plugin for every cell (repeatable; overrides the suite's metrics:).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Run a suite's grid of cells plus their full-data and random baselines; finished cells are reused."""
    from curbench.atomic import check_writable
    from curbench.bench.cells import cell_key, is_finished, role_of
    from curbench.bench.executors import make_executor
    from curbench.bench.suites import load_suite
    from curbench.bench.sweep import adopt_published, expand, failure_summary, run_sweep
    from curbench.bench.sweep import publish as publish_records
    from curbench.config import parse_options
    from curbench.progress import set_quiet

    set_quiet(quiet)
    suite = load_suite(config)
    records_dir = leaderboards / suite.track / "records"
    execution: dict[str, Any] = {"output_dir": output_dir or str(Path("runs") / suite.track)}
    execution.update({k: v for k, v in (("data_root", data_root), ("device", device), ("metrics", metric)) if v is not None})
    configs = expand(suite, **execution)
    from curbench.bench.runner import CellRunner

    runner = CellRunner()
    runner.registry.get("executor", executor)  # an unknown executor fails now, --dry-run included
    for run_config in configs:
        runner.validate(run_config)  # a wrong name or option fails now, not after hours of other cells
    runner.check_before_work(configs, device=not dry_run)  # --dry-run may list a GPU suite on a laptop
    executor_options = parse_options(executor_option, "--executor-option")
    check_writable(execution["output_dir"], "--output-dir", folder=True, create=False)  # a file in the way fails now
    finished = sum(is_finished(c) for c in configs)
    typer.echo(f"suite {suite.track}: {len(configs)} cells ({finished} already finished) -> {execution['output_dir']}")
    if dry_run:
        for run_config in configs:
            done = "done" if is_finished(run_config) else "todo"
            typer.echo(f"{cell_key(run_config)}  {done}  {role_of(run_config).value:<6}  {run_config.scorer:<10}  "
                       f"retention {run_config.retention:g}  seed {run_config.seed}")
        return
    check_writable(execution["output_dir"], "--output-dir", folder=True)  # before any worker starts
    if publish:  # a target that cannot be written fails now, not after the sweep ran
        for target in (leaderboards / suite.track, records_dir):  # tables, records
            check_writable(target, "the --publish target", folder=True, create=False)
        adopted = adopt_published(configs, [records_dir, *sorted(leaderboards.glob("*/records"))])
        if adopted:
            typer.echo(f"{len(adopted)} cells already published under {leaderboards}: not rerun")
    from curbench.boards.regenerate import Outputs, write_all

    # The boards come from the track's registered suite (configs/ beside the leaderboards), as `leaderboard --check`
    # regenerates them, even when this sweep runs a narrowed copy of it kept elsewhere.
    registered = leaderboards.parent / "configs"
    suites_dir = registered if (registered / f"{suite.track}.yaml").is_file() else Path(config).parent
    outputs = Outputs(root=leaderboards, configs=suites_dir, readme=leaderboards.parent / "README.md")

    def publish_record(record: ResultRecord) -> None:
        """Each new record lands with its boards regenerated, so the tree passes --check whenever the sweep stops."""
        if publish_records([record], records_dir):
            write_all(outputs, [suite.track])

    result = run_sweep(configs, make_executor(executor, workers, executor_options),
                       on_record=publish_record if publish else None)
    typer.echo(f"{len(result.records)} cells finished ({result.cached} reused), {len(result.failures)} failed, "
               f"{result.wall_time_s:.1f} s")
    if result.records:
        from curbench.boards import results_markdown, write_board

        board_dir = Path(execution["output_dir"]) / "board"
        write_board(board_dir, suite.track, result.records, suite)
        typer.echo(results_markdown(result.records))
        typer.echo(f"tables, CSV and curves: {board_dir}")
    if result.failures:
        for failed, error in result.failures:
            typer.echo(f"failed {cell_key(failed)}: {error}", err=True)
        raise failure_summary(result.failures)


def leaderboard(
    check: Annotated[bool, typer.Option("--check", help="Do not write; exit non-zero listing every table that differs from the records.")] = False,
    track: Annotated[OptionList, typer.Option(help="Track to process (repeatable; default: every track with a records/ folder).")] = None,
    drift: Annotated[bool, typer.Option("--drift", help="Also rerun each CPU track's ci_slice, plus --drift-sample cells chosen by the git commit, and fail on metric drift past tolerance.")] = False,
    drift_sample: Annotated[int, typer.Option(help="Cells per track rerun by --drift besides the ci_slice, rotating with the commit, so that every CPU cell is rerun over a few commits.")] = 1,
    root: Annotated[Path, typer.Option(help="Root folder of the leaderboard tracks.")] = Path("leaderboards"),
    configs: Annotated[Path, typer.Option(help="Folder of the suite files (configs/<track>.yaml).")] = Path("configs"),
    readme: Annotated[Path, typer.Option(help="README whose <!-- leaderboard:digits:start/end --> region is regenerated.")] = Path("README.md"),
    findings: Annotated[Path | None, typer.Option(help="Folder of the generated findings page (default: docs/ beside the --root folder).")] = None,
    html: Annotated[Path | None, typer.Option("--html", help="Folder of the static HTML site (default: site/ in the findings folder).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Regenerate the leaderboard tables (Markdown + CSV + curves), the README region, the findings page and the HTML site from the committed records, or --check them."""
    from curbench import boards as board
    from curbench.bench.suites import load_suite
    from curbench.boards import regenerate
    from curbench.boards.check import unreadable
    from curbench.boards.regenerate import Outputs
    from curbench.progress import set_quiet

    set_quiet(quiet)
    if drift_sample < 0:
        raise InvalidInputError(f"--drift-sample must be an integer >= 0, got {drift_sample}; e.g. --drift-sample 1")
    available = board.tracks(root)
    selected = track or available
    for name in selected:
        if name not in available:
            raise InvalidInputError(f"unknown track '{name}' under {root}; tracks: {', '.join(available) or 'none'}")
    outputs = Outputs(root, configs, readme, findings, html)
    if check:
        differences = regenerate.differences(outputs, selected, available)
    else:
        differences = []
        for line in regenerate.write_all(outputs, selected):
            typer.echo(line)
    if drift and not any(unreadable(root / name / board.RECORDS_DIR) for name in selected):
        for name in selected:
            suite_path = configs / f"{name}.yaml"
            suite = load_suite(suite_path) if suite_path.is_file() else None
            if suite is None or suite.gpu:
                continue
            if suite.in_progress:  # its tolerances need the full grid of seeds, and its ci_slice may be unpublished
                typer.echo(f"{name}: in progress, not rerun by --drift until its grid is complete")
                continue
            differences += board.drift(root, name, configs, sample=drift_sample, rotation=_commit())
    for line in differences:
        typer.echo(line)
    if differences:
        first = differences[0] if len(differences[0]) <= 300 else differences[0][:297] + "..."
        raise CurbenchError(f"{len(differences)} difference(s) between the leaderboards and their records (first: "
                            f"{first}); see above")
    if check or drift:
        typer.echo(f"leaderboards up to date: {', '.join(selected)}")


def report(
    directory: Annotated[Path, typer.Argument(help="A folder of records: a sweep's output (cells/*/result.json) or a track's records/.")],
    out: Annotated[Path | None, typer.Option(help="Where the page, CSV and curves go (default: DIRECTORY/board).")] = None,
    track: Annotated[str, typer.Option(help="Title of the board.")] = "report",
) -> None:
    """Render leaderboard tables (Markdown, CSV, curves) from any folder of result records."""
    from curbench.atomic import check_writable
    from curbench.bench.records import RECORD_FILE, read_record
    from curbench.boards import load_records, results_markdown, write_board

    if not directory.is_dir():
        raise InvalidInputError(f"records folder not found: {directory}; pass a sweep's output folder or a records/ folder")
    check_writable(out or directory / "board", "--out", folder=True, create=False)
    records = load_records(directory)
    # A sweep's cells: an unreadable record is an unfinished cell, as the sweep itself treats it.
    records += [r for r in map(read_record, sorted(directory.glob(f"cells/*/{RECORD_FILE}"))) if r is not None]
    if not records:
        raise InvalidInputError(f"no result records in {directory} (looked for *.json and cells/*/{RECORD_FILE})")
    target = out or directory / "board"
    write_board(target, track, records, None)
    typer.echo(results_markdown(records))
    typer.echo(f"tables, CSV and curves: {target}")


def submit(
    track: Annotated[str, typer.Option(help="The existing track to join, e.g. toy (its suite is configs/<track>.yaml).")],
    scorer: Annotated[str, typer.Option(help="The registered scorer to submit (e.g. from your plugin package).")],
    scorer_option: Annotated[OptionList, typer.Option("--scorer-option", "--option", help="Scorer option key=value (repeatable).")] = None,
    leaderboards: Annotated[Path, typer.Option(help="Root folder of the leaderboard tracks.")] = Path("leaderboards"),
    configs: Annotated[Path, typer.Option(help="Folder of the suite files.")] = Path("configs"),
    output_dir: Annotated[str | None, typer.Option(help="Where the new cells run (default: runs/submit-<track>).")] = None,
    workers: Annotated[int | None, typer.Option(help="Parallel cells (default: GPUs if any, else CPU cores).")] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu, cuda or cuda:N (default: auto).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Run a new scorer on an existing track's grid, reusing the track's committed records for everything else.

    Writes only the new cells' records into leaderboards/<track>/records/ and regenerates everything
    `leaderboard --check` compares (the track's tables, the README region, the findings page, the site);
    prints the submitted rows with their baselines. Commit it all in a pull request.
    """
    from curbench.atomic import check_writable
    from curbench.bench import submit as submission
    from curbench.bench.runner import CellRunner
    from curbench.bench.suites import load_suite
    from curbench.bench.sweep import publish
    from curbench.boards import RECORDS_DIR, regenerate, results_markdown
    from curbench.boards.regenerate import Outputs
    from curbench.boards.requirements import REQUIREMENTS_FILE, require
    from curbench.config import parse_options
    from curbench.progress import set_quiet

    set_quiet(quiet)
    suite_path = configs / f"{track}.yaml"
    if not suite_path.is_file():
        raise InvalidInputError(f"track '{track}' has no suite {suite_path}; pick one of the tracks under {configs}/")
    suite = load_suite(suite_path)
    execution: dict[str, Any] = {"output_dir": output_dir or str(Path("runs") / f"submit-{suite.track}")}
    if device is not None:
        execution["device"] = device
    records_dir = leaderboards / suite.track / RECORDS_DIR
    runner = CellRunner()
    options = parse_options(scorer_option, "--scorer-option")
    check_writable(records_dir, "the track's records folder", folder=True, create=False)
    planned = submission.prepare(suite, scorer, options, records_dir, runner, **execution)
    typer.echo(f"submit {scorer} to {suite.track}: {len(planned.configs)} cells, {len(planned.published)} reused from "
               f"{records_dir}, {len(planned.todo)} to run")
    submission.run(planned, workers)
    paths = publish(planned.new_records(), records_dir)
    regenerate.write_all(Outputs(leaderboards, configs), [suite.track])
    requirement = require(leaderboards, runner.registry.get("scorer", scorer).identity().get("distribution", "curbench"))
    if requirement is not None:
        typer.echo(f"added `{requirement}` to {leaderboards / REQUIREMENTS_FILE}, so that CI installs the plugin")
    typer.echo(results_markdown(planned.records()))
    typer.echo(f"wrote {len(paths)} new records to {records_dir} and regenerated the {suite.track} board, the findings "
               "and the site; commit them for review")


def _commit() -> str:
    """The rotation key of --drift: the checked-out git commit (empty outside a repository)."""
    from curbench.bench.records import git_commit

    return git_commit() or ""
