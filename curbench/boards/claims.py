"""The papers' claims and how each is tested on a track's rows (the parts of :mod:`curbench.boards.verdicts`)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from scipy.stats import norm

from curbench.bench.cells import Role
from curbench.boards.capacity import COLLAPSE_RULE, advantages, collapse_summary
from curbench.boards.rows import Row, generator_rows, number, steps_to_target
from curbench.boards.tables import format_cell
from curbench.boards.verdicts import (
    BETTER,
    DENSITY_SCORERS,
    DIFFER,
    INFLUENCE_IMAGE_METRICS,
    INFLUENCE_METRICS,
    MARGINS,
    MINORITY_GROUP,
    MINORITY_GROUPING,
    MINORITY_SHARE,
    SAME,
    SUPPORTED,
    Board,
    Evidence,
    Part,
    Test,
    better_sign,
    by_seed,
    make_part,
    outcomes,
    row_mean,
    summary,
    versus,
)
from curbench.stats import Comparison, Survival, compare, kaplan_meier, logrank, slope


def _baseline(board: Board, against: str) -> Row | None:
    return board.find("full") if against == "full" else board.find("random", "random", 50.0)


def _methods(board: Board) -> list[tuple[str, Row]]:
    """The density scorers' rows at retention 50, by scorer."""
    return [(scorer, row) for scorer in DENSITY_SCORERS if (row := board.find("method", scorer, 50.0)) is not None]


def _beats(against: str, metric: str) -> Callable[[Board], Evidence]:
    """Each density scorer at retention 50 is better than ``against`` ('full' or the random subset) on ``metric``."""
    def test(board: Board) -> Evidence:
        baseline, found = _baseline(board, against), _methods(board)
        if baseline is None or not found:
            return Evidence(missing=f"no {'full-data' if against == 'full' else 'random-subset'} or method rows")
        sign = better_sign([baseline], metric)
        parts = [versus(s, BETTER, m, baseline, metric, sign=sign) for s, m in found]
        return Evidence(parts, [baseline, *(m for _, m in found)])
    return test


def _moves(*moves: tuple[str, int]) -> Callable[[Board], Evidence]:
    """Each density scorer at retention 50 moves every (metric, claimed sign) against the random 50% subset."""
    def test(board: Board) -> Evidence:
        baseline, found = _baseline(board, "random"), _methods(board)
        if baseline is None or not found:
            return Evidence(missing="no random-subset or method rows at retention 50")
        parts = [versus(f"{s} {metric}", BETTER, m, baseline, metric, sign=sign) for s, m in found for metric, sign in moves]
        return Evidence(parts, [baseline, *(m for _, m in found)])
    return test


def _random_matches_full(board: Board) -> Evidence:
    random, full = board.find("random", "random", 50.0), board.find("full")
    if random is None or full is None:
        return Evidence(missing="no random-subset or full-data row")
    return Evidence([versus("", SAME, random, full, "fid", names=("random 50% ", "full data "))], [random, full])


def _random_embedding(board: Board) -> Evidence:
    """random-cnn selection ≈ the random subset (TOST), contrasted with selection in the trained embedding."""
    parts, rows = [], []
    for embedder, kind, decides in (("random-cnn", SAME, True), ("classifier", BETTER, False)):
        baseline = board.find("random", "random", 50.0, embedder=embedder)
        for scorer in DENSITY_SCORERS:
            method = board.find("method", scorer, 50.0, embedder=embedder)
            if method is None or baseline is None:
                continue
            parts.append(versus(f"{embedder} · {scorer}", kind, method, baseline, "fid", sign=-1, decides=decides))
            rows += [method, baseline]
    if not any(part.decides for part in parts):
        return Evidence(missing="no random-cnn rows")
    return Evidence(parts, rows, caveat=_embedding_caveat)


def _embedding_caveat(parts: list[Part]) -> str:
    contrast = [part for part in parts if not part.decides]
    if not contrast:
        return "No trained-embedding rows to contrast with: this row cannot show that the embedding matters"
    if any(part.outcome() == SUPPORTED for part in contrast):
        return f"The trained embedding gains where shown ({outcomes(contrast)})"
    return (f"The trained `classifier` embedding shows no FID gain over the random subset either ({outcomes(contrast)}), "
            "so this row cannot show that the embedding matters")


def _converges_faster(board: Board) -> Evidence:
    """Per density scorer at retention 50: steps to the same seed's full-data final FID, log-rank against full data."""
    full, found = board.find("full"), _methods(board)
    if full is None or not found:
        return Evidence(missing="no full-data or method rows")
    full_times = steps_to_target(full)
    if not full_times[0]:
        return Evidence(missing="no training curves")
    parts = [_faster(scorer, steps_to_target(method), full_times) for scorer, method in found]
    return Evidence(parts, [full, *(m for _, m in found)])


def _faster(label: str, method: tuple[list[float], list[bool]], full: tuple[list[float], list[bool]]) -> Part:
    z, p_value = logrank(*method, *full)
    ours, theirs = kaplan_meier(*method), kaplan_meier(*full)

    def median(survival: Survival) -> str:
        return "not reached" if math.isinf(survival.median) else f"{format_cell(survival.median)} steps"

    numbers = (f"KM median {median(ours)} ({ours.reached}/{ours.n} reached) vs full data {median(theirs)} "
               f"({theirs.reached}/{theirs.n} reached)")
    effect = f"median {median(ours)} vs {median(theirs)}"
    toward = None if math.isnan(z) else z > 0
    return Part(label, BETTER, Test("log-rank", p_value), toward, None, effect, "—", min(ours.n, theirs.n), numbers)


def _sizes(rows: Sequence[Row]) -> dict[str, int]:
    return {_generator(row): row.generator_parameters for row in rows}


def _generator(row: Row) -> str:
    return json.dumps(row.config.get("generator_options", {}), sort_keys=True)


def _capacity(board: Board) -> Evidence:
    """Interaction: the per-seed advantage over the random subset of the same size, regressed on log(parameters)."""
    rows = generator_rows(board.rows)
    found = advantages(rows)
    if len(set(_sizes(rows).values())) < 2 or not found:
        return Evidence(missing="fewer than two generator sizes with method and random-subset rows")
    parts = []
    for (method, retention), points in sorted(found.items()):
        sizes = np.array([size for size, _ in points], dtype=np.float64)
        gains = np.array([gain for _, gain in points])
        result = slope(np.log(sizes), gains)
        means = "; ".join(f"{format_cell(gains[sizes == size].mean())} at {int(size):,}" for size in sorted(set(sizes)))
        numbers = f"mean FID advantage over the random subset by generator parameters: {means}"
        parts.append(make_part(f"{method} · {format_cell(float(retention))}%", BETTER, result, numbers, sign=-1,
                           name="interaction slope", unit=" FID per ln(parameters)"))
    return Evidence(parts, rows, caveat=_collapse_caveat(board, rows))


def _collapse_caveat(board: Board, rows: Sequence[Row]) -> Callable[[list[Part]], str]:
    """Which of the claim's ``rows`` average collapsed seeds into their FID (the real-data ceilings set the floor)."""
    shown = {row.key for row in rows}
    collapsed = collapse_summary([row for row in board.rows if row.key in shown or row.role is Role.REAL])
    return lambda _: f"Collapsed seeds: {collapsed}. {COLLAPSE_RULE}" if collapsed else ""


def _smallest_and_largest(board: Board) -> tuple[list[Row], list[Row]] | None:
    rows = generator_rows(board.rows)
    sizes = _sizes(rows)
    if len(set(sizes.values())) < 2:
        return None
    least, most = min(sizes, key=lambda name: sizes[name]), max(sizes, key=lambda name: sizes[name])
    return [r for r in rows if _generator(r) == least], [r for r in rows if _generator(r) == most]


def _size_label(row: Row) -> str:
    return f"{row.generator_parameters:,} parameters"


def _capacity_beyond_random(board: Board) -> Evidence:
    """At the smallest generator, each selecting method against the random subset of the same size (FID)."""
    ends = _smallest_and_largest(board)
    smallest = ends[0] if ends else []
    random = next((row for row in smallest if row.role is Role.RANDOM), None)
    methods = [row for row in smallest if row.role is Role.METHOD]
    if random is None or not methods:
        return Evidence(missing="fewer than two generator sizes, or no method and random rows at the smallest")
    parts = [versus(f"{m.config['scorer']} at {_size_label(m)}", BETTER, m, random, "fid", sign=-1) for m in methods]
    return Evidence(parts, [random, *methods])


def _lowers_capacity(board: Board) -> Evidence:
    """The smallest generator with selection ≈ the largest on full data (TOST), with the random subset as control."""
    ends = _smallest_and_largest(board)
    if ends is None:
        return Evidence(missing="fewer than two generator sizes")
    smallest, largest = ends
    full = next((row for row in largest if row.role is Role.FULL), None)
    methods = [row for row in smallest if row.role is Role.METHOD]
    random = next((row for row in smallest if row.role is Role.RANDOM), None)
    if full is None or not methods:
        return Evidence(missing="no full-data row at the largest generator or no method row at the smallest")
    names = (f"at {_size_label(methods[0])} ", f"full data at {_size_label(full)} ")
    parts = [versus(m.config["scorer"], SAME, m, full, "fid", names=names) for m in methods]
    if random is not None:
        parts.append(versus("random subset", SAME, random, full, "fid", names=names, decides=False))
    return Evidence(parts, [full, random, *methods], caveat=_capacity_control)


def _capacity_control(parts: list[Part]) -> str:
    control = [part for part in parts if not part.decides]
    if control and control[0].outcome() == SUPPORTED:
        return "The random subset of the same size does as well, so the saving is not due to selection"
    return ""


def _influence(metrics: tuple[tuple[str, int], ...]) -> Callable[[Board], Evidence]:
    """Influence-based removal against random removal of as many instances on the paper's ``metrics``; an Isolation
    Forest removing as many is the contrast (a plain outlier detector)."""
    def test(board: Board) -> Evidence:
        method = next((row for row in board.rows if row.role is Role.METHOD and row.config["scorer"] == "influence"), None)
        if method is None:
            return Evidence(missing="no influence rows")
        retention = method.config["retention"]
        random, forest = board.find("random", "random", retention), board.find("method", "isolation-forest", retention)
        if random is None:
            return Evidence(missing="no random baseline")
        parts = [versus(f"{metric} vs random", BETTER, method, random, metric, sign=sign) for metric, sign in metrics]
        if forest is not None:
            parts += [versus(f"{metric} vs Isolation Forest", BETTER, method, forest, metric, sign=sign, decides=False)
                      for metric, sign in metrics]
        return Evidence(parts, [method, random, forest])
    return test


_INFLUENCE_ON_POINTS = _influence(INFLUENCE_METRICS)
_INFLUENCE_ON_IMAGES = _influence(INFLUENCE_IMAGE_METRICS)


def _shares(row: Row, grouping: str, group: str, stage: str) -> dict[int, float]:
    return {r.config["seed"]: number(r.audit.get("shares", {}).get(grouping, {}).get(stage, {}).get(group))
            for r in row.records}


def _replicates_bias(board: Board) -> Evidence:
    """Each instrument's generated minority share ≈ the data's share (TOST, paired by seed); a significant
    difference contradicts, lower meaning the bias is amplified and higher that it is reduced."""
    full = board.find("full")
    if full is None:
        return Evidence(missing="no full-data records")
    minority = str(full.config.get("dataset_options", {}).get("minority_class", ""))
    instruments = (("2-class minority classifier", MINORITY_GROUPING, MINORITY_GROUP),
                   (f"10-class classifier, class {minority}", "class", minority))
    parts, signs = [], set()
    for label, grouping, group in instruments:
        generated_share = _shares(full, grouping, group, "generated")
        data_share = _shares(full, grouping, group, "full")
        result = compare(generated_share, data_share, MARGINS[MINORITY_SHARE].value)
        if math.isnan(result.estimate):
            continue
        direction = "lower than the data (amplifies the bias)" if result.estimate < 0 else "higher than the data (reduces the bias)"
        numbers = (f"{summary(generated_share.values(), 3)} in the samples vs {summary(data_share.values(), 3)} in "
                   f"the training data, {direction}")
        parts.append(make_part(label, SAME, result, numbers))
        signs.add(result.estimate > 0)
    if not parts:
        return Evidence(missing="no group shares in the records' audits")
    disagree = len(signs) > 1
    return Evidence(parts, [full], caveat=lambda _: "The two classifiers disagree on the direction: which way the "
                                                   "generator moves the minority is not settled" if disagree else "")


def _dose_response(board: Board) -> Evidence:
    """Per density scorer: the slope of per-seed FID on retention (full data as 100), with TOST of a flat line."""
    full = board.find("full")
    if full is None:
        return Evidence(missing="no full-data row")
    parts, rows = [], [full]
    for scorer in DENSITY_SCORERS:
        series = [full, *(r for r in board.rows if r.role is Role.METHOD and r.config["scorer"] == scorer)]
        if len(series) < 3:
            continue
        parts.append(_retention_trend(scorer, series, row_mean(full, "fid")))
        rows += series[1:]
    if not parts:
        return Evidence(missing="fewer than two retentions per scorer")
    return Evidence(parts, rows, caveat=_collapse_caveat(board, rows))


def _flat_margin(baseline_fid: float, retentions: Sequence[float]) -> float:
    """The FID margin spread over the retention range: a line that moves less than it from end to end is flat."""
    return MARGINS["fid"].of(baseline_fid) / (max(retentions) - min(retentions))


def _as_retention_falls(result: Comparison, what: str) -> str:
    """The fitted direction in words, once the slope's 95% CI excludes zero: a slope per retention point is easy to misread."""
    if not (result.low > 0 or result.high < 0):  # NaN bounds state nothing
        return ""
    return f"; {what} {'rises' if result.high < 0 else 'falls'} as retention falls"


def _retention_trend(label: str, series: Sequence[Row], baseline_fid: float, decides: bool = True) -> Part:
    """The slope of per-seed FID on retention over ``series`` (one row per retention), TOST against a flat line."""
    retentions = [float(row.config["retention"]) for row in series]
    x = [retention for row, retention in zip(series, retentions, strict=True) for _ in row.records]
    y = [value for row in series for value in by_seed(row, "fid").values()]
    result = slope(x, y, _flat_margin(baseline_fid, retentions))
    means = ", ".join(f"{format_cell(ret)}: {format_cell(row_mean(row, 'fid'))}"
                      for row, ret in sorted(zip(series, retentions, strict=True), key=lambda pair: pair[1]))
    numbers = f"mean FID by retention {means}{_as_retention_falls(result, 'FID')}"
    return make_part(label, DIFFER, result, numbers, name="trend slope",
                     unit=" FID per retention point", decides=decides)


def _dose_response_beyond_random(board: Board) -> Evidence:
    """Interaction: per density scorer, the slope on retention of the per-seed gap FID(method) − FID(random subset of
    the same size and seed); the random subset's own trend (full data as 100) is the contrast."""
    randoms = {row.config["retention"]: row for row in board.rows if row.role is Role.RANDOM}
    full = board.find("full")
    parts, rows = [], []
    for scorer in DENSITY_SCORERS:
        methods = [r for r in board.rows
                   if r.role is Role.METHOD and r.config["scorer"] == scorer and r.config["retention"] in randoms]
        if len(methods) < 2:
            continue
        x, gaps, mean_gaps = [], [], []
        for method in sorted(methods, key=lambda row: row.config["retention"]):
            retention = float(method.config["retention"])
            random_fid = by_seed(randoms[method.config["retention"]], "fid")
            seeded = [fid - random_fid[seed] for seed, fid in by_seed(method, "fid").items() if seed in random_fid]
            x += [retention] * len(seeded)
            gaps += seeded
            mean_gaps.append(f"{format_cell(retention)}: {format_cell(float(np.nanmean(seeded)))}")
        baseline = float(np.nanmean([row_mean(randoms[m.config["retention"]], "fid") for m in methods]))
        result = slope(x, gaps, _flat_margin(baseline, sorted(set(x))))
        numbers = (f"mean FID gap to the random subset by retention {', '.join(mean_gaps)}"
                   + _as_retention_falls(result, "the gap"))
        parts.append(make_part(f"{scorer} − random", DIFFER, result, numbers, name="interaction slope",
                               unit=" FID per retention point"))
        rows += [*methods, *(randoms[m.config["retention"]] for m in methods)]
    if not parts:
        return Evidence(missing="fewer than two retentions with both a density scorer and the random subset")
    if full is not None:
        control = [full, *randoms.values()]
        parts.append(_retention_trend("random subset", control, row_mean(full, "fid"), decides=False))
        rows.append(full)
    return Evidence(parts, rows, caveat=_collapse_caveat(board, rows))


def _finds_atypical(board: Board) -> Evidence:
    """Per density scorer at retention 50: is its AUROC at ranking the known-atypical tenth lowest above chance?

    The selection embedding is fixed across seeds, so one seed's AUROC stands for all; its p-value is the
    two-sided Mann-Whitney test that the AUROC is 0.5 (normal approximation of U, no ties)."""
    parts, rows = [], []
    for scorer, method in _methods(board):
        detection = next((r.audit["detection"] for r in method.records if "detection" in r.audit), None)
        if detection is None:
            continue
        auroc, positives = float(detection["auroc"]), int(detection["n_corrupted"])
        negatives = method.records[0].selection.n_total - positives
        z = (auroc - 0.5) / math.sqrt((positives + negatives + 1) / (12 * positives * negatives))
        spearman = detection.get("typicality_spearman")
        numbers = f"AUROC {format_cell(auroc, 3)} over {positives} atypical of {positives + negatives}" + (
            f", Spearman with the true typicality {format_cell(float(spearman), 3)}" if spearman is not None else "")
        parts.append(Part(scorer, BETTER, Test("Mann-Whitney (AUROC = 0.5)", float(2 * norm.sf(abs(z)))), auroc > 0.5,
                          None, f"AUROC {format_cell(auroc, 3)}", "—", positives + negatives, numbers))
        rows.append(method)
    if not parts:
        return Evidence(missing="no detection scores in the method records")
    return Evidence(parts, rows)


def _scorers_differ(board: Board) -> Evidence:
    """Pairwise FID differences of the density scorers at retention 50; the claim holds when any pair differs."""
    found = _methods(board)
    if len(found) < 2:
        return Evidence(missing="fewer than two scorers at retention 50")
    parts = [versus(f"{a} − {b}", DIFFER, ra, rb, "fid") for (a, ra), (b, rb) in combinations(found, 2)]
    return Evidence(parts, [m for _, m in found], any_part=True)


def _selection_vs_truncation(board: Board) -> Evidence:
    """At matched precision, each density scorer at retention 50 against the truncation row nearest in precision (FID).

    A pair counts only when the two mean precisions lie within the precision margin of each other.
    """
    truncations = [r for r in generator_rows(board.rows) if r.config["scorer"] == "truncation"]
    if not truncations:
        return Evidence(missing="no truncation records on this track: run sample-time `truncation` over a ψ grid "
                                "that spans the selection rows' precision")
    precision = {row.key: row_mean(row, "precision") for row in generator_rows(board.rows)}
    margin = MARGINS["precision"].value
    parts, rows = [], []
    for _, method in _methods(board):
        match = min(truncations, key=lambda t: abs(precision[t.key] - precision[method.key]))
        if abs(precision[match.key] - precision[method.key]) > margin:
            continue
        psi = match.config.get("scorer_options", {}).get("psi", "default")
        label = f"{method.config['scorer']} {format_cell(float(method.config['retention']))}% vs ψ = {psi}"
        parts.append(versus(label, BETTER, method, match, "fid", sign=-1))
        rows += [method, match]
    if not parts:
        shown = ", ".join(format_cell(precision[t.key]) for t in truncations)
        return Evidence(missing=f"no truncation row within ±{format_cell(margin)} precision of a selection row "
                                f"(truncation precision {shown}): run more ψ values")
    return Evidence(parts, rows)


@dataclass(frozen=True)
class ClaimSpec:
    track: str
    claim: str
    test: Callable[[Board], Evidence]
    paper: str = "002"
    gpu: bool = False  # a track only a GPU can run: without records it says so
    about_generators: bool = True  # False: the claim is about the scorers alone (graded even if the generator failed)


_BEATS_FULL = "Each of gaussian, ppca and knn (retention 50) beats full data on FID."
_BEATS_RANDOM = ("Each of gaussian, ppca and knn (retention 50) beats the random 50% subset on FID (selection does more "
                 "than training on less data).")
_PRECISION_RECALL = "Selection raises precision and lowers recall (each density scorer vs the random 50% subset)."
_CAPACITY = ("Selection's FID gain over the random subset of the same size grows as generator capacity shrinks "
             "(interaction of selection × capacity).")
_CAPACITY_BEYOND_RANDOM = ("With the smallest generator, selection beats a random subset of the same size on FID (the "
                           "gain is more than training on less data).")
_LOWERS_CAPACITY = ("Selection lowers capacity requirements: the smallest generator trained on the selected subset is "
                    "as good as the largest generator on full data (FID).")


_RANDOM_MATCHES_FULL = "A random 50% subset is as good as full data on FID."
_DENSITY_COVERAGE = "Selection raises density and coverage (each density scorer vs the random 50% subset)."
_SCORERS_DIFFER = "The density scorers differ in FID at retention 50 (pairwise, paired by seed)."
_CONVERGES_FASTER = ("Curated training converges faster: fewer training steps until the FID reaches the full-data "
                     "model's final FID (same seed) than the full-data model needs.")


_DOSE_RESPONSE_BEYOND_RANDOM = ("Dose-response beyond training on less data: the FID gap between each density "
                                "scorer's subset and the random subset of the same size changes steadily with retention "
                                "(linear trend of the per-seed gap; the random subset's own trend is the contrast).")


def _dose_response_claim(low: int) -> str:
    return (f"Dose-response: FID moves steadily with retention for each density scorer (linear trend of per-seed FID on "
            f"retention {low}–100, full data as 100).")


CLAIMS: tuple[ClaimSpec, ...] = (
    ClaimSpec("digits", _BEATS_FULL, _beats("full", "fid")),
    ClaimSpec("digits", _BEATS_RANDOM, _beats("random", "fid")),
    ClaimSpec("digits", _RANDOM_MATCHES_FULL, _random_matches_full),
    ClaimSpec("digits", _PRECISION_RECALL, _moves(("precision", 1), ("recall", -1))),
    ClaimSpec("digits", _DENSITY_COVERAGE, _moves(("density", 1), ("coverage", 1))),
    ClaimSpec("digits", _dose_response_claim(20), _dose_response),
    ClaimSpec("digits", _DOSE_RESPONSE_BEYOND_RANDOM, _dose_response_beyond_random),
    ClaimSpec("digits", _SCORERS_DIFFER, _scorers_differ),
    ClaimSpec("digits-embedding", "Selection in a randomly initialised embedding (`random-cnn`) gives no FID gain over "
              "the random subset at retention 50.", _random_embedding),
    ClaimSpec("digits", _CONVERGES_FASTER, _converges_faster),
    ClaimSpec("digits-capacity", _CAPACITY, _capacity),
    ClaimSpec("digits-capacity", _CAPACITY_BEYOND_RANDOM, _capacity_beyond_random),
    ClaimSpec("digits-capacity", _LOWERS_CAPACITY, _lowers_capacity),
    ClaimSpec("digits", "At matched precision, selection (retention 50) beats the truncation trick on FID.",
              _selection_vs_truncation),
    ClaimSpec("toy-influence", "Removing the instances the influence scorer flags beats removing the same number at "
              "random: higher held-out average log-likelihood (`all`) and lower outlier mass.", _INFLUENCE_ON_POINTS, "001"),
    ClaimSpec("digits-influence", "Removing the instances the influence scorer flags (FID target, selection space) "
              "beats removing the same number at random: lower FID in an independent space.", _INFLUENCE_ON_IMAGES,
              "001"),
    ClaimSpec("digits-minority", "Generative models replicate the biases of their training data: a minority's share "
              "of the samples equals its share of the data (full-data DCGAN, class 8 at 5%).", _replicates_bias, "000"),
    ClaimSpec("glyphs", _BEATS_FULL, _beats("full", "fid")),
    ClaimSpec("glyphs", _BEATS_RANDOM, _beats("random", "fid")),
    ClaimSpec("glyphs", _RANDOM_MATCHES_FULL, _random_matches_full),
    ClaimSpec("glyphs", _PRECISION_RECALL, _moves(("precision", 1), ("recall", -1))),
    ClaimSpec("glyphs", _DENSITY_COVERAGE, _moves(("density", 1), ("coverage", 1))),
    ClaimSpec("glyphs", _SCORERS_DIFFER, _scorers_differ),
    ClaimSpec("glyphs", _CONVERGES_FASTER, _converges_faster),
    ClaimSpec("glyphs", "The density scorers give the least typical images the lowest scores (AUROC above chance at "
              "finding the tenth of the training glyphs with the lowest true log-density).", _finds_atypical,
              about_generators=False),
    ClaimSpec("glyphs-retention", _dose_response_claim(30), _dose_response),
    ClaimSpec("glyphs-retention", _DOSE_RESPONSE_BEYOND_RANDOM, _dose_response_beyond_random),
    ClaimSpec("glyphs-capacity", _CAPACITY, _capacity),
    ClaimSpec("glyphs-capacity", _CAPACITY_BEYOND_RANDOM, _capacity_beyond_random),
    ClaimSpec("glyphs-capacity", _LOWERS_CAPACITY, _lowers_capacity),
    ClaimSpec("imagenet64", "Each density scorer beats full data on FID at ImageNet 64 × 64, the paper's main setting.",
              _beats("full", "fid"), gpu=True),
    ClaimSpec("cifar10", "Each density scorer beats full data on FID on CIFAR-10.", _beats("full", "fid"), gpu=True),
)


