"""Verdicts of the findings page: tested parts, their outcomes by stated rules, and the equivalence margins.

A claim is tested as parts (one per scorer, metric or instrument), each a test whose p-value enters the
page's Holm family; a part is *supported*, *contradicted* or *inconclusive* by its Holm-adjusted p-values,
and non-significance alone never supports anything. The claims themselves are in :mod:`curbench.boards.claims`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from curbench.boards.rows import Row, directions, number
from curbench.boards.tables import format_cell, format_estimate
from curbench.stats import ALPHA, Comparison, compare, mean_ci

SUPPORTED, CONTRADICTED, INCONCLUSIVE = "supported", "contradicted", "inconclusive"
NOT_RUN, MISSING, IN_PROGRESS = "GPU track only (not run)", "not run yet", "in progress"
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
MINORITY_SHARE = "minority share"
# Kinds of part: A better than B (directional), A as good as B, A and B differ (either way).
BETTER, SAME, DIFFER = "better", "same", "differ"


@dataclass(frozen=True)
class Margin:
    """The equivalence margin of a quantity: a difference inside ±margin counts as no difference."""

    value: float
    relative: bool = False  # a fraction of the second (baseline) row's mean
    why: str = ""

    def of(self, baseline_mean: float) -> float:
        """The margin in the metric's units: ``value`` times ``baseline_mean`` when relative, else ``value``."""
        return self.value * baseline_mean if self.relative else self.value

    def __str__(self) -> str:
        return f"{self.value:.0%} of the baseline row's mean" if self.relative else f"{self.value:g} absolute"


MARGINS = {
    "fid": Margin(0.10, relative=True, why="well inside the seed-to-seed spread of a CPU-track FID"),
    **{metric: Margin(0.02, why="two points of a fraction of samples") for metric in ("precision", "recall", "coverage")},
    "density": Margin(0.02, why="as for precision (density is ≈ 1 when the samples match the data)"),
    MINORITY_SHARE: Margin(0.01, why="a fifth of the planted 5% minority"),
    "all": Margin(0.05, why="nats per held-out point: a 5% change of the likelihood (e^0.05 ≈ 1.05)"),
    "outlier_mass": Margin(0.01, why="a fifth of the toy data's 5% outliers"),
}
# The data-cleansing paper's metrics (Terashita et al.), as (metric, +1 higher is better / -1 lower is better):
# on points, held-out average log-likelihood up and outlier mass down; on images, FID down.
INFLUENCE_METRICS = (("all", 1), ("outlier_mass", -1))
INFLUENCE_IMAGE_METRICS = (("fid", -1),)


@dataclass
class Test:
    """One p-value on the page; ``holm`` is filled in once the whole page's family is known."""

    name: str
    p: float
    holm: float = math.nan

    @property
    def significant(self) -> bool:
        """Whether the Holm-adjusted p is below :data:`ALPHA`; NaN (untestable, not yet adjusted) never is."""
        return self.holm < ALPHA  # nan (untestable) is never significant


@dataclass
class Part:
    """One tested comparison of a claim, with what the page shows about it."""

    label: str
    kind: str
    difference: Test
    toward: bool | None  # BETTER: does the estimate point the claimed way
    equivalence: Test | None
    effect: str
    mde: str
    n: int
    numbers: str
    decides: bool = True  # False: a contrast for context (in the Holm family, not in the verdict)

    @property
    def tests(self) -> list[Test]:
        """The part's p-values for the page's Holm family: the difference test, and TOST when there is a margin."""
        return [self.difference] + ([self.equivalence] if self.equivalence is not None else [])

    def outcome(self) -> str:
        """The part's outcome by its Holm-adjusted tests and kind.

        BETTER needs a significant difference the claimed way, SAME a significant equivalence, DIFFER a significant
        difference; a significant difference contradicts SAME, a significant equivalence contradicts BETTER and
        DIFFER.
        """
        differs = self.difference.significant
        equivalent = self.equivalence is not None and self.equivalence.significant
        if self.kind == BETTER and differs:
            return SUPPORTED if self.toward else CONTRADICTED
        if self.kind == SAME:
            return SUPPORTED if equivalent else (CONTRADICTED if differs else INCONCLUSIVE)
        if self.kind == DIFFER and differs:
            return SUPPORTED
        return CONTRADICTED if equivalent else INCONCLUSIVE  # BETTER and DIFFER: equivalence rules the effect out


@dataclass
class Evidence:
    """What a claim's test found on its track: its parts, the rows behind them, or why nothing could be tested."""

    parts: list[Part] = field(default_factory=list)
    rows: Sequence[Row | None] = field(default_factory=list)
    missing: str = "no records"
    unrun: str = MISSING
    any_part: bool = False  # the claim holds when any part does (e.g. "the scorers differ")
    caveat: Callable[[list[Part]], str] | None = None


@dataclass
class Finding:
    paper: str
    claim: str
    track: str
    tested: Evidence

    @property
    def deciding(self) -> list[Part]:
        """The parts that decide the verdict (context contrasts left out)."""
        return [part for part in self.tested.parts if part.decides]

    @property
    def verdict(self) -> str:
        """Every deciding part supported: supported; one contradicted: contradicted; else inconclusive.

        An any-claim is supported by one supported part and contradicted only when every part is. Without deciding
        parts: ``tested.unrun``.
        """
        outcomes = [part.outcome() for part in self.deciding]
        if not outcomes:
            return self.tested.unrun
        # Every part must hold (one failing part contradicts), or for an any-claim one holding part suffices.
        decisive, rest = (SUPPORTED, CONTRADICTED) if self.tested.any_part else (CONTRADICTED, SUPPORTED)
        if decisive in outcomes:
            return decisive
        return rest if all(outcome == rest for outcome in outcomes) else INCONCLUSIVE

    @property
    def evidence(self) -> str:
        """``label: numbers → outcome`` per part, joined by semicolons, then the caveat; ``tested.missing`` if none."""
        parts = self.tested.parts
        if not parts:
            return self.tested.missing
        lines = [f"{'contrast, ' if not p.decides else ''}{_prefix(p)}{p.numbers} → {p.outcome()}" for p in parts]
        caveat = self.tested.caveat(parts) if self.tested.caveat else ""
        return "; ".join(lines) + (f". {caveat}" if caveat else "")

    @property
    def cells(self) -> list[str]:
        """The sorted ids of the cells whose records the tested rows pool."""
        return sorted({record.cell_id for row in self.tested.rows if row is not None for record in row.records})


def _prefix(part: Part) -> str:
    return f"{part.label}: " if part.label else ""


@dataclass
class Board:
    """One track's rows, looked up by role, scorer, retention and other config fields."""

    track: str
    rows: list[Row]

    def find(self, role: str, scorer: str | None = None, retention: float | None = None, **fields: object) -> Row | None:
        """The first row with ``role`` (and ``scorer``, ``retention`` and config ``fields`` where given), or None."""
        for row in self.rows:
            if row.role != role or (scorer is not None and row.config["scorer"] != scorer):
                continue
            if retention is not None and row.config["retention"] != retention:
                continue
            if all(row.config.get(k) == v for k, v in fields.items()):
                return row
        return None


# --- parts -----------------------------------------------------------------------------------------------------

def by_seed(row: Row, metric: str) -> dict[int, float]:
    """``metric`` of the row's records keyed by seed (NaN where a record lacks it)."""
    return {record.config["seed"]: number(record.metrics.get(metric)) for record in row.records}


def row_mean(row: Row, metric: str) -> float:
    """Mean of ``metric`` over the row's seeds, non-finite values dropped (NaN when none is left)."""
    return mean_ci(list(by_seed(row, metric).values())).mean


def summary(values: Iterable[float], digits: int = 4) -> str:
    """Mean ± 95% CI half-width over seeds, rounded to the uncertainty (:func:`format_estimate`)."""
    interval = mean_ci(list(values))
    if interval.n == 0:
        return "—"
    return format_estimate(interval.mean, interval.half_width if interval.n >= 2 else math.nan, digits=digits)


def effect_text(result: Comparison, unit: str = "") -> str:
    """The estimate ± the half-width of its (symmetric) 95% CI, signed."""
    if math.isnan(result.estimate):
        return "—"
    half_width = math.nan if math.isnan(result.low) else (result.high - result.low) / 2
    text = format_estimate(result.estimate, half_width)
    return f"{'+' if result.estimate > 0 else ''}{text}{unit}"


def make_part(label: str, kind: str, result: Comparison, numbers: str, *, sign: int = 0, name: str = "",
          unit: str = "", decides: bool = True) -> Part:
    """A part from one comparison; ``sign`` is the claimed direction of a BETTER part (+1: A higher, −1: A lower)."""
    equivalence = None
    if math.isfinite(result.margin):
        equivalence = Test(f"TOST ±{result.margin:.4g}{unit}", result.equivalence_p)
    toward = None if sign == 0 or math.isnan(result.estimate) else result.estimate * sign > 0
    return Part(label, kind, Test(name or result.test, result.p_value), toward, equivalence, effect_text(result, unit),
                format_cell(result.mde), result.n, numbers, decides)


def versus(label: str, kind: str, a: Row, b: Row, metric: str, *, sign: int = 0, names: tuple[str, str] = ("", ""),
            decides: bool = True) -> Part:
    """A − B on ``metric``, paired by seed where both ran the same seeds, with B's margin for TOST."""
    a_values, b_values = by_seed(a, metric), by_seed(b, metric)
    margin = MARGINS[metric].of(mean_ci(list(b_values.values())).mean)
    result = compare(a_values, b_values, margin)
    first, second = names
    numbers = f"{first}{summary(a_values.values())} vs {second}{summary(b_values.values())}"
    return make_part(label, kind, result, numbers, sign=sign, decides=decides)


def better_sign(rows: Sequence[Row], metric: str) -> int:
    """+1 when higher is better on ``metric`` (the records declare it), −1 when lower is."""
    return 1 if directions(rows).get(metric, False) else -1


def outcomes(parts: Iterable[Part]) -> str:
    """``label outcome`` of each part, comma-separated."""
    return ", ".join(f"{part.label} {part.outcome()}" for part in parts)


