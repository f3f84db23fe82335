"""Statistics over seeds: mean with a t-interval, and whether a method differs from the random baseline."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
ALPHA = 0.05  # Welch's t-test level below which a method counts as distinguishable from random


@dataclass(frozen=True)
class Interval:
    """Mean over seeds with the half-width of its two-sided t confidence interval (nan below two seeds)."""

    mean: float
    half_width: float
    std: float
    n: int

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width


def _finite(values: Sequence[float]) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64).ravel()
    return array[np.isfinite(array)]


def _std(array: np.ndarray) -> float:
    """Sample standard deviation (ddof = 1); exactly 0 for equal values, where rounding of the mean would leave ~1e-16."""
    return 0.0 if np.ptp(array) == 0 else float(array.std(ddof=1))


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


def indistinguishable(p_value: float, alpha: float = ALPHA) -> bool | None:
    """True where the test cannot tell the method from random (p >= alpha); None when it could not run."""
    if math.isnan(p_value):
        return None
    return p_value >= alpha


def pooled_std(groups: Sequence[Sequence[float]]) -> float:
    """√(Σ (n_i − 1) s_i² / Σ (n_i − 1)) over groups of at least two finite values; nan when there are none."""
    squares, dof = 0.0, 0
    for group in groups:
        array = _finite(group)
        if len(array) >= 2:
            squares += float(((array - array.mean()) ** 2).sum())
            dof += len(array) - 1
    return math.sqrt(squares / dof) if dof else math.nan
