"""The findings page: every claim of the papers behind curbench, tested on the committed records.

Each claim is a set of parts (one per scorer, metric or instrument), each part a test with
a stated rule. Every p-value on the page enters one Holm family; a part is *supported*,
*contradicted* or *inconclusive* by its Holm-adjusted p-values, and non-significance alone
never supports a claim. ``curbench leaderboard`` writes the page and ``--check`` fails when
it differs from what the records give; nothing is typed by hand.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

import curbench.boards.generated as generated
from curbench.bench.suites import missing_cells
from curbench.boards.check import track_suite, tracks
from curbench.boards.claims import CLAIMS
from curbench.boards.learned import NOT_LEARNED, RULE, checks_frame, main_check
from curbench.boards.rows import RECORDS_DIR, generator_records, group_rows, load_records
from curbench.boards.tables import to_markdown
from curbench.boards.verdicts import (
    IN_PROGRESS,
    MARGINS,
    NOT_RUN,
    PAPER_TITLES,
    SEED_PAPERS,
    Board,
    Evidence,
    Finding,
    Part,
)
from curbench.stats import ALPHA, POWER, holm

FINDINGS_FILE = "findings.md"
FINDINGS_TABLE = "findings.csv"


def load_boards(root: str | Path) -> dict[str, Board]:
    """Every track under ``root`` with its rows."""
    return {name: Board(name, group_rows(load_records(Path(root) / name / RECORDS_DIR))) for name in tracks(root)}


def findings(root: str | Path, configs_dir: str | Path = "configs", boards: dict[str, Board] | None = None) -> list[Finding]:
    """Every claim tested on its track, with Holm's correction over all the p-values of the page.

    A track whose suite is still ``in_progress`` is not graded: a verdict on part of a grid would be read
    before the data are in (and change as cells arrive). Nor is a track whose full-data generator did not
    learn its data (:mod:`curbench.boards.learned`): its comparisons would measure the failure.
    ``boards`` (from :func:`load_boards`) saves reading the records again."""
    boards = load_boards(root) if boards is None else boards
    found = []
    for spec in CLAIMS:
        board = boards.get(spec.track)
        rows = board.rows if board is not None else []
        suite = track_suite(spec.track, configs_dir) if rows else None
        check = main_check(rows)
        if suite is not None and suite.in_progress:
            total, missing = len(missing_cells(suite, [])), len(missing_cells(suite, generator_records(rows)))
            evidence = Evidence(missing=f"{total - missing} of {total} cells recorded; graded once the grid is complete",
                                unrun=IN_PROGRESS)
        elif spec.about_generators and check is not None and not check.learned:
            evidence = Evidence(missing=f"the full-data generator ({check.generator}) did not learn its data: "
                                        f"{check.reason}; fix its recipe before the track is graded", unrun=NOT_LEARNED)
        elif board is not None and rows:
            evidence = spec.test(board)
        elif spec.gpu:
            evidence = Evidence(missing=f"needs a GPU; configs/{spec.track}.yaml is ready", unrun=NOT_RUN)
        else:
            evidence = Evidence(missing=f"no records under leaderboards/{spec.track}/{RECORDS_DIR} yet")
        found.append(Finding(SEED_PAPERS[spec.paper], spec.claim, spec.track, evidence))
    tests = [test for finding in found for part in finding.tested.parts for test in part.tests]
    for test, adjusted in zip(tests, holm([test.p for test in tests]), strict=True):
        test.holm = float(adjusted)
    return found


def generators_frame(boards: dict[str, Board]) -> pd.DataFrame:
    """Per track, its largest full-data generator against the real-data ceiling (see :mod:`curbench.boards.learned`)."""
    frames = [checks_frame([check]).assign(track=f"[`{name}`](../leaderboards/{name}/leaderboard.md)")
              for name, board in sorted(boards.items()) if (check := main_check(board.rows)) is not None]
    if not frames:
        return pd.DataFrame()
    table = pd.concat(frames, ignore_index=True)
    return table[["track", *[column for column in table.columns if column != "track"]]]


# --- the page --------------------------------------------------------------------------------------------------

def _p(value: float) -> str:
    if math.isnan(value):
        return "—"
    return "< 0.001" if value < 0.001 else f"{value:.2g}"


def _per_part(parts: Sequence[Part], show: Callable[[Part], str]) -> str:
    if len(parts) == 1 and not parts[0].label:
        return show(parts[0])
    return "; ".join(f"{part.label}: {show(part)}" for part in parts)


def _p_values(adjusted: bool) -> Callable[[Part], str]:
    def show(part: Part) -> str:
        return ", ".join(f"{'' if test is part.difference else 'TOST '}{_p(test.holm if adjusted else test.p)}"
                         for test in part.tests)
    return show


def _columns(finding: Finding) -> dict[str, str]:
    parts = finding.tested.parts
    if not parts:
        return dict.fromkeys(("test", "effect", "p", "Holm p", "MDE", "n"), "—")
    names = dict.fromkeys(test.name for part in parts for test in part.tests)
    return {
        "test": ", ".join(names), "effect": _per_part(parts, lambda p: p.effect),
        "p": _per_part(parts, _p_values(adjusted=False)), "Holm p": _per_part(parts, _p_values(adjusted=True)),
        "MDE": _per_part(parts, lambda p: p.mde), "n": ", ".join(dict.fromkeys(str(part.n) for part in parts)),
    }


def _header(found: Sequence[Finding]) -> list[str]:
    family = sum(1 for f in found for part in f.tested.parts for test in part.tests if math.isfinite(test.p))
    margins = pd.DataFrame([{"quantity": name, "margin": str(margin), "why": margin.why} for name, margin in MARGINS.items()])
    return [
        "# Findings: the papers' claims, tested on the committed records", "",
        "Generated by `curbench leaderboard` from `leaderboards/*/records/`; `curbench leaderboard --check` fails when "
        "this page differs from what the records give. Do not edit by hand.", "",
        *[f"- **{short}**: {title}" for short, title in PAPER_TITLES.items()], "",
        "## How a verdict is reached", "",
        f"- **Tests.** Two rows with the same seeds are paired (a seed fixes the generator's initialisation): paired t-test "
        "on the per-seed differences; otherwise Welch's t-test. *effect* is first row − second row with its 95% CI. "
        f"Holm's correction runs over all {family} p-values on this page (every test and every TOST); each verdict uses "
        f"the Holm-adjusted p at α = {ALPHA}. Non-significance alone never supports a claim: it is *inconclusive*.",
        "- **A beats B**: *supported* if the difference is significant in the claimed direction; *contradicted* if it is "
        "significant the other way, or if TOST puts the difference inside ±margin (the claimed gain is ruled out); "
        "else *inconclusive*.",
        "- **A is as good as B**: *supported* if TOST puts the difference inside ±margin; *contradicted* if the "
        "difference is significant and TOST is not; else *inconclusive*.",
        "- **A and B differ** (either way): *supported* if the difference is significant; *contradicted* if TOST puts it "
        "inside ±margin; else *inconclusive*. The dose-response row tests the slope of per-seed FID on retention, and "
        "its margin is the FID margin spread over the retention range; where the random subset runs at each retention, "
        "a second row tests the interaction, the slope of the per-seed gap FID(method) − FID(random subset of the same "
        "size), with the random subset's own slope as the contrast. Either is direction-free: *supported* says FID "
        "moves with retention, and the row's numbers say which way once the slope's 95% CI excludes zero (\"FID rises "
        "as retention falls\" means keeping less hurts).",
        "- **Mechanism** (capacity): the interaction, not the method's own trend. The per-seed advantage over the random "
        "subset of the same size and generator, d = FID(random) − FID(method), is regressed on ln(generator "
        "parameters): *supported* only if the slope is significantly negative, *contradicted* if significantly positive.",
        "- **Time to target** is survival data: steps until the FID reaches the same seed's full-data final FID, "
        "right-censored where it never does. Each row shows the Kaplan–Meier median (*not reached* when fewer than "
        "half the seeds get there) and *k/n reached*, and is tested with the log-rank test; censored steps are never "
        "averaged. There is no equivalence margin for it: only a significant opposite effect contradicts.",
        "- **Claims with parts** (scorers, metrics, instruments): *supported* when every part is, *contradicted* when "
        "any part is, else *inconclusive*; a claim that *the scorers differ* is supported when any pair differs and "
        "contradicted when every pair is equivalent. Parts marked *contrast* are controls: they are in the Holm family "
        "but not in the verdict. A claim about selection is always tested against the random subset of the same size.",
        f"- **MDE**: the smallest true effect each test detects with power {POWER} at α = {ALPHA} (statsmodels "
        "`TTestPower` on the SD of the paired differences, `TTestIndPower` on the pooled SD; a slope's t-test has n − 2 "
        "degrees of freedom), in the metric's units, before Holm's correction. *n* is the number of seeds (pairs), or "
        "of (seed, setting) points for a slope.",
        "- **In progress**: a track whose sweep is published cell by cell (its suite says `in_progress: true`) is graded "
        "only once its grid is complete, so that no verdict is read off part of the seeds.",
        f"- **{NOT_LEARNED.capitalize()}**: on a track whose full-data generator has not learned its data, the claims "
        "about generators are not graded either, since their comparisons would measure the failure (the last section "
        "of this page); a claim about the scorers alone (AUROC against the known typicality) still is.", "",
        "Equivalence margins (TOST):", "", to_markdown(margins),
    ]


def _table(found: Sequence[Finding], link: bool) -> pd.DataFrame:
    return pd.DataFrame([{
        "paper": f.paper, "claim": f.claim,
        "track": f"[`{f.track}`](../leaderboards/{f.track}/leaderboard.md)" if link else f.track,
        "verdict": f"**{f.verdict}**" if link else f.verdict, **_columns(f),
        "our numbers": f.evidence, **({} if link else {"cells": json.dumps(f.cells)}),
    } for f in found])


def render(root: str | Path, configs_dir: str | Path = "configs") -> dict[str, str]:
    """``findings.md`` and ``findings.csv`` (one line per claim, with the cell ids that test it)."""
    boards = load_boards(root)
    found = findings(root, configs_dir, boards)
    lines = [*_header(found), "", to_markdown(_table(found, link=True))]
    generators = generators_frame(boards)
    if not generators.empty:
        lines += ["## Did each track's generator learn its data?", "",
                 f"{RULE} Each track's largest full-data generator is checked (a capacity track's smaller ones are on its "
                 "board); a track whose generator fails is not graded.", "", to_markdown(generators)]
    return {FINDINGS_FILE: "\n".join(lines), FINDINGS_TABLE: _table(found, link=False).to_csv(index=False)}


def write(root: str | Path, directory: str | Path, configs_dir: str | Path = "configs") -> list[Path]:
    """Write the findings page and its CSV into ``directory``."""
    return generated.write_all({Path(directory) / name: text for name, text in render(root, configs_dir).items()})


def check(root: str | Path, directory: str | Path, configs_dir: str | Path = "configs") -> list[str]:
    """One line per findings file in ``directory`` that is missing or differs from what the records give."""
    return generated.differences({Path(directory) / name: text for name, text in render(root, configs_dir).items()},
                                 "curbench leaderboard")
