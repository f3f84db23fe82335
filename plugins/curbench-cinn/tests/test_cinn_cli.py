"""The curbench-cinn command line: the report equals the Python API's, grids, planted demo, one-line user errors."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from curbench_cinn import fit_sources
from curbench_cinn.cli import main
from curbench_cinn.grid import most_moved
from curbench_cinn.planted import toy_case
from PIL import Image


def _run(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["curbench-cinn", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    captured = capsys.readouterr()
    return exited.value.code, captured.out, captured.err


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {
        "a.npy": rng.standard_normal((60, 4)),
        "b.npy": rng.standard_normal((50, 4)) + 2.0,
        "ga.npy": rng.integers(0, 2, 60),
        "gb.npy": rng.integers(0, 2, 50),
        "ia.npy": rng.integers(0, 256, (60, 1, 4, 4), dtype=np.uint8),
        "ib.npy": rng.integers(0, 256, (50, 1, 4, 4), dtype=np.uint8),
    }
    for name, array in arrays.items():
        np.save(tmp_path / name, array)
    return tmp_path, arrays


def test_compare_writes_the_api_report_and_a_grid_of_the_most_moved_instances(monkeypatch, capsys, files):
    folder, arrays = files
    out = folder / "out"
    code, stdout, _ = _run(
        monkeypatch, capsys, "compare", str(folder / "a.npy"), str(folder / "b.npy"),
        "--groups-a", str(folder / "ga.npy"), "--groups-b", str(folder / "gb.npy"),
        "--images-a", str(folder / "ia.npy"), "--images-b", str(folder / "ib.npy"),
        "--out", str(out), "--steps", "30", "--n-components", "3", "--seed", "1",
    )  # fmt: skip
    assert code == 0 and "report:" in stdout
    report = json.loads((out / "report.json").read_text())
    fit = fit_sources(
        {"a": arrays["a.npy"], "b": arrays["b.npy"]}, {"a": arrays["ga.npy"], "b": arrays["gb.npy"]},
        seed=1, steps=30, n_components=3,
    )  # fmt: skip
    expected = json.loads(json.dumps(fit.report()))
    assert {key: report[key] for key in expected} == expected
    for pair, grid in report["grids"].items():
        source_from, source_to = pair.split("->")
        assert grid["rows"] == most_moved(fit.projection(source_from, source_to), 8).tolist()
        with Image.open(out / grid["file"]) as image:
            assert image.format == "PNG"
    assert sorted(p.name for p in out.iterdir()) == ["projection-a-to-b.png", "projection-b-to-a.png", "report.json"]


def test_demo_toy_reports_the_displacement_the_projection_applies_to_the_moved_mode(monkeypatch, capsys, tmp_path):
    code, stdout, _ = _run(monkeypatch, capsys, "demo", "toy", "--out", str(tmp_path), "--steps", "30")
    assert code == 0 and "planted group 0" in stdout
    recovery = json.loads((tmp_path / "report.json").read_text())["recovery"]["planted"]["0"]
    case = toy_case(seed=0)
    fit = fit_sources(case.features, case.groups, seed=0, **{**case.settings, "steps": 30})
    x = case.features["a"][case.groups["a"] == 0]
    found = (fit.project(x, "a", "b") - x).mean(axis=0)
    assert recovery["recovered_norm"] == pytest.approx(np.linalg.norm(found))
    assert recovery["planted_norm"] == pytest.approx(0.6)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda folder: ["compare", str(folder / "missing.npy"), str(folder / "b.npy")], "not found"),
        (lambda folder: ["compare", str(folder / "ga.npy"), str(folder / "b.npy")], "must be 2-D"),
        (lambda folder: ["compare", str(folder / "nan.npy"), str(folder / "b.npy")], "NaN"),
        (lambda folder: ["compare", str(folder / "a.npy"), str(folder / "b.npy"), "--images-a", str(folder / "ia.npy")], "both"),
        (lambda folder: ["compare", str(folder / "a.npy"), str(folder / "b.npy"), "--images-a", str(folder / "ib.npy"),
                         "--images-b", str(folder / "ia.npy")], "one image per row"),  # fmt: skip
        (lambda folder: ["demo", "circles"], "unknown demo case"),
        (lambda folder: ["demo", "digits", "--thickened", "x"], "--thickened"),
    ],
)
def test_user_errors_are_one_line_and_a_nonzero_exit(monkeypatch, capsys, files, make, message):
    folder, arrays = files
    nan = arrays["a.npy"].copy()
    nan[3, 1] = np.nan
    np.save(folder / "nan.npy", nan)
    code, _, stderr = _run(monkeypatch, capsys, *make(folder))
    assert code == 2
    assert stderr.startswith("curbench-cinn: error:") and message in stderr
    assert stderr.count("\n") == 1 and "Traceback" not in stderr
