"""Result records are untrusted input (issue #24): every read checks a schema, so that impossible or hostile
values are never reused, rendered, or turned into file names outside the chosen folders."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest
from test_cli_errors import curbench
from test_untrusted_yaml import assert_refused

from curbench.bench.records import ResultRecord, read_record

REPO = Path(__file__).resolve().parents[1]
TRACK = "toy"


def _shipped_record() -> tuple[Path, dict]:
    path = sorted((REPO / "leaderboards" / TRACK / "records").glob("*.json"))[0]
    return path, json.loads(path.read_text())


def _set(path: str, value):
    def apply(data: dict) -> None:
        field, _, key = path.partition(".")  # one level: "metrics.<key>", where the key may hold dots
        if key:
            data[field][key] = value
        else:
            data[field] = value

    return apply


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (_set("metrics.fid", -42.0), "metrics.fid = -42.0 is impossible"),
        (_set("metrics.fid", "oops"), "non-numeric or non-finite metrics (fid): 'oops'"),
        (_set("metrics.fid", None), "non-numeric or non-finite metrics (fid): None, not a finite number"),
        (_set("metrics.precision", 1.5), "metrics.precision = 1.5 is impossible"),
        (_set("metrics.n_fake", -1), "metrics.n_fake = -1 is impossible"),
        (_set("metrics.fid", True), "non-numeric or non-finite metrics (fid): True"),
        (_set("metrics.../../../../tmp/x", 1.0), "unsafe metric key '../../../../tmp/x'"),
        (_set("directions", [["fid", "lower"]]), "direction of 'fid' must be true, false or null"),
        (_set("directions", [["../x", False]]), "unsafe metric key '../x'"),
        (_set("directions", []), "has no direction"),
        (_set("cell_id", "../../etc"), "cell_id must be 16 hex digits"),
        (_set("selection.n_kept", "all"), "selection.n_kept must be a non-negative integer"),
        (_set("references.../up", {"fid": 1.0}), "references holds an unsafe name '../up'"),
        (_set("curve", [{"step": "x", "fid": 1.0}]), "curve[0] (step)"),
        (_set("config", ["not", "a", "mapping"]), "config must be an object"),
        (_set("provenance", "forged"), "provenance must be an object"),
    ],
)
def test_the_schema_refuses_malformed_records(change, fragment):
    _, data = _shipped_record()
    data = copy.deepcopy(data)
    change(data)
    with pytest.raises(ValueError) as info:
        ResultRecord.from_dict(data)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_every_committed_record_passes_the_schema():
    from curbench.bench.records import check_schema

    paths = sorted((REPO / "leaderboards").glob("*/records/*.json"))
    assert paths
    for path in paths:
        check_schema(json.loads(path.read_text()))


def test_an_unranked_metric_may_be_null_but_a_ranked_one_may_not():
    _, data = _shipped_record()
    data = copy.deepcopy(data)
    data["metrics"]["kid_std"] = None  # direction null: reported, not ranked
    assert ResultRecord.from_dict(data).metrics["kid_std"] is None


def test_a_tampered_record_reads_as_absent_with_one_warning(tmp_path, capsys):
    _, data = _shipped_record()
    data["metrics"]["fid"] = -42.0
    path = tmp_path / "result.json"
    path.write_text(json.dumps(data))
    assert read_record(path) is None
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and str(path) in lines[0] and "fid = -42.0 is impossible" in lines[0]
    assert "recomputed" in lines[0]


@pytest.mark.slow
@pytest.mark.parametrize("forged", [-42.0, "oops"])
def test_run_recomputes_a_record_with_impossible_metrics(tmp_path, forged):
    config = tmp_path / "run.yaml"
    config.write_text("dataset: toy\ndataset_options: {n: 200}\ngenerator_options: {steps: 5}\nbaselines: false\n")
    out = tmp_path / "out"
    first = curbench("run", "--config", str(config), "--output-dir", str(out), "--quiet")
    assert first.returncode == 0, first.stderr
    (record,) = (out / "cells").glob("*/result.json")
    honest = json.loads(record.read_text())["metrics"]["fid"]
    data = json.loads(record.read_text())
    data["metrics"]["fid"] = forged
    record.write_text(json.dumps(data))
    rerun = curbench("run", "--config", str(config), "--output-dir", str(out), "--quiet")
    assert rerun.returncode == 0, rerun.stderr
    warnings = [line for line in rerun.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and str(record) in warnings[0] and "recomputed" in warnings[0]
    assert "reused" not in rerun.stdout
    assert json.loads(record.read_text())["metrics"]["fid"] == pytest.approx(honest)


def _board(tmp_path: Path, change=None) -> tuple[Path, Path]:
    """A one-track leaderboards folder holding a copy of the shipped track's records, one of them changed."""
    root = tmp_path / "work" / "boards"
    records = root / TRACK / "records"
    shutil.copytree(REPO / "leaderboards" / TRACK / "records", records)
    (tmp_path / "work" / "configs").mkdir()
    path = sorted(records.glob("*.json"))[0]
    if change is not None:
        data = json.loads(path.read_text())
        change(data)
        path.write_text(json.dumps(data))
    return root, path


def _leaderboard(tmp_path: Path, root: Path, *args: str):
    work = tmp_path / "work"
    return curbench("leaderboard", *args, "--root", str(root), "--configs", str(work / "configs"),
                    "--readme", str(work / "README.md"), "--findings", str(work / "docs"), "--track", TRACK, cwd=work)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (_set("metrics.fid", "oops"), "non-numeric or non-finite metrics (fid)"),
        (_set("metrics.../../../../x", 1.0), "unsafe metric key"),
        (lambda data: data.pop("metrics"), "'metrics' is missing"),
    ],
)
def test_leaderboard_check_names_a_malformed_record_in_one_line(tmp_path, change, fragment):
    root, path = _board(tmp_path, change)
    result = _leaderboard(tmp_path, root, "--check")
    assert_refused(result, str(path), "not a valid result record", fragment)


def test_a_hostile_metric_key_writes_nothing_outside_the_board(tmp_path):
    root, path = _board(tmp_path, _set("metrics.../../../../x", 1.0))
    before = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    result = _leaderboard(tmp_path, root)
    assert_refused(result, str(path), "not a valid result record", "unsafe metric key")
    report = curbench("report", str(root / TRACK / "records"), "--out", str(tmp_path / "work" / "report"))
    assert_refused(report, str(path), "unsafe metric key")
    assert sorted(p for p in tmp_path.rglob("*") if p.is_file()) == before  # tmp_path/x.png before the schema


def test_leaderboard_check_reports_a_flipped_direction(tmp_path):
    def flip(data: dict) -> None:
        data["directions"] = [[key, (not higher) if key == "fid" else higher] for key, higher in data["directions"]]

    root, path = _board(tmp_path, flip)
    result = _leaderboard(tmp_path, root, "--check")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{path}: direction of 'fid' is True but its metric declares False" in result.stdout
