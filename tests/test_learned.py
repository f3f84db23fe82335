"""The generator check: a full-data generator against its real-data ceiling, on the board and on the findings page."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from test_findings import BASE, record

from curbench import boards as board
from curbench.bench.records import ResultRecord
from curbench.bench.sweep import publish
from curbench.boards import findings
from curbench.boards.capacity import capacity_frame, collapse_summary
from curbench.boards.learned import FLOORS, NOT_LEARNED, checks_frame, generator_checks, main_check

CEILING = {"precision": 0.96, "coverage": 0.96, "recall": 0.96}


def _full(seed: int, precision: float, recall: float, width: int = 32, parameters: int = 1000) -> ResultRecord:
    config = BASE.replace(scorer="random", retention=100.0, seed=seed, generator_options={"steps": 100, "width": width})
    return record(config, 10.0 + seed, precision=precision, extra={"recall": recall, "coverage": 0.6}, parameters=parameters,
                  references={"real": {"fid": 1.0, **CEILING, "n_real": 900, "n_fake": 900}})


def _method_cells(width: int = 32, parameters: int = 1000) -> list[ResultRecord]:
    config = BASE.replace(generator_options={"steps": 100, "width": width})
    return [record(config.replace(scorer=scorer, retention=50.0, seed=seed), 12.0 + seed + (scorer == "knn"),
                   extra={"coverage": 0.6}, parameters=parameters)
            for scorer in ("random", "knn", "gaussian", "ppca") for seed in range(3)]


def test_the_floors_are_fractions_of_the_ceiling_and_a_missing_metric_counts_short():
    at_floor = FLOORS["precision"] * CEILING["precision"]
    (check,) = generator_checks(board.group_rows([_full(s, at_floor, 0.9) for s in range(3)]))
    assert check.fraction("precision") == pytest.approx(FLOORS["precision"]) and check.learned
    short = FLOORS["recall"] * CEILING["recall"] - 0.01
    (check,) = generator_checks(board.group_rows([_full(s, 0.9, short) for s in range(3)]))
    assert not check.learned and check.short_of == ["recall"]
    assert check.reason == f"recall {short:.3g} vs 0.96 for real data ({short / 0.96:.0%})"
    (check,) = generator_checks(board.group_rows([_full(s, at_floor - 0.01, short) for s in range(3)]))
    assert check.short_of == ["precision", "recall"]
    without = [_full(s, 0.9, 0.9) for s in range(3)]
    for r in without:
        del r.metrics["recall"]
    (check,) = generator_checks(board.group_rows(without))
    assert check.short_of == ["recall"]  # nothing shows that it learned


def test_a_track_whose_full_data_generator_collapsed_is_not_graded(tmp_path: Path):
    publish([_full(s, 0.7, 0.9) for s in range(3)] + _method_cells(), tmp_path / "digits" / board.RECORDS_DIR)
    graded = [f for f in findings.findings(tmp_path, tmp_path / "no-configs") if f.track == "digits"]
    assert graded and all(f.verdict == NOT_LEARNED and not f.tested.parts for f in graded)
    assert "precision 0.7 vs 0.96 for real data (73%)" in graded[0].evidence
    page = findings.render(tmp_path, tmp_path / "no-configs")[findings.FINDINGS_FILE]
    assert "| **no** (precision below 80% of real data) |" in page
    board_page = board.render_track("digits", [*_method_cells(), *(_full(s, 0.7, 0.9) for s in range(3))], None)
    assert "## Has the generator learned the data?" in board_page[board.PAGE_FILE]

    publish([_full(s, 0.9, 0.7) for s in range(3)], tmp_path / "digits" / board.RECORDS_DIR)  # same cells, now learned
    regraded = [f for f in findings.findings(tmp_path, tmp_path / "no-configs") if f.track == "digits"]
    assert all(f.verdict != NOT_LEARNED for f in regraded) and any(f.tested.parts for f in regraded)


def test_a_capacity_track_is_graded_by_its_largest_generator():
    small = [_full(s, 0.9, 0.2, width=8, parameters=100) for s in range(3)] + _method_cells(8, 100)  # recall 21%
    large = [_full(s, 0.9, 0.7, width=32, parameters=1000) for s in range(3)] + _method_cells(32, 1000)
    rows = board.group_rows(small + large)
    assert [check.learned for check in generator_checks(rows)] == [False, True]
    main = main_check(rows)
    assert main is not None and main.parameters == 1000 and main.learned
    page = board.render_track("digits-capacity", small + large, None)[board.PAGE_FILE]
    assert "smaller generators may fall short by design" in page and page.count("| **no** (recall") == 1


def test_what_run_prints_warns_only_about_a_generator_that_failed():
    healthy = board.results_markdown([_full(s, 0.9, 0.7) for s in range(3)])
    collapsed = board.results_markdown([_full(s, 0.9, 0.1) for s in range(3)])  # recall 10% of real data
    assert "has not learned" not in healthy
    assert collapsed.splitlines()[-1].startswith("⚠ The full-data generator dcgan steps=100, width=32 has not learned")
    assert "recall 0.1 vs 0.96 for real data (10%)" in collapsed


def test_full_data_rows_that_differ_beyond_the_generator_are_told_apart():
    records = [_full(s, 0.9, 0.7) for s in range(2)]
    other = [dataclasses.replace(r, config={**r.config, "embedder": "random-cnn"}) for r in records]
    labels = list(checks_frame(generator_checks(board.group_rows(records + other)))["generator"])
    assert labels == ["dcgan steps=100, width=32 · embedder classifier", "dcgan steps=100, width=32 · embedder random-cnn"]


def _capacity_cells(width: int, parameters: int, recalls: dict[str, list[float]]) -> list[ResultRecord]:
    """Full data, the random half and the knn half of one generator size, with the recall of each seed."""
    full = [_full(seed, 0.9, recall, width, parameters) for seed, recall in enumerate(recalls["full"])]
    config = BASE.replace(generator_options={"steps": 100, "width": width}, retention=50.0)
    return full + [record(config.replace(scorer=scorer, seed=seed), 12.0 + seed, extra={"recall": recall},
                          parameters=parameters)
                   for scorer in ("random", "knn") for seed, recall in enumerate(recalls[scorer])]


def test_a_seed_has_collapsed_when_its_own_recall_is_below_the_floor(tmp_path: Path):
    floor = FLOORS["recall"] * CEILING["recall"]
    small = _capacity_cells(8, 100, {"full": [floor - 0.01, floor, 0.9], "random": [0.1, 0.9, 0.9],
                                     "knn": [0.1, 0.2, floor - 1e-9]})
    large = _capacity_cells(32, 1000, {"full": [0.9] * 3, "random": [0.9] * 3, "knn": [0.2, 0.9, 0.9]})
    rows = board.group_rows(small + large)
    collapsed = capacity_frame(rows).set_index(["method", "generator_parameters"])["collapsed seeds"]
    assert collapsed[("knn", 100)] == "3/3 (full data 1/3)" and collapsed[("random subset", 100)] == "1/3 (full data 1/3)"
    assert collapsed[("knn", 1000)] == "1/3 (full data 0/3)" and collapsed[("random subset", 1000)] == "0/3 (full data 0/3)"
    assert collapse_summary(rows) == ("full data 1/3, knn · 50% 3/3, random subset · 50% 1/3 at 100 parameters; "
                                      "knn · 50% 1/3 at 1,000 parameters")
    # Without a real-data ceiling nothing says what collapse is.
    without = [dataclasses.replace(r, references={}) for r in small + large]
    assert set(capacity_frame(board.group_rows(without))["collapsed seeds"]) == {"—"}

    publish(small + large, tmp_path / "digits-capacity" / board.RECORDS_DIR)
    (finding,) = [f for f in findings.findings(tmp_path, tmp_path / "no-configs")
                  if f.track == "digits-capacity" and f.tested.parts and f.tested.parts[0].difference.name == "interaction slope"]
    assert f"Collapsed seeds: {collapse_summary(rows)}." in finding.evidence


@pytest.mark.parametrize("knn_recalls", [[0.9, 0.1, 0.9], [0.9, 0.9, 0.9]])
def test_a_dose_response_names_the_collapsed_seeds_its_means_average(tmp_path: Path, knn_recalls: list[float]):
    healthy = [0.9] * 3
    cells = _capacity_cells(32, 1000, {"full": healthy, "random": healthy, "knn": knn_recalls})
    at_90 = BASE.replace(generator_options={"steps": 100, "width": 32}, retention=90.0)
    cells += [record(at_90.replace(scorer=scorer, seed=seed), 11.0 + seed, extra={"recall": 0.9}, parameters=1000)
              for scorer in ("random", "knn") for seed in range(3)]
    publish(cells, tmp_path / "glyphs-retention" / board.RECORDS_DIR)
    evidence = {f.claim: f.evidence for f in findings.findings(tmp_path, tmp_path / "no-configs")
                if f.track == "glyphs-retention" and f.claim.startswith("Dose-response")}
    assert len(evidence) == 2  # the method's own trend and its gap to the random subset
    caveat = "Collapsed seeds: knn · 50% 1/3 at 1,000 parameters."
    assert all((caveat in text) == (min(knn_recalls) < FLOORS["recall"] * CEILING["recall"]) for text in evidence.values())
