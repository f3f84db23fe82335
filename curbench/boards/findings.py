"""The findings page: every claim of the papers behind curbench, tested on the committed records.

Each claim names the track and rows that test it, our numbers (mean ± 95% CI over
seeds, Welch's test) and a verdict: *holds*, *does not hold at this scale*, or
*GPU track only (not run)*. ``curbench leaderboard`` writes the page and
``--check`` fails when it differs from what the records give; nothing is typed by hand.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

import curbench.boards.generated as generated
from curbench.bench.cells import Role
from curbench.boards.capacity import capacity_frame, gain_trend, parameters
from curbench.boards.check import tracks
from curbench.boards.rows import (
    RECORDS_DIR,
    STEPS_TO_FULL_FID,
    Row,
    directions,
    generator_rows,
    group_rows,
    load_records,
)
from curbench.boards.tables import format_cell, to_markdown
from curbench.stats import ALPHA, mean_ci, welch_p

FINDINGS_FILE = "findings.md"
FINDINGS_TABLE = "findings.csv"
HOLDS, FAILS, NOT_RUN = "holds", "does not hold at this scale", "GPU track only (not run)"
MISSING = "not run yet"
UNTESTABLE = "untestable (fewer than two seeds, or no training curve)"
DENSITY_SCORERS = ("gaussian", "ppca", "knn")
SEED_PAPERS = {"002": "DeVries et al. 2020", "001": "Terashita et al. 2021", "000": "Esser et al. 2020"}
PAPER_TITLES = {
    "DeVries et al. 2020": "DeVries, Drozdzal & Taylor, *Instance Selection for GANs*, NeurIPS 2020 (arXiv 2007.15255)",
    "Terashita et al. 2021": "Terashita et al., *Influence Estimation for Generative Adversarial Networks* "
                             "(data cleansing for GANs), ICLR 2021",
    "Esser et al. 2020": "Esser, Rombach & Ommer, *A Note on Data Biases in Generative Models*, NeurIPS 2020 workshop "
                         "(arXiv 2012.02516)",
}
MINORITY_GROUPING, MINORITY_GROUP = "minority", "1"  # the planted minority of the digits-minority track


@dataclass
class Finding:
    paper: str
    claim: str
    track: str
    verdict: str
    evidence: str
    cells: list[str] = field(default_factory=list)


@dataclass
class Board:
    """One track's rows, looked up by role, scorer, retention and other config fields."""

    track: str
    rows: list[Row]

    def find(self, role: str, scorer: str | None = None, retention: float | None = None, **fields: object) -> Row | None:
        for row in self.rows:
            if row.role != role or (scorer is not None and row.config["scorer"] != scorer):
                continue
            if retention is not None and row.config["retention"] != retention:
                continue
            if all(row.config.get(k) == v for k, v in fields.items()):
                return row
        return None


def _values(row: Row, metric: str) -> list[float]:
    return row.values(lambda r: r.metrics.get(metric))


def _summary(row: Row, metric: str) -> str:
    interval = mean_ci(_values(row, metric))
    if interval.n == 0:
        return "—"
    text = format_cell(interval.mean)
    return text if interval.n < 2 else f"{text} ± {format_cell(interval.half_width)}"


def compare(method: Row, baseline: Row, metric: str) -> tuple[str, bool | None]:
    """('a ± ci vs b ± ci (p = …)', True if the method is significantly better, False if not, None if untestable)."""
    p_value = welch_p(_values(method, metric), _values(baseline, metric))
    text = f"{_summary(method, metric)} vs {_summary(baseline, metric)}"
    if math.isnan(p_value):
        return f"{text} (untestable)", None
    lower = mean_ci(_values(method, metric)).mean < mean_ci(_values(baseline, metric)).mean
    better = p_value < ALPHA and lower != directions([method, baseline]).get(metric, False)
    worse = p_value < ALPHA and not better
    mark = "▲" if better else ("▼" if worse else "≈")
    return f"{text} {mark} (p = {p_value:.2g})", better


def _cells(*rows: Row | None) -> list[str]:
    return [record.cell_id for row in rows if row is not None for record in row.records]


def _every_scorer(board: Board, claim: str, paper: str, metric: str, against: str) -> Finding:
    """Each density scorer at retention 50 is significantly better than ``against`` ('full' or the random subset) on ``metric``."""
    baseline = board.find("full") if against == "full" else board.find("random", "random", 50.0)
    parts, verdicts, rows = [], [], [baseline]
    for scorer in DENSITY_SCORERS:
        method = board.find("method", scorer, 50.0)
        if method is None or baseline is None:
            continue
        text, better = compare(method, baseline, metric)
        verdicts.append(better)
        parts.append(f"{scorer}: {text}")
        rows.append(method)
    return _verdict(paper, claim, board.track, verdicts, parts, rows)


def _random_matches_full(board: Board, claim: str, paper: str) -> Finding:
    random, full = board.find("random", "random", 50.0), board.find("full")
    if random is None or full is None:
        return Finding(paper, claim, board.track, MISSING, "no records")
    text, _ = compare(random, full, "fid")
    same = "≈" in text
    return Finding(paper, claim, board.track, HOLDS if same else FAILS, f"random 50%: {text}", _cells(random, full))


def _precision_recall(board: Board, claim: str, paper: str) -> Finding:
    return _two_moves(board, claim, paper, ("precision", "▲"), ("recall", "▼"))


def _density_coverage(board: Board, claim: str, paper: str) -> Finding:
    return _two_moves(board, claim, paper, ("density", "▲"), ("coverage", "▲"))


def _two_moves(board: Board, claim: str, paper: str, *moves: tuple[str, str]) -> Finding:
    """Each density scorer at retention 50 moves every (metric, mark) as claimed against the random 50% subset."""
    baseline = board.find("random", "random", 50.0)
    parts, ok, rows = [], [], [baseline]
    for scorer in DENSITY_SCORERS:
        method = board.find("method", scorer, 50.0)
        if method is None or baseline is None:
            continue
        texts = [(metric, compare(method, baseline, metric)[0]) for metric, _ in moves]
        ok.append(all(mark in text for (_, mark), (_, text) in zip(moves, texts, strict=True)))
        parts.append(f"{scorer}: " + ", ".join(f"{metric} {text}" for metric, text in texts))
        rows.append(method)
    return _verdict(paper, claim, board.track, ok, parts, rows)


def _verdict(paper: str, claim: str, track: str, ok: list[bool | None], parts: list[str], rows: Sequence[Row | None]) -> Finding:
    if not ok:
        return Finding(paper, claim, track, MISSING, "no records")
    if any(good is None for good in ok):
        return Finding(paper, claim, track, UNTESTABLE, "; ".join(parts), _cells(*rows))
    held = [s for s, good in zip(DENSITY_SCORERS, ok, strict=False) if good]
    verdict = HOLDS if all(ok) else FAILS + (f" (holds for {', '.join(held)} only)" if held else "")
    return Finding(paper, claim, track, verdict, "; ".join(parts), _cells(*rows))


def _random_embedding(board: Board, claim: str, paper: str) -> Finding:
    parts, none_better, rows = [], [], []
    for scorer in DENSITY_SCORERS:
        method = board.find("method", scorer, 50.0, embedder="random-cnn")
        baseline = board.find("random", "random", 50.0, embedder="random-cnn")
        if method is None or baseline is None:
            continue
        text, better = compare(method, baseline, "fid")
        none_better.append(not better)
        parts.append(f"random-cnn · {scorer}: {text}")
        rows += [method, baseline]
    for scorer in DENSITY_SCORERS:
        method = board.find("method", scorer, 50.0, embedder="classifier")
        baseline = board.find("random", "random", 50.0, embedder="classifier")
        if method is not None and baseline is not None:
            parts.append(f"for contrast, classifier · {scorer}: {compare(method, baseline, 'fid')[0]}")
    if not none_better:
        return Finding(paper, claim, board.track, MISSING, "no records")
    return Finding(paper, claim, board.track, HOLDS if all(none_better) else FAILS, "; ".join(parts), _cells(*rows))


def _capacity(board: Board, claim: str, paper: str) -> Finding:
    """Each selecting method's gain grows as capacity shrinks (the random subset's trend is shown as the control)."""
    rows = generator_rows(board.rows)
    frame = capacity_frame(rows)
    if frame.empty:
        return Finding(paper, claim, board.track, MISSING, "no records")
    trends = gain_trend(rows)
    parts = [f"{line.method} at {line.generator_parameters:,} generator parameters: gain {line.gain}"
             for line in frame.itertuples()]
    parts += [trend.text + (" (the control)" if trend.method == Role.RANDOM.label else "") for trend in trends]
    selecting = [trend.grows for trend in trends if trend.method != Role.RANDOM.label]
    verdict = HOLDS if selecting and all(selecting) else FAILS
    return Finding(paper, claim, board.track, verdict, "; ".join(parts), _cells(*rows))


def _capacity_beyond_random(board: Board, claim: str, paper: str) -> Finding:
    """At the smallest generator, each selecting method against the random subset of the same size (FID)."""
    rows = generator_rows(board.rows)
    sizes = {_options(row): parameters(row) for row in rows}
    if len(sizes) < 2:
        return Finding(paper, claim, board.track, MISSING, "no records")
    least = min(sizes, key=sizes.get)
    smallest = [row for row in rows if _options(row) == least]
    random = next((row for row in smallest if row.role == "random"), None)
    parts, ok, used = [], [], [random]
    for method in (row for row in smallest if row.role == "method"):
        if random is None:
            break
        text, better = compare(method, random, "fid")
        parts.append(f"{method.config['scorer']} at {_show_options(least)} ({sizes[least]:,} parameters): {text}")
        ok.append(better)
        used.append(method)
    if not ok:
        return Finding(paper, claim, board.track, MISSING, "no records")
    verdict = UNTESTABLE if any(v is None for v in ok) else (HOLDS if all(ok) else FAILS)
    return Finding(paper, claim, board.track, verdict, "; ".join(parts), _cells(*used))


def _options(row: Row) -> tuple:
    return tuple(sorted(row.config.get("generator_options", {}).items()))


def _show_options(options: tuple) -> str:
    return ", ".join(f"{key}={value}" for key, value in options)


def _influence(board: Board, claim: str, paper: str) -> Finding:
    method = next((row for row in board.rows if row.role == "method" and row.config["scorer"] == "influence"), None)
    if method is None:
        return Finding(paper, claim, board.track, MISSING, "no records")
    baseline = board.find("random", "random", method.config["retention"])
    if baseline is None:
        return Finding(paper, claim, board.track, MISSING, "no random baseline")
    text, better = compare(method, baseline, "fid")
    retention = format_cell(float(method.config["retention"]))
    return Finding(paper, claim, board.track, HOLDS if better else FAILS,
                   f"influence at retention {retention}: {text}", _cells(method, baseline))


def _minority_shares(row: Row, stage: str) -> list[float]:
    return row.values(lambda r: r.audit.get("shares", {}).get(MINORITY_GROUPING, {}).get(stage, {}).get(MINORITY_GROUP))


def _replicates_bias(board: Board, claim: str, paper: str) -> Finding:
    """The full-data generator's minority share against the data's: replicated unless significantly higher."""
    full = board.find("full")
    if full is None:
        return Finding(paper, claim, board.track, MISSING, "no full-data records")
    generated, data = _minority_shares(full, "generated"), _minority_shares(full, "full")
    p_value = welch_p(generated, data)
    if math.isnan(p_value):
        return Finding(paper, claim, board.track, UNTESTABLE, "fewer than two seeds", _cells(full))
    shown, truth = mean_ci(generated), mean_ci(data)
    higher = shown.mean > truth.mean
    significant = p_value < ALPHA
    what = ("amplified: significantly under-represented" if significant and not higher else
            "reduced: significantly over-represented" if significant else "replicated: not distinguishable")
    text = (f"minority share of the samples {format_cell(shown.mean, 3)} ± {format_cell(shown.half_width, 3)} vs "
            f"{format_cell(truth.mean, 3)} in the training data (p = {p_value:.2g}); {what}")
    return Finding(paper, claim, board.track, FAILS if significant and higher else HOLDS, text, _cells(full))


def _gpu(board: Board | None, track: str, claim: str, paper: str) -> Finding:
    if board is None or not board.rows:
        return Finding(paper, claim, track, NOT_RUN, f"needs a GPU; configs/{track}.yaml is ready")
    return _every_scorer(board, claim, paper, "fid", "full")


@dataclass(frozen=True)
class ClaimSpec:
    track: str
    claim: str
    test: Callable[[Board, str, str], Finding]
    paper: str = "002"


CLAIMS: tuple[ClaimSpec, ...] = (
    ClaimSpec("digits", "Each of gaussian, ppca and knn (retention 50) beats full data on FID.",
              lambda b, c, p: _every_scorer(b, c, p, "fid", "full")),
    ClaimSpec("digits", "A random 50% subset is indistinguishable from full data on FID.", _random_matches_full),
    ClaimSpec("digits", "Selection raises precision and lowers recall (each density scorer vs the random 50% subset).",
              _precision_recall),
    ClaimSpec("digits", "Selection raises density and coverage (each density scorer vs the random 50% subset).",
              _density_coverage),
    ClaimSpec("digits-embedding", "Selection in a randomly initialised embedding (`random-cnn`) gives no FID gain over "
              "the random subset at retention 50.", _random_embedding),
    ClaimSpec("digits", "Curated training converges faster: fewer training steps until the FID reaches the full-data "
              "model's final FID (same seed) than the full-data model needs.",
              lambda b, c, p: _every_scorer(b, c, p, STEPS_TO_FULL_FID, "full")),
    ClaimSpec("digits-capacity", "The FID gain of selection over full data grows as generator capacity shrinks.", _capacity),
    ClaimSpec("digits-capacity", "With the smallest generator, selection beats a random subset of the same size on FID "
              "(the gain is more than training on less data).", _capacity_beyond_random),
    ClaimSpec("toy-influence", "Removing the instances the influence scorer flags beats removing the same number at "
              "random (FID).", _influence, "001"),
    ClaimSpec("digits-minority", "Generative models replicate the biases of their training data: a minority's share "
              "of the samples is no higher than its share of the data (full-data DCGAN, class 8 at 5%).",
              _replicates_bias, "000"),
)
GPU_CLAIMS = (
    ("imagenet64", "Each density scorer beats full data on FID at ImageNet 64 × 64, the paper's main setting."),
    ("cifar10", "Each density scorer beats full data on FID on CIFAR-10."),
)


def findings(root: str | Path) -> list[Finding]:
    available = set(tracks(root))
    boards = {name: Board(name, group_rows(load_records(Path(root) / name / RECORDS_DIR))) for name in available}
    results = []
    for spec in CLAIMS:
        paper = SEED_PAPERS[spec.paper]
        board = boards.get(spec.track) or Board(spec.track, [])
        results.append(spec.test(board, spec.claim, paper) if board.rows else Finding(paper, spec.claim, spec.track, MISSING, "no records"))
    for track, claim in GPU_CLAIMS:
        results.append(_gpu(boards.get(track), track, claim, SEED_PAPERS["002"]))
    return results


def render(root: str | Path) -> dict[str, str]:
    """``findings.md`` and ``findings.csv`` (one line per claim, with the cell ids that test it)."""
    found = findings(root)
    lines = [
        "# Findings: the papers' claims, tested on the committed records", "",
        "Generated by `curbench leaderboard` from `leaderboards/*/records/`; `curbench leaderboard --check` fails when "
        "this page differs from what the records give. Do not edit by hand.", "",
        f"Numbers are mean ± the half-width of the 95% CI over seeds; ▲/▼/≈ is Welch's two-sided t-test at α = {ALPHA} "
        "(▲ = the first row is significantly better). A claim *holds* only when every part of it is significant in "
        "the claimed direction; `findings.csv` lists the cells behind each row.", "",
        *[f"- **{short}**: {title}" for short, title in PAPER_TITLES.items()], "",
    ]
    table = pd.DataFrame([{
        "paper": f.paper, "claim": f.claim, "track": f"[`{f.track}`](../leaderboards/{f.track}/leaderboard.md)",
        "verdict": f"**{f.verdict}**", "our numbers": f.evidence,
    } for f in found])
    lines.append(to_markdown(table))
    csv = pd.DataFrame([{
        "paper": f.paper, "claim": f.claim, "track": f.track, "verdict": f.verdict, "evidence": f.evidence,
        "cells": json.dumps(sorted(set(f.cells))),
    } for f in found])
    return {FINDINGS_FILE: "\n".join(lines), FINDINGS_TABLE: csv.to_csv(index=False)}


def write(root: str | Path, directory: str | Path) -> list[Path]:
    """Write the findings page and its CSV into ``directory``."""
    return generated.write_all({Path(directory) / name: text for name, text in render(root).items()})


def check(root: str | Path, directory: str | Path) -> list[str]:
    """One line per findings file in ``directory`` that is missing or differs from what the records give."""
    return generated.differences({Path(directory) / name: text for name, text in render(root).items()}, "curbench leaderboard")
