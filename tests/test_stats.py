"""Seed statistics against scipy and closed forms: t-intervals, Welch's test, pooled spread."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from curbench.stats import indistinguishable, mean_ci, pooled_std, welch_p


@pytest.mark.parametrize("n", [2, 3, 5, 12])
def test_mean_ci_matches_scipy_t_interval(n):
    values = np.random.default_rng(n).normal(3.0, 2.0, n)
    low, high = stats.t.interval(0.95, n - 1, loc=values.mean(), scale=stats.sem(values))
    interval = mean_ci(values)
    assert interval.n == n
    assert interval.mean == pytest.approx(values.mean(), rel=1e-12)
    assert interval.low == pytest.approx(low, rel=1e-10)
    assert interval.high == pytest.approx(high, rel=1e-10)


def test_mean_ci_known_value():
    # 1, 2, 3: mean 2, s = 1, t_{0.975, 2} = 4.302652729..., half-width = 4.3026527 / sqrt(3).
    assert mean_ci([1.0, 2.0, 3.0]).half_width == pytest.approx(4.302652729911275 / math.sqrt(3), rel=1e-9)


def test_mean_ci_edge_cases():
    assert mean_ci([]).n == 0 and math.isnan(mean_ci([]).mean)
    single = mean_ci([4.0])
    assert single.mean == 4.0 and math.isnan(single.half_width)
    constant = mean_ci([0.8, 0.8, 0.8])
    assert constant.half_width == 0.0 and constant.std == 0.0
    assert mean_ci([1.0, float("nan"), 3.0]).n == 2  # a missing metric does not poison the row


def test_t_interval_covers_the_true_mean_at_the_nominal_rate():
    # With 3 seeds a normal (z) interval would cover only ~0.80; the t interval must cover ~0.95.
    rng = np.random.default_rng(0)
    trials = rng.normal(0.0, 1.0, (2000, 3))
    covered = np.mean([mean_ci(row).low <= 0.0 <= mean_ci(row).high for row in trials])
    assert abs(covered - 0.95) < 0.015


def _welch_closed_form(a: np.ndarray, b: np.ndarray) -> float:
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    t = (a.mean() - b.mean()) / math.sqrt(va + vb)
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))  # Welch-Satterthwaite
    return 2 * stats.t.sf(abs(t), dof)


@pytest.mark.parametrize("shift", [0.0, 0.5, 3.0])
def test_welch_p_matches_scipy_and_the_satterthwaite_formula(shift):
    rng = np.random.default_rng(7)
    a, b = rng.normal(shift, 1.0, 3), rng.normal(0.0, 2.0, 4)
    p_value = welch_p(a, b)
    assert p_value == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue, rel=1e-10)
    assert p_value == pytest.approx(_welch_closed_form(a, b), rel=1e-9)


def test_welch_false_positive_rate_is_alpha():
    rng = np.random.default_rng(1)
    p_values = np.array([welch_p(rng.normal(size=3), rng.normal(size=3)) for _ in range(2000)])
    assert abs(np.mean(p_values < 0.05) - 0.05) < 0.015  # 3 binomial standard errors


def test_welch_degenerate_cases():
    assert math.isnan(welch_p([1.0], [1.0, 2.0]))  # one seed: untestable
    assert indistinguishable(welch_p([1.0], [1.0, 2.0])) is None
    assert welch_p([2.0, 2.0, 2.0], [2.0, 2.0, 2.0]) == 1.0  # identical deterministic cells
    assert welch_p([2.0, 2.0], [3.0, 3.0]) == 0.0
    assert indistinguishable(0.05) is True and indistinguishable(0.049) is False


def test_pooled_std_closed_form():
    rng = np.random.default_rng(3)
    groups = [rng.normal(m, 1.0, n) for m, n in ((0, 3), (5, 4), (-2, 3))]
    residuals = np.concatenate([g - g.mean() for g in groups])
    expected = math.sqrt((residuals**2).sum() / (sum(len(g) for g in groups) - len(groups)))
    assert pooled_std([*groups, [9.0]]) == pytest.approx(expected, rel=1e-12)  # a single value adds no dof
    assert math.isnan(pooled_std([[1.0], [2.0]]))
