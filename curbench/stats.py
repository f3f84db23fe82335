"""Statistics over seeds: t-intervals, paired and Welch comparisons with TOST and the minimum detectable effect,
Holm's correction, regression slopes, and time-to-event (Kaplan–Meier, log-rank) for censored steps."""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestIndPower, TTestPower
from statsmodels.stats.weightstats import ttost_ind, ttost_paired

CONFIDENCE = 0.95
ALPHA = 0.05  # the test level: below it a difference (or, for TOST, an equivalence) counts as shown

_Key = TypeVar("_Key", bound=Hashable)


@dataclass(frozen=True)
class Interval:
    """Mean over seeds with the half-width of its two-sided t confidence interval (nan below two seeds)."""

    mean: float
    half_width: float
    std: float
    n: int

    @property
    def low(self) -> float:
        """Lower end of the confidence interval (NaN below two seeds)."""
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        """Upper end of the confidence interval (NaN below two seeds)."""
        return self.mean + self.half_width


def _finite(values: Sequence[float] | np.ndarray) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64).ravel()
    return array[np.isfinite(array)]


# Features are float32, so values that agree to a few float32 ulps are the same number computed in another
# summation order (threads, batch order), not seeds that differ.
FLOAT32_RESOLUTION = 16 * float(np.finfo(np.float32).eps)


def _std(array: np.ndarray) -> float:
    """Sample standard deviation (ddof = 1); exactly 0 for values equal to float32 resolution (relative spread at
    most ``FLOAT32_RESOLUTION``), where rounding would otherwise show as a spurious ``± 0.0000058``."""
    same = np.ptp(array) <= FLOAT32_RESOLUTION * np.abs(array).max()
    return 0.0 if same else float(array.std(ddof=1))


def mean_ci(values: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """Mean ± t_{(1+c)/2, n-1} · s / √n with the sample standard deviation s (ddof = 1); non-finite values are dropped."""
    array = _finite(values)
    n = len(array)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = float(array.mean())
    if n == 1:
        return Interval(mean, math.nan, math.nan, 1)
    std = _std(array)
    half_width = float(stats.t.ppf((1 + confidence) / 2, n - 1) * std / math.sqrt(n))
    return Interval(mean, half_width, std, n)


def welch_p(method: Sequence[float], baseline: Sequence[float]) -> float:
    """Two-sided p-value of Welch's unequal-variance t-test; nan when either side has fewer than two seeds.

    Two constant samples (zero variance, where the t statistic is undefined) give p = 1 when
    their means are equal and p = 0 when they differ.
    """
    a, b = _finite(method), _finite(baseline)
    if len(a) < 2 or len(b) < 2:
        return math.nan
    if _std(a) == 0 and _std(b) == 0:
        return 1.0 if a.mean() == b.mean() else 0.0
    with warnings.catch_warnings():  # one constant side (e.g. a deterministic selection) is a valid input
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def pooled_std(groups: Sequence[Sequence[float] | np.ndarray]) -> float:
    """√(Σ (n_i − 1) s_i² / Σ (n_i − 1)) over groups of at least two finite values; nan when there are none."""
    squares, dof = 0.0, 0
    for group in groups:
        array = _finite(group)
        if len(array) >= 2:
            squares += float(((array - array.mean()) ** 2).sum())
            dof += len(array) - 1
    return math.sqrt(squares / dof) if dof else math.nan


POWER = 0.8  # the power at which the minimum detectable effect is computed


@dataclass(frozen=True)
class Comparison:
    """One test of a difference: the estimate with its 95% CI, the two-sided p-value, and what the data could detect.

    ``estimate`` is mean(a) − mean(b) for two samples (the mean per-seed difference when paired)
    or the slope of a regression. ``mde`` is the smallest true effect, in the same units, that
    the test finds with probability ``POWER`` at level ``ALPHA``. ``equivalence_p`` is the TOST
    p-value for |effect| < ``margin`` (nan without a margin).
    """

    estimate: float
    low: float
    high: float
    p_value: float
    n: int
    mde: float
    test: str  # "paired t", "Welch" or "slope"
    margin: float = math.nan
    equivalence_p: float = math.nan

    @property
    def paired(self) -> bool:
        """Whether the test was a paired t-test on per-seed differences (else Welch or a slope)."""
        return self.test == "paired t"


def _untestable(test: str, n: int, estimate: float = math.nan) -> Comparison:
    return Comparison(estimate, math.nan, math.nan, math.nan, n, math.nan, test)


def _by_key(values: Mapping[_Key, float]) -> dict[_Key, float]:
    return {key: float(value) for key, value in values.items() if math.isfinite(value)}


def compare(a: Mapping[_Key, float], b: Mapping[_Key, float], margin: float = math.nan) -> Comparison:
    """a − b, values keyed by seed. Paired t-test on the per-seed differences when both have the same seeds (cells of
    one seed share the generator's initialisation), else Welch; with a margin, also the TOST equivalence p-value."""
    a, b = _by_key(a), _by_key(b)
    if a.keys() == b.keys():
        seeds = sorted(a, key=str)
        x, y = np.array([a[s] for s in seeds]), np.array([b[s] for s in seeds])
        return _paired(x, y, margin)
    return _welch(np.array(list(a.values())), np.array(list(b.values())), margin)


def _paired(x: np.ndarray, y: np.ndarray, margin: float) -> Comparison:
    n, differences = len(x), x - y
    if n < 2:
        return _untestable("paired t", n, float(differences.mean()) if n else math.nan)
    mean, spread = float(differences.mean()), _std(differences)
    if spread == 0:  # the t statistic is undefined; equal differences are decided exactly
        return _exact(mean, n, "paired t", margin)
    result = stats.ttest_rel(x, y)
    ci = result.confidence_interval(CONFIDENCE)
    equivalence = ttost_paired(x, y, -margin, margin)[0] if math.isfinite(margin) else math.nan
    return Comparison(mean, float(ci.low), float(ci.high), float(result.pvalue), n,
                      minimum_detectable_effect(spread, n), "paired t", margin, float(equivalence))


def _welch(x: np.ndarray, y: np.ndarray, margin: float) -> Comparison:
    n = min(len(x), len(y))
    if n < 2:
        return _untestable("Welch", n)
    mean = float(x.mean() - y.mean())
    if _std(x) == 0 and _std(y) == 0:
        return _exact(mean, n, "Welch", margin)
    with warnings.catch_warnings():  # one constant side (e.g. a deterministic selection) is a valid input
        warnings.simplefilter("ignore", RuntimeWarning)
        result = stats.ttest_ind(x, y, equal_var=False)
        ci = result.confidence_interval(CONFIDENCE)
        equivalence = ttost_ind(x, y, -margin, margin, usevar="unequal")[0] if math.isfinite(margin) else math.nan
    mde = minimum_detectable_effect(pooled_std([x, y]), len(x), len(y))
    return Comparison(mean, float(ci.low), float(ci.high), float(result.pvalue), n, mde, "Welch", margin, float(equivalence))


def _exact(mean: float, n: int, test: str, margin: float) -> Comparison:
    """Zero spread: the difference is known exactly, so each test is decided with certainty."""
    equivalence = float(abs(mean) >= margin) if math.isfinite(margin) else math.nan
    return Comparison(mean, mean, mean, float(mean == 0), n, 0.0, test, margin, equivalence)


def minimum_detectable_effect(spread: float, n: int, n_other: int | None = None) -> float:
    """The true difference a two-sided t-test at ALPHA detects with probability POWER, in the data's units.

    Paired (``n_other`` None): Cohen's d of a one-sample test on n differences times their SD.
    Two samples: the two-sample d times the pooled SD (the power of Welch's test is close to it).
    """
    if n < 2 or not math.isfinite(spread):
        return math.nan
    if n_other is None:
        d = TTestPower().solve_power(nobs=n, alpha=ALPHA, power=POWER, alternative="two-sided")
    else:
        d = TTestIndPower().solve_power(nobs1=n, ratio=n_other / n, alpha=ALPHA, power=POWER, alternative="two-sided")
    return float(d) * spread


def slope(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray, margin: float = math.nan) -> Comparison:
    """Least-squares slope of y on x with its 95% CI and two-sided p (t with n − 2 dof), the slope's minimum
    detectable value and, with a margin, the TOST p-value for |slope| < margin."""
    xs, ys = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    keep = np.isfinite(xs) & np.isfinite(ys)
    xs, ys = xs[keep], ys[keep]
    n = len(xs)
    if n < 3 or np.ptp(xs) == 0:
        return _untestable("slope", n)
    fit = stats.linregress(xs, ys)
    dof, error = n - 2, float(fit.stderr)
    half_width = float(stats.t.ppf((1 + CONFIDENCE) / 2, dof)) * error
    # The slope's t-test has the noncentrality and dof of a one-sample test on n − 1 values, hence nobs = n − 1.
    mde = float(TTestPower().solve_power(nobs=n - 1, alpha=ALPHA, power=POWER, alternative="two-sided")) * math.sqrt(n - 1) * error
    equivalence = math.nan
    if math.isfinite(margin):  # two one-sided tests against −margin and +margin; statsmodels has none for a slope
        equivalence = max(float(stats.t.sf((fit.slope + margin) / error, dof)),
                          float(stats.t.cdf((fit.slope - margin) / error, dof)))
    return Comparison(float(fit.slope), float(fit.slope) - half_width, float(fit.slope) + half_width,
                      float(fit.pvalue), n, mde, "slope", margin, equivalence)


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm-adjusted p-values of one family (nan entries, tests that could not run, stay nan and do not count)."""
    p = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full_like(p, math.nan)
    finite = np.isfinite(p)
    if finite.any():
        adjusted[finite] = multipletests(p[finite], alpha=ALPHA, method="holm")[1]
    return adjusted


@dataclass(frozen=True)
class Survival:
    """Time to an event over seeds, right-censored where it never happened: Kaplan–Meier median and how many reached it."""

    median: float  # inf when the survival curve never falls to 0.5 ("not reached")
    reached: int
    n: int


def _censored(times: Sequence[float], reached: Sequence[bool]) -> stats.CensoredData:
    t, event = np.asarray(times, dtype=np.float64), np.asarray(reached, dtype=bool)
    return stats.CensoredData(uncensored=t[event], right=t[~event])


def kaplan_meier(times: Sequence[float], reached: Sequence[bool]) -> Survival:
    """The Kaplan–Meier median: the first time the estimated survival S(t) falls to 0.5 or below."""
    events = int(np.sum(reached))
    if events == 0:
        return Survival(math.inf, 0, len(times))
    curve = stats.ecdf(_censored(times, reached)).sf
    below = np.flatnonzero(curve.probabilities <= 0.5 + 1e-12)  # S = 0.5 exactly can round to just above it
    median = float(curve.quantiles[below[0]]) if len(below) else math.inf
    return Survival(median, events, len(times))


def logrank(times_a: Sequence[float], reached_a: Sequence[bool], times_b: Sequence[float],
            reached_b: Sequence[bool]) -> tuple[float, float]:
    """(z, two-sided p) of the log-rank test; z > 0 when a reaches the event earlier than b. nan without any event,
    or without variance (every event at one time, as with one seed a side)."""
    if not (np.any(reached_a) or np.any(reached_b)) or min(len(times_a), len(times_b)) == 0:
        return math.nan, math.nan
    with np.errstate(invalid="ignore", divide="ignore"):  # zero variance: scipy's 0/0 is the nan we return
        result = stats.logrank(_censored(times_a, reached_a), _censored(times_b, reached_b))
    return float(result.statistic), float(result.pvalue)
