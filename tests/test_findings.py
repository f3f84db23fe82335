"""Reference rows, steps-to-target, the capacity analysis and the findings page, on synthetic records whose right
verdict is known by construction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

from curbench import boards as board
from curbench.bench.evaluation import declared_directions
from curbench.bench.records import Provenance, ResultRecord, Selection, cell_id
from curbench.bench.sweep import publish
from curbench.boards import claims, findings, verdicts
from curbench.boards import rows as rows_module
from curbench.boards.capacity import capacity_frame, gain_trend, gains
from curbench.boards.learned import NOT_LEARNED
from curbench.cli import app
from curbench.config import DEFAULT_METRICS, RunConfig
from curbench.plugins import load_registry

DIRECTIONS = declared_directions(load_registry(), [*DEFAULT_METRICS, "loglik"])

BASE = RunConfig(dataset="digits", generator="dcgan", generator_options={"steps": 100}, eval_every=50)
PROVENANCE = Provenance("0.1.0", {}, None, "3.11", "cpu", 1.0, "2026-01-01T00:00:00+00:00")


def record(config: RunConfig, fid: float, *, precision: float = 0.5, curve: list | None = None,
           references: dict | None = None, parameters: int = 0, audit: dict | None = None,
           extra: dict | None = None) -> ResultRecord:
    cell = config.cell()
    kept = 1800 if config.retention == 100 else 900
    return ResultRecord(
        cell_id=cell_id(cell), config=cell,
        metrics={"fid": fid, "precision": precision, "recall": 1 - precision, "n_fake": 1800, "n_real": 1800,
                 **(extra or {})},
        selection=Selection(1800, kept, "hash", {}), sampling={}, audit=audit or {}, provenance=PROVENANCE, directions=DIRECTIONS,
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
    assert list(shown["row"])[:2] == ["full data", "real data (ceiling)"] and shown["kept"][1] == "—"
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
    # Survival data: the Kaplan-Meier median (S falls to 1/2 at the first event of two), never the mean 125.
    assert shown.set_index("scorer").loc["knn", "steps to full-data FID ↓"] == "median 50 (1/2 reached)"
    knn = numbers.set_index("scorer").loc["knn"]
    assert knn["steps_to_full_fid_median"] == 50 and knn["steps_to_full_fid_reached"] == 1
    assert "steps_to_full_fid_mean" not in numbers.columns


def _capacity_records(widths: dict[int, tuple[list[float], list[float]]]) -> list[ResultRecord]:
    records = []
    for width, (full, knn) in widths.items():
        config = BASE.replace(generator_options={"steps": 100, "width": width})
        for seed in range(len(full)):
            records.append(record(config.replace(scorer="random", retention=100.0, seed=seed), full[seed], parameters=width**2))
            records.append(record(config.replace(scorer="knn", retention=50.0, seed=seed), knn[seed], parameters=width**2))
    return records


def test_capacity_gains_are_paired_by_seed_and_the_trend_is_the_interaction_with_the_random_control():
    data = {8: ([30.0, 32.0, 31.0, 35.0], [20.0, 23.0, 21.0, 24.0]), 32: ([10.0, 11.0, 9.0, 10.5], [10.5, 10.0, 9.5, 10.0])}
    random = {8: [26.0, 27.5, 25.0, 29.0], 32: [10.0, 10.4, 9.1, 10.2]}
    records = _capacity_records(data)
    for width, fids in random.items():
        config = BASE.replace(generator_options={"steps": 100, "width": width}, scorer="random", retention=50.0)
        records += [record(config.replace(seed=seed), fid, parameters=width**2) for seed, fid in enumerate(fids)]
    rows = board.group_rows(records)
    found = {g.generator_parameters: g for g in gains(rows) if g.method == "knn"}
    for width, (full, knn) in data.items():
        paired = np.subtract(full, knn)
        assert found[width**2].gains == tuple(paired)
        assert found[width**2].p_value == pytest.approx(stats.ttest_ind(knn, full, equal_var=False).pvalue, rel=1e-9)
        low, high = stats.t.interval(0.95, len(paired) - 1, loc=paired.mean(), scale=stats.sem(paired))
        line = capacity_frame(rows).set_index(["method", "generator_parameters"]).loc[("knn", width**2)]
        assert line["gain_ci95"] == pytest.approx((high - low) / 2, rel=1e-9)
    (trend,) = gain_trend(rows)
    x = np.log([64.0] * 4 + [1024.0] * 4)
    advantage = np.subtract(random[8], data[8][1]).tolist() + np.subtract(random[32], data[32][1]).tolist()
    expected = stats.linregress(x, advantage)
    assert trend.grows == (expected.slope < 0 and expected.pvalue < 0.05) and f"p = {expected.pvalue:.2g}" in trend.text
    assert capacity_frame(board.group_rows(_capacity_records({8: data[8]}))).empty  # one size: no analysis


def _track(root: Path, track: str, cells: dict[tuple[str, float], list[float]], *, precision: dict | None = None,
           config: RunConfig = BASE) -> None:
    """One record per (scorer, retention) and seed; FIDs (and optionally precisions) listed by seed."""
    records = []
    for (scorer, retention), fids in cells.items():
        shown = (precision or {}).get((scorer, retention), [0.5] * len(fids))
        records += [record(config.replace(scorer=scorer, retention=retention, seed=seed), fid, precision=shown[seed])
                    for seed, fid in enumerate(fids)]
    publish(records, root / track / board.RECORDS_DIR)


def _found(root: Path) -> dict[tuple[str, str], verdicts.Finding]:
    """The findings of synthetic records, graded whatever the repository's suites say (no configs folder)."""
    return {(f.track, f.claim): f for f in findings.findings(root, root / "no-configs")}


def _claim(track: str, test) -> str:
    return next(spec.claim for spec in claims.CLAIMS if spec.track == track and spec.test is test)


BEATS_FULL = next(spec.claim for spec in claims.CLAIMS if spec.track == "digits" and spec.claim.endswith("full data on FID."))
RANDOM_SAME = _claim("digits", claims._random_matches_full)


def test_an_equivalence_is_supported_only_by_tost_with_enough_seeds(tmp_path):
    rng = np.random.default_rng(0)
    full = 10.0 + rng.normal(0.0, 1.0, 40)
    _track(tmp_path / "many", "digits", {("random", 100.0): list(full),
                                         ("random", 50.0): list(full + rng.normal(0.0, 0.05, 40))})
    same = _found(tmp_path / "many")[("digits", RANDOM_SAME)]
    assert same.verdict == verdicts.SUPPORTED
    (part,) = same.tested.parts
    assert part.difference.name == "paired t" and part.equivalence.name == f"TOST ±{0.1 * full.mean():.4g}"
    # Three seeds with a difference well inside its noise: not significant, and TOST cannot show equivalence either.
    _track(tmp_path / "few", "digits", {("random", 100.0): [10.0, 11.0, 9.0], ("random", 50.0): [10.5, 10.2, 9.9]})
    assert _found(tmp_path / "few")[("digits", RANDOM_SAME)].verdict == verdicts.INCONCLUSIVE


@pytest.mark.parametrize(("shift", "expected"), [(-3.0, verdicts.SUPPORTED), (3.0, verdicts.CONTRADICTED),
                                                 (0.0, verdicts.CONTRADICTED)])
def test_a_superiority_claim_by_direction_and_equivalence(tmp_path, shift, expected):
    # Lower FID is better: -3 is the claimed gain, +3 the opposite significant effect, 0 (within the margin of 1 FID,
    # 40 seeds) an equivalence that rules the claimed gain out.
    rng = np.random.default_rng(1)
    full = 10.0 + rng.normal(0.0, 1.0, 40)
    cells = {("random", 100.0): list(full)}
    cells.update({(scorer, 50.0): list(full + shift + rng.normal(0.0, 0.1, 40)) for scorer in verdicts.DENSITY_SCORERS})
    _track(tmp_path, "digits", cells)
    finding = _found(tmp_path)[("digits", BEATS_FULL)]
    assert finding.verdict == expected
    assert all(part.outcome() == expected for part in finding.tested.parts)


def test_one_contradicted_scorer_contradicts_an_every_scorer_claim_and_small_n_stays_inconclusive(tmp_path):
    rng = np.random.default_rng(2)
    full = 10.0 + rng.normal(0.0, 1.0, 30)
    cells = {("random", 100.0): list(full), ("gaussian", 50.0): list(full - 3 + rng.normal(0, 0.1, 30)),
             ("ppca", 50.0): list(full - 3 + rng.normal(0, 0.1, 30)), ("knn", 50.0): list(full + 3 + rng.normal(0, 0.1, 30))}
    _track(tmp_path / "mixed", "digits", cells)
    finding = _found(tmp_path / "mixed")[("digits", BEATS_FULL)]
    assert [p.outcome() for p in finding.tested.parts] == [verdicts.SUPPORTED, verdicts.SUPPORTED, verdicts.CONTRADICTED]
    assert finding.verdict == verdicts.CONTRADICTED and "knn: " in finding.evidence
    small = {key: values[:2] for key, values in cells.items()}  # two seeds: a t-test with 1 dof
    _track(tmp_path / "small", "digits", small)
    assert _found(tmp_path / "small")[("digits", BEATS_FULL)].verdict == verdicts.INCONCLUSIVE


def test_holm_runs_over_every_p_value_on_the_page(tmp_path):
    rng = np.random.default_rng(3)
    full = 10.0 + rng.normal(0.0, 1.0, 5)
    _track(tmp_path, "digits", {("random", 100.0): list(full), ("random", 50.0): list(full + 0.5 + rng.normal(0, 0.3, 5)),
                                **{(s, 50.0): list(full - 1.0 + rng.normal(0, 0.5, 5)) for s in verdicts.DENSITY_SCORERS}})
    found = findings.findings(tmp_path, tmp_path / "no-configs")
    tests = [test for f in found for part in f.tested.parts for test in part.tests if np.isfinite(test.p)]
    raw = np.array([test.p for test in tests])
    order = np.argsort(raw)
    # Holm by hand: the k-th smallest p times (m - k), made monotone, capped at 1.
    expected = np.minimum(1.0, np.maximum.accumulate(raw[order] * (len(raw) - np.arange(len(raw)))))
    assert [tests[i].holm for i in order] == pytest.approx(expected, rel=1e-12)
    assert any(test.p < 0.05 <= test.holm for test in tests)  # significant alone, not on this page


def _curve(*fids: float, every: int = 50) -> list[dict]:
    return [{"step": every * (i + 1), "fid": f} for i, f in enumerate(fids)]


@pytest.mark.parametrize("every", [50, 500])
def test_censored_steps_never_enter_a_mean(tmp_path, every):
    base = BASE.replace(eval_every=every)
    records = []
    for seed in range(5):
        records.append(record(base.replace(scorer="random", retention=100.0, seed=seed), 10.0, curve=_curve(30, 20, 10, every=every)))
        # Three seeds reach the full-data FID at the first evaluation; two never do (censored).
        method = _curve(9, 9, 9, every=every) if seed < 3 else _curve(40, 30, 20, every=every)
        for scorer in verdicts.DENSITY_SCORERS:
            records.append(record(base.replace(scorer=scorer, retention=50.0, seed=seed), 9.0, curve=method))
    publish(records, tmp_path / "digits" / board.RECORDS_DIR)
    finding = _found(tmp_path)[("digits", _claim("digits", claims._converges_faster))]
    # KM: S drops to 2/5 at the first evaluation, so the median is that step whatever the censoring time is;
    # a mean with censored seeds at one interval past the end would be (3·1 + 2·4)/5 = 2.2 intervals.
    assert f"KM median {every} steps (3/5 reached) vs full data {3 * every} steps (5/5 reached)" in finding.evidence
    assert format(2.2 * every, "g") not in finding.evidence
    reference = stats.logrank(stats.CensoredData(uncensored=[every] * 3, right=[4 * every] * 2),
                              stats.CensoredData(uncensored=[3 * every] * 5))
    part = finding.tested.parts[0]
    assert part.difference.name == "log-rank" and part.difference.p == pytest.approx(reference.pvalue, rel=1e-12)
    assert reference.statistic > 0 and part.toward is True  # the method reaches the target earlier


def _capacity_track(root: Path, advantage: dict[int, float], seeds: int = 10) -> None:
    """Full data, the random subset and knn per generator width; knn beats its random subset by ``advantage``."""
    rng = np.random.default_rng(4)
    records = []
    for width, gain in advantage.items():
        config = BASE.replace(generator_options={"steps": 100, "width": width})
        for seed in range(seeds):
            # Less data helps the small generators too (the control's trend), whatever the method adds to it.
            random = 30.0 - width / 2 + rng.normal(0.0, 0.5)
            records += [
                record(config.replace(scorer="random", retention=100.0, seed=seed), random + 40 / width, parameters=width**2),
                record(config.replace(scorer="random", retention=50.0, seed=seed), random, parameters=width**2),
                record(config.replace(scorer="knn", retention=50.0, seed=seed), random - gain + rng.normal(0.0, 0.3),
                       parameters=width**2),
            ]
    publish(records, root / "digits-capacity" / board.RECORDS_DIR)


def test_the_capacity_claim_is_the_interaction_with_the_random_control(tmp_path):
    claim = _claim("digits-capacity", claims._capacity)
    _capacity_track(tmp_path / "grows", {8: 6.0, 16: 3.0, 32: 0.0})
    finding = _found(tmp_path / "grows")[("digits-capacity", claim)]
    assert finding.verdict == verdicts.SUPPORTED and finding.tested.parts[0].difference.name == "interaction slope"
    assert finding.tested.parts[0].effect.startswith("-")  # the advantage falls as parameters rise
    # Selection adds a constant 2 FID at every size: the gain over full data still grows as capacity shrinks
    # (the control's trend), but the interaction is flat, so nothing supports the mechanism.
    _capacity_track(tmp_path / "flat", {8: 2.0, 16: 2.0, 32: 2.0})
    assert _found(tmp_path / "flat")[("digits-capacity", claim)].verdict == verdicts.INCONCLUSIVE
    _capacity_track(tmp_path / "shrinks", {8: 0.0, 16: 3.0, 32: 6.0})
    assert _found(tmp_path / "shrinks")[("digits-capacity", claim)].verdict == verdicts.CONTRADICTED


def test_lower_capacity_requirement_is_an_equivalence_with_the_largest_full_data_generator(tmp_path):
    _capacity_track(tmp_path, {8: 6.0, 16: 3.0, 32: 0.0})
    finding = _found(tmp_path)[("digits-capacity", _claim("digits-capacity", claims._lowers_capacity))]
    knn, control = finding.tested.parts
    assert knn.kind == verdicts.SAME and not control.decides and "at 64 parameters" in knn.numbers
    assert "full data at 1,024 parameters" in knn.numbers


def _shares(generated: float) -> dict:
    return {"shares": {"minority": {"generated": {"1": generated}, "full": {"1": 0.05}},
                       "class": {"generated": {"8": generated}, "full": {"8": 0.05}}}}


@pytest.mark.parametrize(("shift", "expected", "words"), [
    (0.0, verdicts.SUPPORTED, "lower than the data"), (-0.02, verdicts.CONTRADICTED, "amplifies the bias"),
    (0.02, verdicts.CONTRADICTED, "reduces the bias")])
def test_the_bias_claim_is_two_sided(tmp_path, shift, expected, words):
    rng = np.random.default_rng(5)
    config = BASE.replace(dataset_options={"minority_class": 8}, scorer="random", retention=100.0)
    shares = 0.05 + shift - np.abs(rng.normal(0.0, 0.001, 30))  # always a little below: "lower" even when equivalent
    publish([record(config.replace(seed=seed), 10.0, audit=_shares(share)) for seed, share in enumerate(shares)],
            tmp_path / "digits-minority" / board.RECORDS_DIR)
    finding = _found(tmp_path)[("digits-minority", _claim("digits-minority", claims._replicates_bias))]
    assert finding.verdict == expected and words in finding.evidence
    assert [part.label for part in finding.tested.parts] == ["2-class minority classifier", "10-class classifier, class 8"]


def test_scorers_differ_when_any_pair_does(tmp_path):
    rng = np.random.default_rng(6)
    full = 10.0 + rng.normal(0.0, 1.0, 30)
    cells = {("random", 100.0): list(full), ("gaussian", 50.0): list(full + rng.normal(0, 0.05, 30)),
             ("ppca", 50.0): list(full + rng.normal(0, 0.05, 30)), ("knn", 50.0): list(full + 4 + rng.normal(0, 0.05, 30))}
    _track(tmp_path / "one", "digits", cells)
    claim = _claim("digits", claims._scorers_differ)
    assert _found(tmp_path / "one")[("digits", claim)].verdict == verdicts.SUPPORTED
    cells[("knn", 50.0)] = list(full + rng.normal(0, 0.05, 30))
    _track(tmp_path / "none", "digits", cells)
    assert _found(tmp_path / "none")[("digits", claim)].verdict == verdicts.CONTRADICTED  # all pairs equivalent


def test_dose_response_is_a_slope_over_retention(tmp_path):
    rng = np.random.default_rng(7)
    cells = {("random", 100.0): list(10 + rng.normal(0, 0.3, 6))}
    for retention in (20.0, 50.0, 75.0):
        cells.update({(s, retention): list(10 + (100 - retention) / 10 + rng.normal(0, 0.3, 6)) for s in verdicts.DENSITY_SCORERS})
    _track(tmp_path, "digits", cells)
    finding = _found(tmp_path)[("digits", _claim("digits", claims._dose_response))]
    x = [100.0] * 6 + [r for r in (20.0, 50.0, 75.0) for _ in range(6)]
    y = cells[("random", 100.0)] + [v for r in (20.0, 50.0, 75.0) for v in cells[("gaussian", r)]]
    fit = stats.linregress(x, y)
    part = finding.tested.parts[0]
    assert part.difference.p == pytest.approx(fit.pvalue, rel=1e-9) and part.n == 24
    assert finding.verdict == verdicts.SUPPORTED
    assert part.numbers.endswith("; FID rises as retention falls")  # the slope on retention is negative


def _retention_track(root: Path, method_trend: float, random_trend: float, seeds: int) -> dict:
    """knn and random subsets at retentions 90, 70, 50, 30 whose FID rises by the given amount per point removed."""
    rng = np.random.default_rng(11)
    base = 10 + rng.normal(0, 1.0, seeds)  # a seed's generator is better or worse at every retention alike
    cells = {("random", 100.0): list(base + rng.normal(0, 0.1, seeds))}
    for retention in (90.0, 70.0, 50.0, 30.0):
        removed = 100 - retention
        cells[("knn", retention)] = list(base + method_trend * removed + rng.normal(0, 0.1, seeds))
        cells[("random", retention)] = list(base + random_trend * removed + rng.normal(0, 0.1, seeds))
    _track(root, "glyphs-retention", cells)
    return cells


def test_dose_response_beyond_random_is_the_slope_of_the_per_seed_gap(tmp_path):
    cells = _retention_track(tmp_path, method_trend=0.3, random_trend=0.02, seeds=5)
    claim = _claim("glyphs-retention", claims._dose_response_beyond_random)
    finding = _found(tmp_path)[("glyphs-retention", claim)]
    retentions = (90.0, 70.0, 50.0, 30.0)
    x = [r for r in retentions for _ in range(5)]
    gaps = [k - r for ret in retentions for k, r in zip(cells[("knn", ret)], cells[("random", ret)], strict=True)]
    interaction, control = finding.tested.parts
    assert interaction.difference.p == pytest.approx(stats.linregress(x, gaps).pvalue, rel=1e-9) and interaction.n == 20
    random_x = [100.0] * 5 + x
    random_y = cells[("random", 100.0)] + [v for ret in retentions for v in cells[("random", ret)]]
    assert control.difference.p == pytest.approx(stats.linregress(random_x, random_y).pvalue, rel=1e-9)
    assert not control.decides and finding.verdict == verdicts.SUPPORTED
    assert interaction.numbers.endswith("; the gap rises as retention falls")


def test_a_dose_response_where_keeping_less_helps_says_fid_falls(tmp_path):
    _retention_track(tmp_path, method_trend=-0.05, random_trend=0.0, seeds=5)  # knn gets better as it keeps less
    trend = _found(tmp_path)[("glyphs-retention", _claim("glyphs-retention", claims._dose_response))].tested.parts[0]
    assert trend.numbers.endswith("; FID falls as retention falls")


def test_a_trend_the_random_subset_shares_is_no_dose_response_beyond_random(tmp_path):
    # Both subsets worsen alike as retention falls: the method's own trend is steep, the gap is flat.
    _retention_track(tmp_path, method_trend=0.3, random_trend=0.3, seeds=10)
    found = _found(tmp_path)
    assert found[("glyphs-retention", _claim("glyphs-retention", claims._dose_response))].verdict == verdicts.SUPPORTED
    beyond = found[("glyphs-retention", _claim("glyphs-retention", claims._dose_response_beyond_random))]
    assert beyond.verdict == verdicts.CONTRADICTED
    assert "as retention falls" not in beyond.tested.parts[0].numbers  # a flat gap has no direction to state


def test_sample_time_rows_get_no_ceiling_row_nor_training_curve_columns_of_their_own():
    # A truncation cell samples the full-data generator: its real-data ceiling and training curve are that cell's.
    curve = [{"step": step, "fid": fid} for step, fid in ((50, 30.0), (100, 12.0), (150, 11.0), (200, 10.0))]
    ceiling = {"real": {"fid": 0.7, "n_real": 900, "n_fake": 900}}
    full = [record(BASE.replace(scorer="random", retention=100.0, seed=s), 10.0, curve=curve, references=ceiling)
            for s in range(3)]
    truncated = [record(BASE.replace(scorer="truncation", stage="sample", retention=100.0, scorer_options={"psi": 0.5},
                                     seed=s), 14.0, curve=curve, references=ceiling) for s in range(3)]
    rows = board.group_rows(full + truncated)
    assert [(r.role, r.config["scorer"]) for r in rows] == [("full", "random"), ("real", "random"), ("method", "truncation")]
    full_row, _, truncation_row = rows
    assert all(rows_module.STEPS_TO_FULL_FID in r.metrics and rows_module.LATE_FID in r.metrics for r in full_row.records)
    assert not any(rows_module.STEPS_TO_FULL_FID in r.metrics or rows_module.LATE_FID in r.metrics for r in truncation_row.records)


def test_truncation_needs_a_row_at_matched_precision(tmp_path):
    claim = _claim("digits", claims._selection_vs_truncation)
    cells = {("random", 100.0): [10.0, 10.5, 9.5], ("knn", 50.0): [8.0, 8.4, 7.6]}
    precision = {("random", 100.0): [0.80] * 3, ("knn", 50.0): [0.95, 0.96, 0.94]}
    _track(tmp_path / "none", "digits", cells, precision=precision)
    assert _found(tmp_path / "none")[("digits", claim)].verdict == verdicts.MISSING
    sampled = BASE.replace(scorer="truncation", stage="sample", scorer_options={"psi": 0.5})
    for psi_precision, path in ((0.85, "far"), (0.95, "matched")):
        _track(tmp_path / path, "digits", cells, precision=precision)
        publish([record(sampled.replace(seed=seed), fid, precision=psi_precision) for seed, fid in enumerate([9.0, 9.2, 9.4])],
                tmp_path / path / "digits" / board.RECORDS_DIR)
    far = _found(tmp_path / "far")[("digits", claim)]
    assert far.verdict == verdicts.MISSING and "0.85" in far.evidence
    (part,) = _found(tmp_path / "matched")[("digits", claim)].tested.parts
    assert part.label == "knn 50% vs ψ = 0.5" and part.kind == verdicts.BETTER


def test_influence_is_judged_by_held_out_likelihood_and_outlier_mass_against_random_removal(tmp_path):
    rng = np.random.default_rng(9)
    base = rng.normal(-2.0, 0.3, 12)  # per-seed ALL of random removal
    scores = {"random": (base, 0.05), "influence": (base + 0.4, 0.02), "isolation-forest": (base + 0.4, 0.02)}
    records = []
    for scorer, (all_values, mass) in scores.items():
        for seed in range(12):
            noise = rng.normal(0.0, 0.01)
            records.append(record(BASE.replace(scorer=scorer, retention=95.0, seed=seed), 1.0,
                                  extra={"all": all_values[seed] + noise, "outlier_mass": mass + noise / 10}))
    publish(records, tmp_path / "toy-influence" / board.RECORDS_DIR)
    finding = _found(tmp_path)[("toy-influence", _claim("toy-influence", claims._INFLUENCE_ON_POINTS))]
    assert [p.label for p in finding.deciding] == ["all vs random", "outlier_mass vs random"]
    assert finding.verdict == verdicts.SUPPORTED
    contrast = [p for p in finding.tested.parts if not p.decides]
    assert [p.label for p in contrast] == ["all vs Isolation Forest", "outlier_mass vs Isolation Forest"]
    assert contrast[0].equivalence.name == "TOST ±0.05"  # the ALL margin: an equal Isolation Forest is ruled level


def test_tracks_without_records_say_so(tmp_path):
    _track(tmp_path, "digits", {("random", 100.0): [10.0, 11.0]})
    found = findings.findings(tmp_path, tmp_path / "no-configs")
    gpu = [f for f in found if f.track in ("cifar10", "imagenet64")]
    assert gpu and all(f.verdict == verdicts.NOT_RUN for f in gpu)
    glyphs = [f for f in found if f.track == "glyphs"]
    assert len(glyphs) == 8 and all(f.verdict == verdicts.MISSING and "glyphs/records" in f.evidence for f in glyphs)


def test_the_cli_writes_the_findings_page_and_check_catches_a_stale_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(8)
    full = 10.0 + rng.normal(0.0, 1.0, 30)
    _track(tmp_path / "leaderboards", "digits", {("random", 100.0): list(full),
                                                 ("random", 50.0): list(full + rng.normal(0, 0.05, 30))})
    runner = CliRunner()
    written = runner.invoke(app, ["leaderboard", "--readme", "none.md", "-q"])
    assert written.exit_code == 0, written.output
    page = (tmp_path / "docs" / "findings.md").read_text()
    assert "**supported**" in page and "GPU track only (not run)" in page and "| Holm p | MDE |" in page
    assert "| fid | 10% of the baseline row's mean |" in page
    csv = pd.read_csv(tmp_path / "docs" / "findings.csv")
    assert {"test", "effect", "p", "Holm p", "MDE", "n", "cells"} <= set(csv.columns)
    assert runner.invoke(app, ["leaderboard", "--check", "--readme", "none.md"]).exit_code == 0
    (tmp_path / "docs" / "findings.md").write_text(page.replace("**supported**", "**contradicted**", 1))
    stale = runner.invoke(app, ["leaderboard", "--check", "--readme", "none.md"])
    assert stale.exit_code != 0 and "findings.md: differs" in stale.output


def test_finding_the_atypical_is_a_mann_whitney_test_of_the_auroc(tmp_path):
    from curbench.bench.groundtruth import detection_scores

    rng = np.random.default_rng(5)
    atypical = np.zeros(1800, dtype=bool)
    atypical[:180] = True
    # A full-data generator at half the real data's precision: the claims about generators are not graded, this
    # claim about the scorers alone is.
    ceiling = {"real": {"fid": 1.0, "precision": 0.96, "recall": 0.96, "n_real": 900, "n_fake": 900}}
    records = [record(BASE.replace(scorer="random", retention=100.0, seed=s), 10.0, references=ceiling) for s in range(3)]
    records += [record(BASE.replace(scorer="random", retention=50.0, seed=s), 10.0) for s in range(3)]
    expected = {}
    for scorer, shift in (("knn", 0.3), ("gaussian", 0.0)):
        scores = rng.normal(size=1800) + shift * ~atypical  # knn ranks the atypical lower; gaussian is chance
        detection = detection_scores(scores, atypical)
        expected[scorer] = stats.mannwhitneyu(scores[~atypical], scores[atypical], method="asymptotic",
                                              use_continuity=False).pvalue
        records += [record(BASE.replace(scorer=scorer, retention=50.0, seed=s), 10.0, audit={"detection": detection})
                    for s in range(3)]
    publish(records, tmp_path / "glyphs" / board.RECORDS_DIR)
    finding = _found(tmp_path)[("glyphs", _claim("glyphs", claims._finds_atypical))]
    parts = {part.label: part for part in finding.tested.parts}
    for scorer, p_value in expected.items():
        assert parts[scorer].difference.p == pytest.approx(p_value, rel=1e-9)
    assert parts["knn"].toward and parts["knn"].difference.p < 1e-6
    assert _found(tmp_path)[("glyphs", claims._BEATS_FULL)].verdict == NOT_LEARNED


@pytest.mark.parametrize(("gain", "verdict"), [(2.0, verdicts.SUPPORTED), (0.0, verdicts.CONTRADICTED)])
def test_influence_on_images_is_judged_by_fid_paired_by_seed_against_random_removal(tmp_path, gain, verdict):
    rng = np.random.default_rng(11)
    random_fid = rng.normal(10.0, 1.0, 10)
    influence_fid = random_fid - gain + rng.normal(0.0, 0.3, 10)  # paired: the seed noise cancels
    records = [record(BASE.replace(scorer=scorer, retention=95.0, seed=seed), float(fid))
               for scorer, values in (("random", random_fid), ("influence", influence_fid)) for seed, fid in enumerate(values)]
    publish(records, tmp_path / "digits-influence" / board.RECORDS_DIR)
    finding = _found(tmp_path)[("digits-influence", _claim("digits-influence", claims._INFLUENCE_ON_IMAGES))]
    (part,) = finding.deciding
    assert part.label == "fid vs random" and part.n == 10
    assert part.difference.p == pytest.approx(stats.ttest_rel(influence_fid, random_fid).pvalue, rel=1e-9)
    assert finding.verdict == verdict  # no gain: equivalent within the FID margin, so the claim is contradicted
