"""The table `curbench run` prints: data-stage rows as kept/total, sample-time rows as accepted/drawn."""

from __future__ import annotations

from curbench.bench.evaluation import declared_directions
from curbench.bench.records import Provenance, ResultRecord, Selection, cell_id
from curbench.boards.report import comparison_frame
from curbench.config import DEFAULT_METRICS, RunConfig
from curbench.plugins import load_registry

DIRECTIONS = declared_directions(load_registry(), DEFAULT_METRICS)

PROVENANCE = Provenance("0.1.0", {}, None, "3.11", "cpu", 1.0, "2026-01-01T00:00:00+00:00")


def _record(config: RunConfig, n_kept: int, sampling: dict) -> ResultRecord:
    return ResultRecord(cell_id(config.cell()), config.cell(), {"fid": 1.0, "kid": -0.01, "n_fake": 2000},
                        Selection(2000, n_kept, "h", {}), sampling, {}, PROVENANCE, directions=DIRECTIONS)


def test_sample_time_rows_say_stage_sample_and_samples_accepted_of_drawn():
    base = RunConfig(dataset="toy", generator="mlp", embedder="pixels", eval_embedder="pixels")
    records = {
        "method": _record(base.replace(scorer="drs"), 2000, {"acceptance_rate": 0.25}),
        "full": _record(base.replace(scorer="random", retention=100.0), 2000, {}),
        "random": _record(base.replace(scorer="random"), 1000, {}),
    }
    frame = comparison_frame(records).set_index("row")
    assert frame.loc["method", "stage"] == "sample" and frame.loc["method", "kept"] == "2000/8000 drawn"
    assert frame.loc["method", "retention"] == "—" and frame.loc["method", "acceptance"] == 0.25
    assert frame.loc["random subset", "stage"] == "data" and frame.loc["random subset", "kept"] == "1000/2000"
    truncated = comparison_frame({"method": _record(base.replace(scorer="truncation"), 2000, {"psi": 0.5})})
    assert truncated.loc[0, "psi"] == 0.5 and truncated.loc[0, "kept"] == "2000/2000 drawn"
