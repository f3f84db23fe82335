"""Training curves: segmented training equals one run, the last point is the cell's metrics, and curves resume."""

from __future__ import annotations

import json

import numpy as np
import pytest

from curbench.bench.runner import CellRunner
from curbench.bench.training_curve import CURVE_FILE, curve_steps, train_with_curve
from curbench.config import RunConfig
from curbench.errors import InvalidInputError

TOY = dict(
    dataset="toy", dataset_options={"n": 240}, embedder="pixels", eval_embedder="pixels", generator="mlp",
    generator_options={"steps": 60, "hidden": 16, "batch_size": 32}, scorer="random", retention=100.0,
    selection="global", samples=200, baselines=False,
)


def test_curve_steps_end_at_the_total():
    assert curve_steps(60, 25) == [25, 50, 60]
    assert curve_steps(60, 20) == [20, 40, 60]
    assert curve_steps(60, 100) == [60]


def test_a_cell_with_a_curve_trains_the_same_model_as_one_without(tmp_path):
    runner = CellRunner()
    plain = runner.run(RunConfig(**TOY, output_dir=str(tmp_path / "plain")))
    curved = runner.run(RunConfig(**TOY, eval_every=20, output_dir=str(tmp_path / "curved")))
    assert plain.curve == [] and [p["step"] for p in curved.curve] == [20, 40, 60]
    for name, value in plain.metrics.items():
        assert curved.metrics[name] == value, name  # resuming from checkpoints is exact
        assert curved.curve[-1][name] == pytest.approx(value, abs=1e-12)
    assert curved.curve[0]["fid"] != curved.curve[-1]["fid"]  # the early points are other models


def test_an_interrupted_curve_resumes_where_it_stopped(tmp_path):
    """A crash after two segments: the rerun keeps the finished points and trains on from the checkpoint."""
    trained: list[int] = []

    class Model:
        def __init__(self, steps: int) -> None:
            self.steps = steps

    def fit(model: Model) -> Model:
        trained.append(model.steps)
        if model.steps == 30 and len(trained) == 3:
            raise RuntimeError("killed")
        return model

    def run() -> list[dict]:
        return train_with_curve(Model, fit, lambda m: {"fid": float(m.steps)}, total_steps=40, every=10,
                                checkpoint_dir=tmp_path)[1]

    with pytest.raises(RuntimeError):
        run()
    assert [p["step"] for p in json.loads((tmp_path / CURVE_FILE).read_text())] == [10, 20]
    points = run()
    assert [p["step"] for p in points] == [10, 20, 30, 40] and [p["fid"] for p in points] == [10, 20, 30, 40]
    assert trained == [10, 20, 30, 30, 40]  # nothing before the crash is trained again
    assert train_with_curve(Model, fit, lambda m: pytest.fail("re-evaluated"), total_steps=40, every=10,
                            checkpoint_dir=tmp_path)[1] == points
    assert trained[-1] == 40  # a finished curve only reloads the final model


def test_curve_options_are_checked():
    with pytest.raises(InvalidInputError, match="eval_every"):
        RunConfig(eval_every=-1)
    with pytest.raises(InvalidInputError, match="eval_every"):
        RunConfig(eval_every=2.5)
    np.testing.assert_equal(RunConfig(eval_every=0).eval_every, 0)
