"""Reference rows, steps-to-target, the capacity analysis and the generated findings page, on synthetic records."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from typer.testing import CliRunner

from curbench import boards as board
from curbench.bench.evaluation import declared_directions
from curbench.bench.records import Provenance, ResultRecord, Selection, cell_id
from curbench.bench.sweep import publish
from curbench.boards import findings
from curbench.boards.capacity import capacity_frame, gain_trend, gains
from curbench.cli import app
from curbench.config import DEFAULT_METRICS, RunConfig
from curbench.plugins import load_registry

DIRECTIONS = declared_directions(load_registry(), DEFAULT_METRICS)

BASE = RunConfig(dataset="digits", generator="dcgan", generator_options={"steps": 100}, eval_every=50)
PROVENANCE = Provenance("0.1.0", {}, None, "3.11", "cpu", 1.0, "2026-01-01T00:00:00+00:00")


def record(config: RunConfig, fid: float, *, precision: float = 0.5, curve: list | None = None,
           references: dict | None = None, parameters: int = 0) -> ResultRecord:
    cell = config.cell()
    kept = 1800 if config.retention == 100 else 900
    return ResultRecord(
        cell_id=cell_id(cell), config=cell,
        metrics={"fid": fid, "precision": precision, "recall": 1 - precision, "n_fake": 1800, "n_real": 1800},
        selection=Selection(1800, kept, "hash", {}), sampling={}, audit={}, provenance=PROVENANCE, directions=DIRECTIONS,
        references=references or {}, curve=curve or [], model={"generator_parameters": parameters} if parameters else {},
    )


def test_reference_rows_sit_beside_their_generator_rows_and_kept_rows_are_tested_against_random_kept():
    kept_fid = {"random": [0.2, 0.25, 0.22], "knn": [3.0, 3.2, 2.9], "gaussian": [2.0, 2.1, 2.2]}
    records = [record(BASE.replace(scorer="random", retention=100.0, seed=s), 10.0 + s,
                      references={"real": {"fid": 0.7 + s / 10, "n_real": 900, "n_fake": 897}}) for s in range(3)]
    for scorer in ("random", "knn", "gaussian"):
        records += [record(BASE.replace(scorer=scorer, retention=50.0, seed=s), 12.0 + s,
                           references={"kept": {"fid": kept_fid[scorer][s], "n_fake": 900}}) for s in range(3)]
    rows = board.group_rows(records)
    assert [(r.role, r.config["scorer"]) for r in rows] == [
        ("full", "random"), ("real", "random"), ("random", "random"), ("kept", "random"),
        ("method", "gaussian"), ("kept", "gaussian"), ("method", "knn"), ("kept", "knn")]
    shown, numbers = board.results_frames(rows)
    assert list(shown["row"])[:2] == ["full data", "real data (split half)"] and shown["kept"][1] == "—"
    assert shown["samples real/fake"][1] == "900/897"
    kept_knn = numbers.iloc[7]
    expected_p = stats.ttest_ind(kept_fid["knn"], kept_fid["random"], equal_var=False).pvalue
    assert kept_knn["fid_p_vs_baseline"] == pytest.approx(expected_p, rel=1e-9) and kept_knn["fid_mark"] == "▼"
    assert kept_knn["fid_mean"] == pytest.approx(np.mean(kept_fid["knn"]))
    assert [r.role for r in board.generator_rows(rows)] == ["full", "random", "method", "method"]


def test_steps_to_full_fid_is_the_first_curve_step_at_or_below_the_same_seeds_full_data_fid():
    def curve(*fids):
        return [{"step": 50 * (i + 1), "fid": f} for i, f in enumerate(fids)]

    records = [
        record(BASE.replace(scorer="random", retention=100.0, seed=0), 10.0, curve=curve(30, 12, 10)),
        record(BASE.replace(scorer="random", retention=100.0, seed=1), 20.0, curve=curve(25, 19, 20)),
        record(BASE.replace(scorer="knn", retention=50.0, seed=0), 9.0, curve=curve(9.5, 9, 9)),  # 9.5 <= 10 at 50
        record(BASE.replace(scorer="knn", retention=50.0, seed=1), 21.0, curve=curve(40, 30, 21)),  # never <= 20
    ]
    derived = {(r.config["scorer"], r.config["seed"]): r.metrics[board.STEPS_TO_FULL_FID] for r in board.with_steps_to_full_fid(records)}
    assert derived[("random", 0)] == 150 and derived[("random", 1)] == 100 and derived[("knn", 0)] == 50
    assert derived[("knn", 1)] == 150 + 50  # never reached: censored one interval past the last step
    shown, numbers = board.results_frames(board.group_rows(records))
    assert shown.set_index("scorer").loc["knn", "steps to full-data FID ↓"].endswith("(1/2 reached)")
    assert numbers.set_index("scorer").loc["knn", "steps_to_full_fid_mean"] == 125


def _capacity_records(widths: dict[int, tuple[list[float], list[float]]]) -> list[ResultRecord]:
    records = []
    for width, (full, knn) in widths.items():
        config = BASE.replace(generator_options={"steps": 100, "width": width})
        for seed in range(len(full)):
            records.append(record(config.replace(scorer="random", retention=100.0, seed=seed), full[seed], parameters=width**2))
            records.append(record(config.replace(scorer="knn", retention=50.0, seed=seed), knn[seed], parameters=width**2))
    return records


def test_capacity_gains_are_paired_by_seed_and_the_trend_is_a_welch_test():
    data = {8: ([30.0, 32.0, 31.0, 35.0], [20.0, 23.0, 21.0, 24.0]), 32: ([10.0, 11.0, 9.0, 10.5], [10.5, 10.0, 9.5, 10.0])}
    rows = board.group_rows(_capacity_records(data))
    found = {g.generator_parameters: g for g in gains(rows)}
    for width, (full, knn) in data.items():
        paired = np.subtract(full, knn)
        assert found[width**2].gains == tuple(paired)
        assert found[width**2].p_value == pytest.approx(stats.ttest_ind(knn, full, equal_var=False).pvalue, rel=1e-9)
        low, high = stats.t.interval(0.95, len(paired) - 1, loc=paired.mean(), scale=stats.sem(paired))
        line = capacity_frame(rows).set_index("generator_parameters").loc[width**2]
        assert line["gain_ci95"] == pytest.approx((high - low) / 2, rel=1e-9)
    (trend,) = gain_trend(rows)
    expected = stats.ttest_ind(found[64].gains, found[1024].gains, equal_var=False).pvalue
    assert trend.grows and f"{expected:.2g}" in trend.text
    assert capacity_frame(board.group_rows(_capacity_records({8: data[8]}))).empty  # one size: no analysis


def _digits_track(root: Path, method_fid: float) -> None:
    records = []
    for seed, noise in enumerate([0.0, 0.3, -0.2, 0.1, -0.1]):
        records.append(record(BASE.replace(scorer="random", retention=100.0, seed=seed), 10.0 + noise, precision=0.8))
        records.append(record(BASE.replace(scorer="random", retention=50.0, seed=seed), 10.1 - noise, precision=0.8 + noise / 20))
        for scorer in findings.DENSITY_SCORERS:
            records.append(record(BASE.replace(scorer=scorer, retention=50.0, seed=seed), method_fid + noise,
                                  precision=0.95 + noise / 10))
    publish(records, root / "digits" / board.RECORDS_DIR)


def _verdicts(root: Path) -> dict[str, str]:
    return {f.claim: f.verdict for f in findings.findings(root)}


def test_verdicts_follow_the_welch_tests_and_say_what_was_not_run(tmp_path):
    _digits_track(tmp_path / "better", method_fid=7.0)
    verdicts = _verdicts(tmp_path / "better")
    beats, random_same, pr = (spec.claim for spec in findings.CLAIMS[:3])
    assert verdicts[beats] == findings.HOLDS and verdicts[random_same] == findings.HOLDS
    assert verdicts[pr] == findings.HOLDS  # precision up, recall (= 1 - precision) down
    capacity = next(spec.claim for spec in findings.CLAIMS if spec.track == "digits-capacity")
    assert verdicts[capacity] == findings.MISSING
    gpu = [f for f in findings.findings(tmp_path / "better") if f.track in ("cifar10", "imagenet64")]
    assert gpu and all(f.verdict == findings.NOT_RUN for f in gpu)

    _digits_track(tmp_path / "same", method_fid=10.0)
    assert _verdicts(tmp_path / "same")[beats] == findings.FAILS


def test_the_cli_writes_the_findings_page_and_check_catches_a_stale_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _digits_track(tmp_path / "leaderboards", method_fid=7.0)
    runner = CliRunner()
    written = runner.invoke(app, ["leaderboard", "--readme", "none.md", "-q"])
    assert written.exit_code == 0, written.output
    page = (tmp_path / "docs" / "findings.md").read_text()
    assert "**holds**" in page and "GPU track only (not run)" in page
    assert runner.invoke(app, ["leaderboard", "--check", "--readme", "none.md"]).exit_code == 0
    (tmp_path / "docs" / "findings.md").write_text(page.replace("**holds**", "**does not hold at this scale**", 1))
    stale = runner.invoke(app, ["leaderboard", "--check", "--readme", "none.md"])
    assert stale.exit_code != 0 and "findings.md: differs" in stale.output


def test_capacity_claims_read_the_control_and_the_smallest_generator(tmp_path):
    data = {8: ([30.0, 32.0, 31.0, 35.0], [20.0, 23.0, 21.0, 24.0]), 32: ([10.0, 11.0, 9.0, 10.5], [10.5, 10.0, 9.5, 10.0])}
    records = _capacity_records(data)
    random_fids = {8: [29.0, 31.0, 30.0, 33.0], 32: [10.2, 10.9, 9.4, 10.1]}  # less data alone: no gain
    for width, fids in random_fids.items():
        config = BASE.replace(generator_options={"steps": 100, "width": width}, scorer="random", retention=50.0)
        records += [record(config.replace(seed=seed), fid, parameters=width**2) for seed, fid in enumerate(fids)]
    publish(records, tmp_path / "digits-capacity" / board.RECORDS_DIR)
    verdicts = {f.claim: f for f in findings.findings(tmp_path) if f.track == "digits-capacity"}
    grows, beyond = (spec.claim for spec in findings.CLAIMS if spec.track == "digits-capacity")
    assert verdicts[grows].verdict == findings.HOLDS and "(the control)" in verdicts[grows].evidence
    assert verdicts[beyond].verdict == findings.HOLDS and "(64 parameters)" in verdicts[beyond].evidence
    expected = stats.ttest_ind(data[8][1], random_fids[8], equal_var=False).pvalue
    assert f"p = {expected:.2g}" in verdicts[beyond].evidence
