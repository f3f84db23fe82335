"""Suite files, grid expansion with baselines, executors, and resuming a sweep."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from curbench.bench.cells import cell_key, role_of
from curbench.bench.executors import LocalExecutor, SerialExecutor, make_executor
from curbench.bench.records import cell_id
from curbench.bench.suites import load_suite, suite_configs
from curbench.bench.sweep import DETECTION_FILE, detection_for, expand
from curbench.config import RunConfig
from curbench.errors import CurbenchError, InvalidInputError

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def _suite(tmp_path: Path, text: str):
    path = tmp_path / "suite.yaml"
    path.write_text(text)
    return load_suite(path)


SUITE = """
track: demo
dataset: toy
generator: mlp
generator_options: {steps: 10}
grid:
  scorer: [knn, gaussian]
  retention: [25, 50]
  seed: [0, 1, 2]
ci_slice:
  scorer: [knn]
  retention: [50]
  seed: [0]
"""


def test_expansion_adds_full_and_random_baselines_with_the_same_seeds(tmp_path):
    suite = _suite(tmp_path, SUITE)
    cells = expand(suite, output_dir=str(tmp_path / "runs"))
    methods = [c for c in cells if role_of(c) == "method"]
    randoms = [c for c in cells if role_of(c) == "random"]
    fulls = [c for c in cells if role_of(c) == "full"]
    assert len(methods) == 2 * 2 * 3
    assert {(c.retention, c.seed) for c in randoms} == {(r, s) for r in (25.0, 50.0) for s in range(3)}
    assert {c.seed for c in fulls} == {0, 1, 2} and all(c.retention == 100 for c in fulls)
    assert len(cells) == 12 + 6 + 3  # shared baselines appear once
    assert len({cell_id(c.cell()) for c in cells}) == len(cells)
    assert all(c.output_dir == str(tmp_path / "runs") and c.generator_options == {"steps": 10} for c in cells)
    # YAML's int 25 and the CLI's float 25.0 name the same cell.
    assert cell_id(methods[0].cell()) == cell_id(methods[0].replace(retention=float(int(methods[0].retention))).cell())
    assert all(type(c.retention) is float for c in cells)
    # The method's own seed is the baseline's seed: same data split randomness, same GAN initialisation.
    for method in methods:
        assert method.replace(scorer="random", scorer_options={}) in randoms


def test_random_in_the_grid_and_sample_time_methods_are_deduplicated(tmp_path):
    suite = _suite(tmp_path, SUITE.replace("[knn, gaussian]", "[knn, random, truncation]"))
    sample_time = expand(suite)
    roles = [role_of(c) for c in sample_time]
    assert roles.count("method") == 2 * 2 * 3  # knn and truncation
    assert roles.count("random") == 6 and roles.count("full") == 3


def test_ci_slice_overrides_the_grid(tmp_path):
    suite = _suite(tmp_path, SUITE)
    cells = expand(suite, overrides=suite.ci_slice)
    assert sorted((role_of(c), c.retention, c.seed) for c in cells) == [
        ("full", 100.0, 0), ("method", 50.0, 0), ("random", 50.0, 0)
    ]
    fixed = suite_configs(suite, {"seed": 4})  # a scalar fixes the field
    assert {c.seed for c in fixed} == {4} and len(fixed) == 4


def test_no_baselines_when_asked(tmp_path):
    suite = _suite(tmp_path, SUITE + "baselines: false\n")
    assert all(role_of(c) == "method" for c in expand(suite))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("grid: {scorr: [knn]}", "did you mean scorer"),
        ("retension: 50", "did you mean retention"),
        ("grid: {scorer: knn}", "must be a non-empty list"),
        ("grid: {retention: [0]}", "retention must be in (0, 100]"),
        ("grid: [1, 2]", "must map RunConfig fields to lists"),
    ],
)
def test_suite_errors_are_one_line_and_actionable(tmp_path, text, message):
    with pytest.raises(InvalidInputError) as error:
        _suite(tmp_path, "track: demo\n" + text + "\n")
    assert message in str(error.value) and "\n" not in str(error.value)


def test_shipped_suites_load_and_name_their_track():
    suites = {path.stem: load_suite(path) for path in CONFIGS.glob("*.yaml") if path.stem != "default"}
    assert {"toy", "digits", "digits-corrupted", "cifar10", "imagenet64"} <= set(suites)
    for name, suite in suites.items():
        assert suite.track == name
        assert len({c.seed for c in suite_configs(suite)}) >= 3  # CIs need at least three seeds
    assert suites["cifar10"].gpu and suites["imagenet64"].gpu and not suites["digits"].gpu


def test_serial_and_local_executors_collect_results_and_errors():
    items = [4.0, -1.0, 9.0]
    for executor in (SerialExecutor(), LocalExecutor(workers=2)):
        outcomes = {o.item: o for o in executor.map(math.sqrt, items)}
        assert outcomes[4.0].result == 2.0 and outcomes[9.0].result == 3.0
        assert outcomes[-1.0].result is None and outcomes[-1.0].error == "ValueError: math domain error"


def test_make_executor_by_registered_name_only():
    assert isinstance(make_executor("serial"), SerialExecutor)
    assert make_executor("local", workers=3).workers == 3
    with pytest.raises(CurbenchError, match="unknown executor 'curbench.bench.executors:LocalExecutor'"):
        make_executor("curbench.bench.executors:LocalExecutor")  # import paths would run arbitrary callables
    with pytest.raises(CurbenchError, match="unknown executor 'pool'"):
        make_executor("pool")
    with pytest.raises(CurbenchError, match="unknown option 'adress'"):
        make_executor("serial", options={"adress": "auto"})
    with pytest.raises(InvalidInputError, match="workers must be at least 1"):
        LocalExecutor(workers=0)


@pytest.mark.slow
def test_ray_executor_runs_tasks_on_a_local_instance():
    ray = pytest.importorskip("ray")  # optional extra: pip install 'curbench[ray]'
    try:
        outcomes = {o.item: o for o in make_executor("ray", workers=1).map(math.sqrt, [4.0, -1.0])}
    finally:
        ray.shutdown()
    assert outcomes[4.0].result == 2.0
    assert outcomes[-1.0].error == "ValueError: math domain error"


@pytest.mark.slow
def test_sweep_resumes_after_a_kill_and_reproduces_cells(tmp_path):
    import typer
    from typer.testing import CliRunner

    from curbench.bench.records import read_record
    from curbench.boards import check
    from curbench.cli_suites import sweep

    app = typer.Typer()
    app.command()(sweep)
    suite = tmp_path / "demo.yaml"
    suite.write_text(
        "track: demo\ndataset: toy\ndataset_options: {n: 300}\nembedder: pixels\neval_embedder: pixels\n"
        "generator: mlp\ngenerator_options: {steps: 30}\nsamples: 300\n"
        "grid: {scorer: [knn], retention: [50], seed: [0]}\n"
    )
    runs, boards = tmp_path / "runs", tmp_path / "leaderboards"
    args = ["--config", str(suite), "--output-dir", str(runs), "--executor", "serial", "--leaderboards", str(boards)]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    results = sorted((runs / "cells").glob("*/result.json"))
    assert len(results) == 3  # knn, random subset, full data
    before = {p: (p.stat().st_mtime_ns, read_record(p).metrics) for p in results}

    killed = results[0]
    killed.unlink()  # a cell killed before its record was written leaves no result.json
    second = CliRunner().invoke(app, [*args, "--publish"])
    assert second.exit_code == 0, second.output
    assert "(2 reused)" in second.output
    for path, (mtime, metrics) in before.items():
        assert read_record(path).metrics == metrics  # deterministic per seed on CPU
        assert (path.stat().st_mtime_ns == mtime) == (path != killed)
    assert len(list((boards / "demo" / "records").glob("*.json"))) == 3
    assert check(boards, ["demo"], tmp_path) == []

    # Another machine resumes from the published records alone: nothing is rerun.
    elsewhere = ["--config", str(suite), "--output-dir", str(tmp_path / "elsewhere"), "--executor", "serial",
                 "--leaderboards", str(boards), "--publish"]
    third = CliRunner().invoke(app, elsewhere)
    assert third.exit_code == 0, third.output
    assert f"3 cells already published under {boards}" in third.output and "(3 reused)" in third.output
    assert {read_record(p).metrics["fid"] for p in (tmp_path / "elsewhere" / "cells").glob("*/result.json")} == {
        metrics["fid"] for _, metrics in before.values()}

    # Without --publish a sweep still prints its table and writes the board beside its cells.
    assert "| random subset | 50 | random |" in first.output and "| method | 50 | knn |" in first.output
    page = (runs / "board" / "leaderboard.md").read_text()
    assert "| method | 50 | knn |" in page and (runs / "board" / "leaderboard.csv").is_file()

    from curbench.cli import app as curbench_app

    report = CliRunner().invoke(curbench_app, ["report", str(runs), "--out", str(tmp_path / "report")])
    assert report.exit_code == 0, report.output
    assert (tmp_path / "report" / "leaderboard.md").read_text().split("## Results")[1] == page.split("## Results")[1]


def test_publishing_a_narrowed_copy_of_a_suite_writes_the_registered_suites_boards(tmp_path):
    import typer
    from typer.testing import CliRunner

    from curbench.boards import check
    from curbench.cli_suites import sweep

    app = typer.Typer()
    app.command()(sweep)
    settings = ("track: demo\ndataset: toy\ndataset_options: {n: 300}\nembedder: pixels\neval_embedder: pixels\n"
                "generator: mlp\ngenerator_options: {steps: 30}\nsamples: 300\nbaselines: false\n")
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "demo.yaml").write_text(
        settings + "description: The registered demo suite.\nin_progress: true\ngrid: {scorer: [knn], retention: [50], seed: [0, 1]}\n")
    narrowed = tmp_path / "scratch" / "demo.yaml"
    narrowed.parent.mkdir()
    narrowed.write_text(settings + "grid: {scorer: [knn], retention: [50], seed: [0]}\n")
    boards = tmp_path / "leaderboards"
    result = CliRunner().invoke(app, ["--config", str(narrowed), "--output-dir", str(tmp_path / "runs"), "--executor",
                                      "serial", "--leaderboards", str(boards), "--publish", "--quiet"])
    assert result.exit_code == 0, result.output
    assert len(list((boards / "demo" / "records").glob("*.json"))) == 1
    assert "The registered demo suite." in (boards / "demo" / "leaderboard.md").read_text()
    assert check(boards, ["demo"], tmp_path / "configs") == []


def test_detection_scores_the_selection_scores_against_the_corrupted_items(tmp_path):
    from sklearn.metrics import roc_auc_score
    from sklearn.neighbors import NearestNeighbors

    from curbench.datasets.corrupt import load_corrupted

    config = RunConfig(dataset="digits-corrupted", embedder="pixels", scorer="knn", retention=50, output_dir=str(tmp_path))
    detection = detection_for(config)
    dataset = load_corrupted()
    features = dataset.data.reshape(len(dataset), -1) / 255.0
    scores = np.empty(len(dataset))
    for label in np.unique(dataset.labels):  # per-class selection scores each class on its own
        members = np.flatnonzero(dataset.labels == label)
        distances, _ = NearestNeighbors(n_neighbors=6).fit(features[members]).kneighbors(features[members])
        scores[members] = -distances[:, 5]  # column 0 is the point itself
    mask = dataset.groups["corrupted"].astype(bool)
    assert detection["auroc"] == pytest.approx(roc_auc_score(mask, -scores), abs=1e-9)
    lowest = np.argsort(scores, kind="stable")[: mask.sum()]
    assert detection["precision_at_k"] == pytest.approx(mask[lowest].mean()) and detection["k"] == mask.sum()
    assert (tmp_path / "cells" / cell_key(config) / DETECTION_FILE).is_file()
    assert detection_for(config.replace(retention=100.0)) is None  # keeps everything: nothing to flag
    assert detection_for(config.replace(dataset="digits")) is None  # no ground truth


INCLUDE = """
include:
  - {scorer: truncation, stage: sample, retention: 100, scorer_options: {psi: 0.5}}
  - {scorer: truncation, stage: sample, retention: 100, scorer_options: {psi: 1.0}}
"""


def test_include_entries_add_joint_settings_crossed_with_the_free_grid_axes(tmp_path):
    suite = _suite(tmp_path, SUITE + INCLUDE)
    methods = suite_configs(suite)
    truncations = [c for c in methods if c.scorer == "truncation"]
    assert len(methods) == 2 * 2 * 3 + 2 * 3  # the product, then each entry over the three seeds
    assert {(c.scorer_options["psi"], c.seed) for c in truncations} == {(p, s) for p in (0.5, 1.0) for s in range(3)}
    assert all(c.stage == "sample" and c.retention == 100 for c in truncations)
    assert suite.varied == {"scorer", "retention", "seed", "stage", "scorer_options"}
    # A ci_slice that restricts the scorer drops the entries it excludes; one that fixes the seed keeps them.
    assert all(c.scorer == "knn" for c in suite_configs(suite, suite.ci_slice))
    assert {c.scorer for c in suite_configs(suite, {"seed": 0})} == {"knn", "gaussian", "truncation"}
    cells = expand(suite)
    assert sum(role_of(c) == "full" for c in cells) == 3  # the truncation cells share the grid's full-data baselines


@pytest.mark.parametrize("include", ["include: 5", "include: [5]", "include: [{}]", "include: [{scorer: knn, psi: 1}]"])
def test_a_malformed_include_is_one_line(tmp_path, include):
    with pytest.raises(InvalidInputError, match="include"):
        _suite(tmp_path, SUITE + include + "\n")


def test_the_stage_is_recorded_never_guessed_from_what_was_kept():
    """A cell's stage is its config's: a curator's cells say `sample`, and count-mode selection at 99.8% that
    keeps every one of the 1797 digits is still a data-stage method judged against the random subset."""
    from curbench.bench.cells import Baselines, baselines_for, record_is_sample_time
    from curbench.bench.records import Provenance, ResultRecord, Selection
    from curbench.bench.runner import CellRunner
    from curbench.config import build_run_config

    assert build_run_config(None, {"scorer": "truncation"}).stage == "sample"  # left out: the curator's stage
    assert build_run_config(None, {"scorer": "knn", "stage": "sample"}).stage == "sample"  # density rejection of samples
    with pytest.raises(InvalidInputError, match="curates generated samples") as error:
        CellRunner().validate(RunConfig(scorer="truncation", stage="data"))
    assert "\n" not in str(error.value)
    # A weights file the embedder would never read is refused rather than ignored (and hashed into the cell id).
    with pytest.raises(InvalidInputError, match="embedder 'classifier' loads no weights file"):
        CellRunner().validate(RunConfig(weights="/nonexistent"))

    count_mode = RunConfig(scorer="knn", retention=99.8, selection_mode="count")
    record = ResultRecord(
        cell_id=cell_id(count_mode.cell()), config=count_mode.cell(), metrics={"fid": 1.0},
        selection=Selection(1797, 1797, "h", {}), sampling={}, audit={}, directions={"fid": False},
        provenance=Provenance("0", {}, None, "3.11", "cpu", 1.0, "2026-01-01T00:00:00+00:00"),
    )
    assert not record_is_sample_time(record)
    baselines = baselines_for(count_mode)
    assert isinstance(baselines, Baselines) and baselines.compared_with.scorer == "random"
    assert baselines.compared_with.retention == 99.8


RAY_DRIVER = """
import sys, time
from curbench.bench import reaper
from curbench.bench.executors import make_executor

def slow(item):
    time.sleep(600)

outcomes = make_executor("ray", workers=1).map(slow, [1])
import threading
threading.Thread(target=lambda: next(outcomes, None), daemon=True).start()
import ray
while not ray.is_initialized():
    time.sleep(0.2)
time.sleep(5)  # Ray's agents are up and the task reaches a worker
import os
print(" ".join(str(pid) for pid in reaper.descendants(os.getpid())), flush=True)
time.sleep(600)
"""


def _start_time(pid: int) -> str | None:
    """Field 22 of /proc/<pid>/stat (the parent changes once the driver dies; the start time never does); None for
    a process that is gone or a zombie (dead, waiting for an init that may never reap it)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] == "Z" else fields[19]


def _still(pid: int, started: str | None) -> bool:
    return started is not None and _start_time(pid) == started


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="the reaper reads /proc")
def test_a_killed_sweep_leaves_no_ray_process_behind(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    pytest.importorskip("ray")

    script = tmp_path / "driver.py"
    script.write_text(RAY_DRIVER)
    driver = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        ray_processes = [int(pid) for pid in driver.stdout.readline().split()]
        started = {pid: _start_time(pid) for pid in ray_processes}
        assert len(ray_processes) >= 2  # at least the GCS server and the raylet (and the reaper)
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    deadline = time.monotonic() + 20  # unreaped, Ray's agents linger for a minute or two
    alive = ray_processes
    while alive and time.monotonic() < deadline:
        time.sleep(0.5)
        alive = [pid for pid in ray_processes if _still(pid, started[pid])
                 and "reaper" not in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")]
    assert alive == [], [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in alive if os.path.exists(f"/proc/{pid}")]
