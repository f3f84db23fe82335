"""Faults: a damaged per-cell side file (detection scores, a training curve) is named in one warning and recomputed."""

from __future__ import annotations

import json

import pytest

from curbench.bench.cells import cell_key
from curbench.bench.sweep import DETECTION_FILE, detection_for
from curbench.bench.training_curve import CURVE_FILE, train_with_curve
from curbench.config import RunConfig

# Cut short (a copy or a crash of another tool), and valid JSON of the wrong shape.
DETECTION_DAMAGE = ('{"auroc": 0.9, "k"', "[1, 2]")
CURVE_DAMAGE = ('[{"step": 10, "fid"', '{"step": 10}', '[{"fid": 1.0}]')


def _one_warning(capsys, path) -> None:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and "warning" in lines[0] and str(path) in lines[0] and "recomputed" in lines[0], lines


@pytest.mark.parametrize("damage", DETECTION_DAMAGE)
def test_a_damaged_detection_file_is_recomputed(tmp_path, capsys, damage):
    config = RunConfig(dataset="digits-corrupted", embedder="pixels", scorer="knn", retention=50, output_dir=str(tmp_path))
    expected = detection_for(config)
    path = tmp_path / "cells" / cell_key(config) / DETECTION_FILE
    path.write_text(damage)
    capsys.readouterr()
    assert detection_for(config) == expected
    _one_warning(capsys, path)
    assert json.loads(path.read_text()) == expected  # rewritten: the next read is silent
    assert detection_for(config) == expected and capsys.readouterr().err == ""


class _Model:
    def __init__(self, steps: int) -> None:
        self.steps = steps


def _curve(checkpoint_dir) -> list[dict]:
    return train_with_curve(_Model, lambda model: model, lambda model: {"fid": float(model.steps)}, total_steps=30,
                            every=10, checkpoint_dir=checkpoint_dir)[1]


@pytest.mark.parametrize("damage", CURVE_DAMAGE)
def test_a_damaged_training_curve_is_recomputed(tmp_path, capsys, damage):
    (tmp_path / CURVE_FILE).write_text(damage)
    assert _curve(tmp_path) == [{"step": 10, "fid": 10.0}, {"step": 20, "fid": 20.0}, {"step": 30, "fid": 30.0}]
    _one_warning(capsys, tmp_path / CURVE_FILE)
    assert _curve(tmp_path) == json.loads((tmp_path / CURVE_FILE).read_text()) and capsys.readouterr().err == ""
