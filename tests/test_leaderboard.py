"""Leaderboard tables from records: statistics vs scipy, baselines, audit, --check, README region, drift."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from matplotlib.image import imread
from scipy import stats
from typer.testing import CliRunner

from curbench import boards as board
from curbench.bench.evaluation import declared_directions
from curbench.bench.records import Provenance, ResultRecord, Selection, cell_id
from curbench.bench.sweep import publish
from curbench.cli_suites import leaderboard
from curbench.config import DEFAULT_METRICS, RunConfig
from curbench.errors import CurbenchError
from curbench.plugins import load_registry

DIRECTIONS = declared_directions(load_registry(), DEFAULT_METRICS)

REPO = Path(__file__).resolve().parent.parent
BASE = RunConfig(dataset="digits", generator="dcgan", generator_options={"steps": 10})
FID = {  # (scorer, retention) -> FID per seed
    ("random", 100.0): [10.0, 10.4, 10.2],
    ("random", 50.0): [14.0, 14.6, 14.3],
    ("knn", 50.0): [11.0, 11.3, 11.1],  # clearly better than random
    ("gaussian", 50.0): [14.1, 14.9, 13.8],  # indistinguishable from random
}
RETENTION_BY_CLASS = {"0": 0.3, "1": 0.7}


def _record(config: RunConfig, fid: float, *, n_kept: int = 900, audit: dict | None = None) -> ResultRecord:
    cell = config.cell()
    recall = {"0": 0.4 + config.seed / 100, "1": 0.6}
    return ResultRecord(
        cell_id=cell_id(cell),
        config=cell,
        metrics={"fid": fid, "coverage": 1 / fid, "n_fake": 1800, "n_real": 1800},
        selection=Selection(1800, n_kept, "hash", {"class": RETENTION_BY_CLASS}),
        sampling={},
        audit=audit if audit is not None else {
            "per_group": {"class": {g: {"recall": r, "coverage": r / 2} for g, r in recall.items()}},
            "max_disparity": {"class": {"retention": 0.4, "recall": 0.2 - config.seed / 100, "coverage": 0.1}},
        },
        provenance=Provenance("0.1.0", {}, None, "3.11", "cpu", 1.0, "2026-01-01T00:00:00+00:00"),
        directions=DIRECTIONS,
    )


def _records() -> list[ResultRecord]:
    return [
        _record(BASE.replace(scorer=scorer, retention=retention, seed=seed), fid, n_kept=1800 if retention == 100 else 900)
        for (scorer, retention), fids in FID.items()
        for seed, fid in enumerate(fids)
    ]


def _track(root: Path, name: str = "demo", records: list[ResultRecord] | None = None) -> Path:
    publish(_records() if records is None else records, root / name / board.RECORDS_DIR)
    return root / name


def _numbers(records: list[ResultRecord]) -> pd.DataFrame:
    return board.results_frames(board.group_rows(records))[1].set_index(["row", "scorer", "retention"])


def test_rows_carry_t_intervals_and_welch_tests_against_random_from_scipy():
    numbers = _numbers(_records())
    for (scorer, retention), fids in FID.items():
        role = "method" if scorer != "random" else ("full data" if retention == 100 else "random subset")
        row = numbers.loc[(role, scorer, retention)]
        low, high = stats.t.interval(0.95, len(fids) - 1, loc=np.mean(fids), scale=stats.sem(fids))
        assert row["fid_mean"] == pytest.approx(np.mean(fids), rel=1e-9)
        assert row["fid_ci95"] == pytest.approx((high - low) / 2, rel=1e-9)
        assert row["seeds"] == 3 and row["n_kept"] == ("1800" if retention == 100 else "900")
    for scorer, mark in (("knn", "▲"), ("gaussian", "≈")):
        row = numbers.loc[("method", scorer, 50.0)]
        p_value = stats.ttest_ind(FID[(scorer, 50.0)], FID[("random", 50.0)], equal_var=False).pvalue
        assert row["fid_p_vs_baseline"] == pytest.approx(p_value, rel=1e-9)
        assert row["fid_mark"] == mark and row["compared_with"] == "random"
    assert numbers.loc[("method", "knn", 50.0)]["coverage_mark"] == "▲"  # coverage = 1/FID rose: higher is better
    assert pd.isna(numbers.loc[("random subset", "random", 50.0)]["fid_p_vs_baseline"])


def test_sample_time_methods_are_compared_with_the_full_data_row():
    records = _records() + [
        _record(BASE.replace(scorer="truncation", stage="sample", retention=50.0, seed=s), fid, n_kept=1800)
        for s, fid in enumerate([9.0, 9.1, 9.2])
    ]
    row = _numbers(records).loc[("method", "truncation", 50.0)]
    p_value = stats.ttest_ind([9.0, 9.1, 9.2], FID[("random", 100.0)], equal_var=False).pvalue
    assert row["compared_with"] == "full" and row["fid_p_vs_baseline"] == pytest.approx(p_value, rel=1e-9)


def test_page_shows_sample_counts_legend_audit_and_detection():
    detection = {"auroc": 0.9, "precision_at_k": 0.6, "k": 180, "n_corrupted": 180}
    records = _records()
    for record in records:
        if record.config["scorer"] == "knn":
            record.audit["detection"] = dict(detection, auroc=0.9 + record.config["seed"] / 100)
    page = board.render_track("demo", records, None)[board.PAGE_FILE]
    assert "Welch's two-sided t-test" in page and "| samples real/fake |" in page.replace("kept | samples", "| samples")
    knn_line = next(line for line in page.splitlines() if "| knn |" in line and "AUROC" not in line)
    low, high = stats.t.interval(0.95, 2, loc=0.91, scale=stats.sem([0.9, 0.91, 0.92]))
    assert round((high - low) / 2, 4) == 0.0248  # shown with two significant digits, the mean to the same place:
    assert "| 0.910 ± 0.025 |" in knn_line and "| 180 |" in knn_line and "1800/1800" in knn_line
    audit = pd.read_csv(__import__("io").StringIO(board.render_track("demo", records, None)[board.AUDIT_FILE]))
    recall0 = audit[(audit["scorer"] == "knn") & (audit["group"] == "0") & (audit["quantity"] == "recall")]
    assert recall0["mean"].item() == pytest.approx(np.mean([0.40, 0.41, 0.42]))
    gap = audit[(audit["scorer"] == "knn") & (audit["group"] == "max_disparity") & (audit["quantity"] == "recall")]
    assert gap["mean"].item() == pytest.approx(0.19)
    assert "### Per-group retention by `class`" in page and "Largest disparity across `class`" in page


def test_page_warns_when_the_records_were_measured_with_differently_trained_evaluator_weights():
    records = _records()
    for i, record in enumerate(records):
        weights = {} if i == 0 else {"weights": "aaaa" if i % 3 else "bbbb"}
        record.spaces = {"evaluation": {"embedder": "lenet", "heldout_accuracy": 0.99, **weights}}
        # Reference rows (the kept subset, the ceiling) reuse these records: each must count once.
        record.references = {"kept": dict(record.metrics), "real": dict(record.metrics)}
    spaces = next(line for line in board.render_track("demo", records, None)[board.PAGE_FILE].splitlines()
                  if line.startswith("**Feature spaces:**"))
    assert "⚠ 2 differently trained `lenet` weights among the records (`aaaa` 8, `bbbb` 3; 1 predate" in spaces
    for record in records:
        record.spaces["evaluation"]["weights"] = "aaaa"
    assert "differently trained" not in board.render_track("demo", records, None)[board.PAGE_FILE]


def test_page_names_the_command_that_generated_it():
    records = _records()
    assert "Generated by `curbench report` from 12 records;" in board.render_track("report", records, None)[board.PAGE_FILE]
    page = board.render_track("demo", records, None, command="curbench leaderboard")[board.PAGE_FILE]
    assert "Generated by `curbench leaderboard` from 12 records in `records/`" in page
    printed = board.results_markdown(records).splitlines()  # what sweep and report print: a legend line, the table
    assert "↓ lower is better, ↑ higher is better" in printed[0] and "KID's scale depends on the feature space" in printed[0]
    assert printed[2].startswith("| row |") and "FID ↓" in printed[2]


def _steps_table() -> pd.DataFrame:
    steps = "steps_to_full_fid"
    line = {"scorer": "random", "compared_with": "", f"{steps}_lower": 150.0, f"{steps}_upper": 1350.0}
    return pd.DataFrame([
        {**line, "role": "full", "retention": 100.0, f"{steps}_mean": 930.0, f"{steps}_ci95": 460.0},
        {**line, "role": "real", "retention": 100.0, f"{steps}_mean": math.nan, f"{steps}_ci95": math.nan,
         f"{steps}_lower": math.nan, f"{steps}_upper": math.nan},  # no steps: must draw nothing
        {**line, "role": "random", "retention": 50.0, f"{steps}_mean": 1020.0, f"{steps}_ci95": 500.0},
        {**line, "role": "random", "retention": 30.0, f"{steps}_mean": 200.0, f"{steps}_ci95": 300.0},
        {**line, "role": "method", "scorer": "knn", "compared_with": "random", "retention": 50.0,
         f"{steps}_mean": 1200.0, f"{steps}_ci95": 416.0},
    ])


def test_steps_plot_names_its_axes_labels_only_drawn_lines_and_keeps_bars_within_the_censoring_value():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.container import ErrorbarContainer

    from curbench.boards.curves import plot_metric

    figure = plot_metric(_steps_table(), "steps_to_full_fid", ["scorer"], "digits", "steps to full-data FID (lower is better)")
    axes = figure.axes[0]
    assert axes.get_ylabel() == "steps to full-data FID (lower is better)"
    assert axes.get_title() == "digits: steps to full-data FID" and "_" not in axes.get_xlabel()
    legend = axes.get_legend()
    labels = [text.get_text() for text in legend.get_texts()]
    assert sorted(labels) == sorted(["full data (100%)", "random subset ± 95% CI", "knn", "not reached: censored at 1350"])
    for container in axes.containers:  # every bar stops at the censoring value above and the first step below
        assert isinstance(container, ErrorbarContainer)
        for bars in container.lines[2]:
            ends = np.concatenate([segment[:, 1] for segment in bars.get_segments()])
            assert ends.max() <= 1350.0 + 1e-9 and ends.min() >= 150.0 - 1e-9
    band = axes.collections[0].get_paths()[0].vertices[:, 1]  # the random subset's band: clipped too
    assert band.max() <= 1350.0 + 1e-9 and band.min() >= 150.0 - 1e-9
    FigureCanvasAgg(figure).draw()  # the legend sits right of the axes, inside the picture: it covers no data
    box, frame = legend.get_window_extent(), axes.get_window_extent()
    assert box.x0 >= frame.x1 and box.x1 <= figure.bbox.x1


def test_step_limits_are_the_first_step_and_the_censoring_value():
    from types import SimpleNamespace

    from curbench.boards.curves import step_limits

    def record(last: int, every: int) -> SimpleNamespace:
        return SimpleNamespace(curve=[{"step": every}, {"step": last}], config={"eval_every": every})

    assert step_limits(SimpleNamespace(records=[record(1200, 150), record(1200, 150)])) == (150.0, 1350.0)
    assert all(math.isnan(v) for v in step_limits(SimpleNamespace(records=[SimpleNamespace(curve=[], config={})])))


def test_fixed_settings_show_lists_and_options_as_text_not_python_repr():
    record = _records()[0]
    record.config.update(metrics=["fid", "kid", "prdc"], generator_options={"steps": 1200, "sizes": [8, 16]})
    page = board.render_track("demo", [record], None)[board.PAGE_FILE]
    settings = next(line for line in page.splitlines() if line.startswith("**Fixed settings:**"))
    assert "metrics `fid, kid, prdc`" in settings and "generator_options `sizes=8, 16, steps=1200`" in settings
    assert "[" not in settings


def test_write_then_check_passes_and_every_kind_of_difference_is_reported(tmp_path):
    directory = _track(tmp_path)
    written = board.write_track(tmp_path, "demo", tmp_path)
    assert (directory / board.PAGE_FILE) in written
    for metric in ("fid", "coverage"):
        image = imread(directory / board.CURVES_DIR / f"{metric}.png")
        assert image.shape[:2] == (380, 800) and image[..., :3].std() > 0.05  # drawn, not blank
    assert board.check(tmp_path, ["demo"], tmp_path) == []

    page = directory / board.PAGE_FILE
    page.write_text(page.read_text().replace("knn", "kNN", 1))
    (directory / board.TABLE_FILE).unlink()
    record_path = next((directory / board.RECORDS_DIR).glob("*.json"))
    data = json.loads(record_path.read_text())
    data["config"]["seed"] = 99
    record_path.write_text(json.dumps(data))
    differences = board.check(tmp_path, ["demo"], tmp_path)
    assert len(differences) == 3
    assert any(str(page) in d and "differs from its records (line" in d for d in differences)
    assert any(board.TABLE_FILE in d and "missing" in d for d in differences)
    assert any(record_path.name in d and "config hash" in d for d in differences)


def test_tracks_without_records_say_not_run_yet(tmp_path):
    (tmp_path / "gpu" / board.RECORDS_DIR).mkdir(parents=True)
    (tmp_path / "gpu.yaml").write_text("track: gpu\ngpu: true\ndataset: cifar10\ngrid: {seed: [0, 1, 2]}\n")
    board.write_track(tmp_path, "gpu", tmp_path)
    page = (tmp_path / "gpu" / board.PAGE_FILE).read_text()
    assert "**Not run yet.** It needs a GPU" in page and "±" not in page
    assert board.check(tmp_path, ["gpu"], tmp_path) == []


def test_readme_region_is_regenerated_and_checked(tmp_path):
    _track(tmp_path, board.README_TRACK)
    board.write_track(tmp_path, board.README_TRACK, tmp_path)
    start, end = f"<!-- leaderboard:{board.README_TRACK}:start -->", f"<!-- leaderboard:{board.README_TRACK}:end -->"
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\n{start}\nstale\n{end}\n\n## after\n")
    assert len(board.check(tmp_path, [board.README_TRACK], tmp_path, readme)) == 1
    assert board.update_readme(readme, tmp_path)
    text = readme.read_text()
    assert "stale" not in text and text.startswith("# title\n") and text.endswith(f"{end}\n\n## after\n")
    assert "| knn |" in text and "Submitting a GPU result" in text
    assert board.check(tmp_path, [board.README_TRACK], tmp_path, readme) == []
    assert board.with_readme_section("no markers", board.README_TRACK, "x") is None


def test_cli_check_exits_non_zero_with_one_line_per_difference(tmp_path):
    directory = _track(tmp_path)
    app = typer.Typer()
    app.command()(leaderboard)
    args = ["--root", str(tmp_path), "--configs", str(tmp_path), "--readme", str(tmp_path / "none.md")]
    assert CliRunner().invoke(app, args).exit_code == 0
    assert CliRunner().invoke(app, [*args, "--check"]).exit_code == 0
    (directory / board.TABLE_FILE).write_text("edited\n")
    (directory / board.AUDIT_FILE).write_text("edited\n")
    result = CliRunner().invoke(app, [*args, "--check"])
    assert result.exit_code != 0 and isinstance(result.exception, CurbenchError)
    assert sum("differs from its records" in line for line in result.output.splitlines()) == 2
    assert isinstance(CliRunner().invoke(app, [*args, "--track", "nope"]).exception, CurbenchError)


def test_drift_tolerance_is_calibrated_from_the_seed_spread():
    committed = _records()
    residuals = np.concatenate([np.asarray(f) - np.mean(f) for f in FID.values()])
    tolerance = board.DRIFT_SIGMAS * math.sqrt((residuals**2).sum() / (len(residuals) - len(FID)))
    assert board.drift_tolerances(committed)["fid"] == pytest.approx(tolerance, rel=1e-12)

    knn = next(r for r in committed if r.config["scorer"] == "knn")
    close, far = (ResultRecord.from_dict(knn.to_dict()) for _ in range(2))
    close.metrics = {**knn.metrics, "fid": knn.metrics["fid"] + 0.9 * tolerance}
    far.metrics = {**knn.metrics, "fid": knn.metrics["fid"] + 1.1 * tolerance}
    assert board.compare_drift(committed, [close]) == []
    (line,) = board.compare_drift(committed, [far])
    assert "fid" in line and "drifted" in line and knn.cell_id in line
    stranger = _record(BASE.replace(scorer="ppca", seed=0), 12.0)
    assert "no committed record" in board.compare_drift(committed, [stranger])[0]


def test_committed_leaderboards_and_findings_match_their_records():
    from curbench.boards import findings, site

    root = REPO / "leaderboards"
    assert board.check(root, board.tracks(root), REPO / "configs", REPO / "README.md") == []
    assert findings.check(root, REPO / "docs") == []
    assert site.check(root, REPO / "docs" / "site", REPO / "configs") == []
    assert {"toy", "digits", "digits-corrupted", "digits-capacity", "digits-embedding", "digits-schedule",
            "toy-influence", "digits-minority", "digits-minority-schedule", "cifar10", "imagenet64"} <= set(board.tracks(root))


@pytest.mark.slow
@pytest.mark.parametrize("track", ["toy", "digits"])
def test_cpu_track_reruns_within_tolerance(track, tmp_path):
    """The CI drift check: rerun the suite's ci_slice and compare with the committed records."""
    if not board.load_records(REPO / "leaderboards" / track / board.RECORDS_DIR):
        pytest.skip(f"no committed {track} records yet")
    scratch = tmp_path / "leaderboards"
    shutil.copytree(REPO / "leaderboards" / track, scratch / track)
    assert board.drift(scratch, track, REPO / "configs", tmp_path / "runs") == []


@pytest.mark.slow
def test_the_drift_rerun_starts_from_an_empty_cache(tmp_path, monkeypatch):
    """What the rerun trains or caches never comes from (nor goes to) the user's cache: it reproduces from scratch."""
    from curbench.cache import CACHE_ENV

    users = tmp_path / "users-cache"
    monkeypatch.setenv(CACHE_ENV, str(users))
    scratch = tmp_path / "leaderboards"
    shutil.copytree(REPO / "leaderboards" / "toy", scratch / "toy")
    assert board.drift(scratch, "toy", REPO / "configs", tmp_path / "runs") == []
    assert not users.exists()
    assert (tmp_path / "runs" / "cells").is_dir()  # the rerun did run, elsewhere
    assert os.environ[CACHE_ENV] == str(users)


def test_check_that_would_compare_nothing_fails(tmp_path):
    (tmp_path / "configs").mkdir()
    assert "no leaderboard tracks" in board.check(tmp_path / "nope", [], tmp_path / "configs")[0]
    track = _track(tmp_path / "leaderboards", "demo")
    board.write_track(tmp_path / "leaderboards", "demo", tmp_path / "configs")
    (tmp_path / "configs" / "demo.yaml").write_text("track: demo\ndataset: toy\n")
    other = _track(tmp_path / "leaderboards", "other")
    board.write_track(tmp_path / "leaderboards", "other", tmp_path / "configs")
    shutil.rmtree(track / board.RECORDS_DIR)  # the records are gone but the page is still committed
    (line,) = board.check(tmp_path / "leaderboards", board.tracks(tmp_path / "leaderboards"), tmp_path / "configs")
    assert "demo/records: missing" in line and other.name not in line


def test_checking_one_track_does_not_call_the_others_records_missing(tmp_path):
    (tmp_path / "configs").mkdir()
    for name in ("demo", "other"):
        _track(tmp_path / "leaderboards", name)
        (tmp_path / "configs" / f"{name}.yaml").write_text(f"track: {name}\ndataset: toy\n")
        board.write_track(tmp_path / "leaderboards", name, tmp_path / "configs")
    # The stub suites fix another dataset, so demo's own records are foreign to it; nothing names the other track.
    problems = board.check(tmp_path / "leaderboards", ["demo"], tmp_path / "configs")
    assert problems and all("/demo/" in line and "/other/" not in line for line in problems)


def test_records_with_missing_or_non_finite_metrics_are_reported(tmp_path):
    records = _records()
    records[0].metrics = {**records[0].metrics, "fid": float("nan")}
    records[1].metrics = {**records[1].metrics, "precision": "0.9"}
    track = _track(tmp_path, "demo", records)
    problems = board.record_problems(track / board.RECORDS_DIR)
    assert len(problems) == 2 and any("(fid)" in p for p in problems) and any("(precision)" in p for p in problems)


@pytest.mark.parametrize("name", ["../escaped", "a/b", ".hidden", "", "-rf", "_hidden"])
def test_a_track_name_cannot_leave_the_leaderboards_folder(tmp_path, name):
    from curbench.bench.suites import load_suite
    from curbench.errors import InvalidInputError

    path = tmp_path / "suite.yaml"
    path.write_text(f"track: '{name}'\ndataset: toy\n")
    with pytest.raises(InvalidInputError, match="track name"):
        load_suite(path)


def test_drift_rotates_through_the_suite_deterministically():
    from curbench.bench.cells import cell_key
    from curbench.bench.suites import load_suite
    from curbench.boards.drift import drift_cells

    suite = load_suite(REPO / "configs" / "toy.yaml")
    picks = {rotation: [cell_key(c) for c in drift_cells(suite, sample=2, rotation=rotation, output_dir="x")]
             for rotation in ("a", "b", "c", "d")}
    fixed = [cell_key(c) for c in drift_cells(suite, sample=0, rotation="", output_dir="x")]
    for rotation, keys in picks.items():
        assert keys[: len(fixed)] == fixed and len(set(keys)) == len(fixed) + 2
        assert keys == [cell_key(c) for c in drift_cells(suite, sample=2, rotation=rotation, output_dir="x")]
    assert len({tuple(keys[len(fixed):]) for keys in picks.values()}) > 1  # commits rerun different cells


@pytest.mark.slow
def test_a_hand_edited_record_is_caught_by_the_rotating_drift_check(tmp_path):
    from curbench.bench.cells import cell_key
    from curbench.bench.suites import load_suite
    from curbench.boards.drift import drift_cells

    if not board.load_records(REPO / "leaderboards" / "toy" / board.RECORDS_DIR):
        pytest.skip("no committed toy records yet")
    suite = load_suite(REPO / "configs" / "toy.yaml")
    fixed = {cell_key(c) for c in drift_cells(suite, sample=0, rotation="", output_dir="x")}
    target = next(cell_key(c) for c in drift_cells(suite, sample=1, rotation="commit-1", output_dir="x")
                  if cell_key(c) not in fixed)
    scratch = tmp_path / "leaderboards"
    shutil.copytree(REPO / "leaderboards" / "toy", scratch / "toy")
    path = scratch / "toy" / board.RECORDS_DIR / f"{target}.json"
    record = json.loads(path.read_text())
    tolerance = board.drift_tolerances(board.load_records(scratch / "toy" / board.RECORDS_DIR))["fid"]
    record["metrics"]["fid"] += 5 * tolerance  # an edit past the tolerance, then the tables regenerated to match it
    path.write_text(json.dumps(record))
    board.write_track(scratch, "toy", REPO / "configs")
    assert board.check(scratch, ["toy"], REPO / "configs") == []  # the tables agree with the edited record
    lines = board.drift(scratch, "toy", REPO / "configs", tmp_path / "runs", sample=1, rotation="commit-1")
    assert any(target in line and "fid" in line and "drifted" in line for line in lines)


def test_check_reports_records_whose_plugins_are_missing_or_at_another_version(tmp_path):
    records = _records()[:2]
    installed = load_registry().get("scorer", "isolation-forest") if "isolation-forest" in load_registry().names("scorer") else None
    ghost = {**records[0].config, "plugins": {"scorer:ghost": {"distribution": "curbench-ghost", "version": "1.0"}}}
    records[0] = dataclasses.replace(records[0], config=ghost, cell_id=cell_id(ghost))
    if installed is not None:
        stale = {**records[1].config, "plugins": {"scorer:isolation-forest": {"distribution": installed.distribution, "version": "0.0.1"}}}
        records[1] = dataclasses.replace(records[1], config=stale, cell_id=cell_id(stale))
    track = _track(tmp_path, "demo", records)
    problems = board.record_problems(track / board.RECORDS_DIR)
    assert any("scorer:ghost from curbench-ghost is not installed; pip install curbench-ghost==1.0" in p for p in problems)
    if installed is not None:
        assert any("was recorded as" in p and "0.0.1" in p and installed.version in p for p in problems)


def test_check_refuses_foreign_missing_and_uneven_records_against_the_suite(tmp_path):
    """A toy record published into digits, a deleted record, and a record without FID: each is named."""
    from curbench.bench.suites import load_suite
    from curbench.boards.check import suite_problems

    root = tmp_path / "leaderboards"
    shutil.copytree(REPO / "leaderboards" / "digits", root / "digits")
    records_dir = root / "digits" / board.RECORDS_DIR
    suite = load_suite(REPO / "configs" / "digits.yaml")
    assert suite_problems(board.load_records(records_dir), suite, root / "digits") == []
    toy = next((REPO / "leaderboards" / "toy" / board.RECORDS_DIR).glob("*.json"))
    shutil.copy(toy, records_dir / toy.name)
    deleted = sorted(records_dir.glob("*.json"))[0]
    deleted.unlink()
    edited = json.loads(sorted(records_dir.glob("*.json"))[1].read_text())
    del edited["metrics"]["fid"]
    edited["directions"] = [pair for pair in edited["directions"] if pair[0] != "fid"]
    (records_dir / f"{edited['cell_id']}.json").write_text(json.dumps(edited))
    problems = suite_problems(board.load_records(records_dir), suite, root / "digits")
    assert any(toy.stem in line and "foreign" in line and "dataset is 'toy'" in line for line in problems)
    assert any(f"no record of the suite's cell {deleted.stem}" in line for line in problems)
    assert any("has fid in only some of its" in line for line in problems)
    assert len(problems) == 3


def test_a_suite_in_progress_shows_its_progress_and_is_graded_only_once_complete(tmp_path):
    """A sweep published cell by cell: missing cells are expected until the grid is complete, and only then."""
    from curbench.bench.suites import load_suite, missing_cells
    from curbench.boards import findings
    from curbench.boards.check import suite_problems

    root, configs = tmp_path / "leaderboards", tmp_path / "configs"
    shutil.copytree(REPO / "leaderboards" / "digits", root / "digits")
    configs.mkdir()
    (configs / "digits.yaml").write_text((REPO / "configs" / "digits.yaml").read_text() + "in_progress: true\n")
    suite = load_suite(configs / "digits.yaml")
    records_dir = root / "digits" / board.RECORDS_DIR
    complete = suite_problems(board.load_records(records_dir), suite, root / "digits")
    assert len(complete) == 1 and "every cell of the grid is recorded" in complete[0] and "in_progress: true" in complete[0]

    for path in sorted(records_dir.glob("*.json"))[:3]:
        path.unlink()
    records = board.load_records(records_dir)
    assert suite_problems(records, suite, root / "digits") == []
    total = len(missing_cells(suite, []))
    assert len(missing_cells(suite, records)) == 3 and total == len(list((REPO / "leaderboards" / "digits" / board.RECORDS_DIR).glob("*.json")))
    page = board.render_track("digits", records, suite)[board.PAGE_FILE]
    assert f"**In progress:** {total - 3} of {total} cells of the suite are recorded" in page
    graded = [f for f in findings.findings(root, configs) if f.track == "digits"]
    assert graded and all(f.verdict == "in progress" and f"{total - 3} of {total} cells recorded" in f.evidence for f in graded)
    # Without the mark, the same records are graded (the suite's own file is not in this configs folder).
    assert all(f.verdict != "in progress" for f in findings.findings(root, tmp_path / "no-configs") if f.track == "digits")

    # A method cell finished before its seed's full-data cell: steps to the full-data FID is not known for that
    # seed yet, which is progress, not a row uneven in its own metrics.
    full_data = next(path for path in sorted(records_dir.glob("*.json"))
                     if json.loads(path.read_text())["config"]["retention"] == 100
                     and json.loads(path.read_text())["config"]["scorer"] == "random")
    full_data.unlink()
    assert suite_problems(board.load_records(records_dir), suite, root / "digits") == []

    # --drift leaves it alone: its tolerances need every seed, and its ci_slice may not be published yet.
    app = typer.Typer()
    app.command()(leaderboard)
    board.write_track(root, "digits", configs)
    result = CliRunner().invoke(app, ["--check", "--drift", "--track", "digits", "--root", str(root), "--configs",
                                      str(configs), "--readme", str(tmp_path / "none.md"), "--findings", str(tmp_path / "docs"),
                                      "--html", str(tmp_path / "site")])
    assert "digits: in progress, not rerun by --drift until its grid is complete" in result.output
    assert "curbench-drift" not in result.output and not (tmp_path / "runs").exists()
