"""Seed statistics against scipy, statsmodels and hand computations: t-intervals, paired and Welch comparisons, TOST,
the minimum detectable effect, Holm, regression slopes, Kaplan–Meier and the log-rank test."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.power import TTestIndPower, TTestPower

from curbench.stats import (
    compare,
    holm,
    kaplan_meier,
    logrank,
    mean_ci,
    minimum_detectable_effect,
    pooled_std,
    slope,
    welch_p,
)


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


def test_values_equal_to_float32_resolution_count_as_one_value():
    # Two FIDs of one kept subset, summed in another order: they differ in the 7th digit, 4.5 float32 ulps apart.
    rounding = mean_ci([15.881398236942914, 15.881389747346475, 15.881398236942914])
    assert rounding.half_width == 0.0 and rounding.std == 0.0
    # A genuine spread of one part in 100 000 (ten times the threshold) is kept, as scipy computes it.
    close = [15.8814, 15.8814 * (1 + 1e-5), 15.8814 * (1 - 1e-5)]
    expected = stats.t.interval(0.95, 2, loc=np.mean(close), scale=stats.sem(close))
    assert mean_ci(close).high == pytest.approx(expected[1], rel=1e-12)
    assert mean_ci(close).half_width > 0


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
    assert welch_p([2.0, 2.0, 2.0], [2.0, 2.0, 2.0]) == 1.0  # identical deterministic cells
    assert welch_p([2.0, 2.0], [3.0, 3.0]) == 0.0


def test_pooled_std_closed_form():
    rng = np.random.default_rng(3)
    groups = [rng.normal(m, 1.0, n) for m, n in ((0, 3), (5, 4), (-2, 3))]
    residuals = np.concatenate([g - g.mean() for g in groups])
    expected = math.sqrt((residuals**2).sum() / (sum(len(g) for g in groups) - len(groups)))
    assert pooled_std([*groups, [9.0]]) == pytest.approx(expected, rel=1e-12)  # a single value adds no dof
    assert math.isnan(pooled_std([[1.0], [2.0]]))


def _seeded(values) -> dict[int, float]:
    return dict(enumerate(values))


def test_rows_with_the_same_seeds_are_compared_by_the_paired_t_test():
    rng = np.random.default_rng(11)
    shared = rng.normal(0.0, 3.0, 6)  # a per-seed effect both rows share: pairing removes it
    a, b = shared + 1.0 + rng.normal(0, 0.3, 6), shared + rng.normal(0, 0.3, 6)
    result = compare(_seeded(a), {seed: b[seed] for seed in reversed(range(6))})  # key order is irrelevant
    reference = stats.ttest_rel(a, b)
    differences = a - b
    low, high = stats.t.interval(0.95, 5, loc=differences.mean(), scale=stats.sem(differences))
    assert result.paired and result.test == "paired t" and result.n == 6
    assert result.p_value == pytest.approx(reference.pvalue, rel=1e-10)
    assert result.estimate == pytest.approx(differences.mean(), rel=1e-12)
    assert (result.low, result.high) == (pytest.approx(low, rel=1e-10), pytest.approx(high, rel=1e-10))
    assert result.p_value < stats.ttest_ind(a, b, equal_var=False).pvalue  # the point of pairing


def test_rows_with_different_seeds_are_compared_by_welch():
    rng = np.random.default_rng(12)
    a, b = rng.normal(2.0, 1.0, 4), rng.normal(0.0, 2.0, 5)
    result = compare(_seeded(a), _seeded(b))  # seeds 0-3 against 0-4: not the same set
    assert not result.paired and result.test == "Welch" and result.n == 4
    assert result.p_value == pytest.approx(_welch_closed_form(a, b), rel=1e-9)
    va, vb = a.var(ddof=1) / 4, b.var(ddof=1) / 5
    dof = (va + vb) ** 2 / (va**2 / 3 + vb**2 / 4)
    half = stats.t.ppf(0.975, dof) * math.sqrt(va + vb)
    assert result.low == pytest.approx(a.mean() - b.mean() - half, rel=1e-9)
    assert result.high == pytest.approx(a.mean() - b.mean() + half, rel=1e-9)
    dropped = compare({0: 1.0, 1: 2.0, 2: float("nan")}, {0: 1.5, 1: 2.5, 2: 3.0})
    assert dropped.test == "Welch"  # a missing value breaks the pairing rather than silently pairing fewer seeds


@pytest.mark.parametrize("shift", [0.0, 0.3, 2.0])
def test_paired_tost_is_the_larger_of_two_shifted_one_sided_t_tests(shift):
    rng = np.random.default_rng(13)
    b = rng.normal(10.0, 2.0, 8)
    a = b + shift + rng.normal(0.0, 0.4, 8)
    margin = 0.8
    d = a - b
    lower = stats.ttest_1samp(d, -margin, alternative="greater").pvalue  # H0: mean difference <= -margin
    upper = stats.ttest_1samp(d, margin, alternative="less").pvalue  # H0: mean difference >= +margin
    assert compare(_seeded(a), _seeded(b), margin).equivalence_p == pytest.approx(max(lower, upper), rel=1e-9)


@pytest.mark.parametrize("shift", [0.0, 0.3, 2.0])
def test_unpaired_tost_is_the_larger_of_two_shifted_welch_tests(shift):
    rng = np.random.default_rng(14)
    a, b = rng.normal(shift, 0.5, 7), rng.normal(0.0, 1.0, 9)
    margin = 0.8
    lower = stats.ttest_ind(a + margin, b, equal_var=False, alternative="greater").pvalue
    upper = stats.ttest_ind(a - margin, b, equal_var=False, alternative="less").pvalue
    result = compare(_seeded(a), {seed + 100: v for seed, v in enumerate(b)}, margin)
    assert result.test == "Welch"
    assert result.equivalence_p == pytest.approx(max(lower, upper), rel=1e-9)


def test_tost_finds_equivalence_with_many_seeds_and_not_with_few():
    rng = np.random.default_rng(15)
    many = rng.normal(0.0, 1.0, 200)
    assert compare(_seeded(many + rng.normal(0, 0.2, 200)), _seeded(many), 0.1).equivalence_p < 0.05
    few = rng.normal(0.0, 1.0, 3)
    assert compare(_seeded(few + rng.normal(0, 0.2, 3)), _seeded(few), 0.1).equivalence_p > 0.05


def test_constant_differences_are_decided_exactly():
    same = compare({0: 2.0, 1: 3.0}, {0: 2.0, 1: 3.0}, margin=0.5)
    assert (same.p_value, same.equivalence_p, same.mde) == (1.0, 0.0, 0.0)
    shifted = compare({0: 3.0, 1: 4.0}, {0: 2.0, 1: 3.0}, margin=0.5)
    assert (shifted.estimate, shifted.p_value, shifted.equivalence_p) == (1.0, 0.0, 1.0)
    assert math.isnan(compare({0: 1.0}, {0: 2.0}).p_value)  # one seed: untestable


def _power_from_noncentral_t(effect: float, dof: int, noncentrality_per_effect: float) -> float:
    critical = stats.t.ppf(0.975, dof)
    nc = effect * noncentrality_per_effect
    return stats.nct.sf(critical, dof, nc) + stats.nct.cdf(-critical, dof, nc)


@pytest.mark.parametrize("n", [3, 5, 10])
def test_the_paired_minimum_detectable_effect_has_power_080(n):
    spread = 2.5
    mde = minimum_detectable_effect(spread, n)
    assert TTestPower().power(effect_size=mde / spread, nobs=n, alpha=0.05) == pytest.approx(0.8, abs=1e-6)
    assert _power_from_noncentral_t(mde / spread, n - 1, math.sqrt(n)) == pytest.approx(0.8, abs=1e-6)
    rng = np.random.default_rng(n)
    a, b = rng.normal(0, 1, n), rng.normal(0, 1, n)
    assert compare(_seeded(a), _seeded(b)).mde == pytest.approx(minimum_detectable_effect(np.std(a - b, ddof=1), n))


def test_the_two_sample_minimum_detectable_effect_has_power_080():
    spread, n1, n2 = 1.5, 5, 8
    mde = minimum_detectable_effect(spread, n1, n2)
    assert TTestIndPower().power(effect_size=mde / spread, nobs1=n1, ratio=n2 / n1, alpha=0.05) == pytest.approx(0.8, abs=1e-6)
    assert _power_from_noncentral_t(mde / spread, n1 + n2 - 2, math.sqrt(n1 * n2 / (n1 + n2))) == pytest.approx(0.8, abs=1e-6)


def test_holm_by_hand():
    # Sorted: 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 = 0.04 -> running max 0.02, 0.03, 0.06, 0.06.
    adjusted = holm([0.01, 0.04, float("nan"), 0.03, 0.005])
    assert adjusted[[0, 1, 3, 4]] == pytest.approx([0.03, 0.06, 0.06, 0.02], rel=1e-12)
    assert math.isnan(adjusted[2])  # a test that could not run is not in the family
    assert holm([0.6, 0.02]) == pytest.approx([0.6, 0.04], rel=1e-12)  # 0.02 · 2, then max(0.6 · 1, 0.04)
    assert holm([0.7, 0.8]) == pytest.approx([1.0, 1.0])  # 0.7 · 2 capped at 1, and no later p below it
    assert len(holm([])) == 0


def test_slope_matches_ordinary_least_squares():
    rng = np.random.default_rng(16)
    x = np.repeat(np.log([3.6e4, 7.5e4, 1.7e5]), 5)
    y = -4.0 * x + rng.normal(0, 3.0, len(x))
    fit = sm.OLS(y, sm.add_constant(x)).fit()
    result = slope(x, y)
    assert result.test == "slope" and result.n == 15
    assert result.estimate == pytest.approx(fit.params[1], rel=1e-10)
    assert result.p_value == pytest.approx(fit.pvalues[1], rel=1e-8)
    low, high = fit.conf_int(0.05)[1]
    assert (result.low, result.high) == (pytest.approx(low, rel=1e-9), pytest.approx(high, rel=1e-9))
    # The minimum detectable slope: power 0.8 for a t-test with n − 2 dof and noncentrality slope / SE.
    assert _power_from_noncentral_t(result.mde / fit.bse[1], 13, 1.0) == pytest.approx(0.8, abs=1e-6)


def test_slope_tost_against_shifted_regressions():
    rng = np.random.default_rng(17)
    x = np.linspace(20, 100, 12)
    y = 0.01 * x + rng.normal(0, 0.5, 12)
    margin = 0.05
    # H0: slope <= -margin is slope(y + margin·x) <= 0; H0: slope >= margin is slope(y − margin·x) >= 0.
    up = sm.OLS(y + margin * x, sm.add_constant(x)).fit()
    down = sm.OLS(y - margin * x, sm.add_constant(x)).fit()
    expected = max(stats.t.sf(up.tvalues[1], up.df_resid), stats.t.cdf(down.tvalues[1], down.df_resid))
    assert slope(x, y, margin).equivalence_p == pytest.approx(expected, rel=1e-8)
    assert math.isnan(slope([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]).p_value)  # no spread in x: no slope


def test_kaplan_meier_median_closed_form():
    # Events at 1, 3, 4; censored at 2 and 5. S(1) = 4/5, S(3) = 4/5 · 2/3 = 0.533, S(4) = 0.533 · 1/2 = 0.267 -> median 4.
    survival = kaplan_meier([1, 2, 3, 4, 5], [True, False, True, True, False])
    assert (survival.median, survival.reached, survival.n) == (4.0, 3, 5)
    assert kaplan_meier([1, 2, 3, 4], [True] * 4).median == 2.0  # S(2) = 0.5 exactly: the median
    assert kaplan_meier([1, 5, 5, 5], [True, False, False, False]).median == math.inf  # S stays at 0.75: not reached
    assert kaplan_meier([5, 5], [False, False]).median == math.inf


def test_logrank_against_a_hand_computation():
    # a: events at 1 and 3, censored at 4; b: events at 2, 5, 6. At each event time (N_a, N, O_a, O):
    # t=1 (3, 6, 1, 1): E_a = 1/2, V = 1/2 · 5/6 · 3/5 = 0.25;  t=2 (2, 5, 0, 1): E_a = 2/5, V = 2/5 · 4/5 · 3/4 = 0.24;
    # t=3 (2, 4, 1, 1): E_a = 1/2, V = 1/2 · 3/4 · 2/3 = 0.25;  t=5, 6: a has no one at risk.
    # z = (O_a − E_a) / √V = (2 − 1.4) / √0.74.
    z, p_value = logrank([1, 3, 4], [True, True, False], [2, 5, 6], [True, True, True])
    assert z == pytest.approx(0.6 / math.sqrt(0.74), rel=1e-10)
    assert p_value == pytest.approx(2 * stats.norm.sf(0.6 / math.sqrt(0.74)), rel=1e-10)
    assert logrank([2, 5, 6], [True] * 3, [1, 3, 4], [True, True, False])[0] == pytest.approx(-z)  # sign: who is earlier
    assert all(math.isnan(v) for v in logrank([9, 9], [False, False], [9, 9], [False, False]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one seed a side, tied: no variance, a nan and no RuntimeWarning
        assert all(math.isnan(v) for v in logrank([150], [True], [150], [True]))
