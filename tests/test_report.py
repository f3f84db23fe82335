"""The table `curbench run` prints: data-stage rows as kept/total, sample-time rows as accepted/drawn."""

from __future__ import annotations

from curbench.bench.evaluation import declared_directions
from curbench.bench.records import Provenance, ResultRecord, Selection, cell_id
from curbench.boards.report import comparison_frame, comparison_markdown
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
        "method": _record(base.replace(scorer="drs", stage="sample"), 2000, {"acceptance_rate": 0.25}),
        "full": _record(base.replace(scorer="random", retention=100.0), 2000, {}),
        "random": _record(base.replace(scorer="random"), 1000, {}),
    }
    frame = comparison_frame(records).set_index("row")
    assert frame.loc["method", "stage"] == "sample" and frame.loc["method", "kept"] == "2000/8000 drawn"
    assert frame.loc["method", "retention"] == "—" and frame.loc["method", "acceptance"] == 0.25
    assert frame.loc["random subset", "stage"] == "data" and frame.loc["random subset", "kept"] == "1000/2000"
    truncated = comparison_frame({"method": _record(base.replace(scorer="truncation", stage="sample"), 2000, {"psi": 0.5})})
    assert truncated.loc[0, "psi"] == 0.5 and truncated.loc[0, "kept"] == "2000/2000 drawn"


def test_printed_table_has_a_legend_line_arrows_and_the_boards_rounding():
    base = RunConfig()
    records = {
        "method": _record(base, 895, {}),
        "full": _record(base.replace(scorer="random", retention=100.0), 2000, {}),
    }
    records["method"].metrics.update(fid=14.77134, kid=251.28714, precision=1.0, recall=0.0004886)
    text = comparison_markdown(records)
    legend, blank, header, rule, method, full = text.splitlines()
    assert blank == "" and rule.startswith("|---")
    assert "↓ lower is better, ↑ higher is better" in legend and "full data" in legend and "random subset" in legend
    assert "scale depends on the feature space" in legend and "`lenet` feature space" in legend
    assert "| FID ↓ | KID ↓ | precision ↑ | recall ↑ | density ↑ | coverage ↑ |" in header
    assert "| 50 | 895/2000 | 2000 | 14.77 | 251.3 | 1.000 | 0.0004886 |" in method  # 4 significant digits
    assert "| 100 |" in full and "| -0.01000 |" in full  # KID as measured, negative, not 1e-02
    assert "e-0" not in text and "nan" not in text
    frame = comparison_frame(records)  # the CSV keeps the metric keys and the raw numbers
    assert frame.loc[0, "fid"] == 14.77134 and "FID ↓" not in frame.columns


def test_the_written_comparison_page_is_the_printed_text_and_the_csv_keeps_the_numbers(tmp_path):
    from curbench.boards.tables import write_table

    records = {"method": _record(RunConfig(), 895, {}), "full": _record(RunConfig(scorer="random", retention=100.0), 2000, {})}
    text = comparison_markdown(records)
    md_path, csv_path = write_table(comparison_frame(records), tmp_path / "cell", title="curbench comparison", markdown=text)
    assert md_path.read_text() == f"# curbench comparison\n\n{text}"
    assert ",samples,fid,kid," in csv_path.read_text().splitlines()[0]
