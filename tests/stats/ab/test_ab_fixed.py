"""Fixed-horizon tests against scipy and statsmodels (1e-9) and against raw-data routes."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats import proportion as smp

from accuguard.stats.ab import (
    CupedStats,
    Proportion,
    RatioStats,
    SampleMean,
    cuped_test,
    cuped_theta,
    ratio_test,
    two_proportion_ztest,
    welch_ttest,
)

SM_ALT = {"two-sided": "two-sided", "greater": "larger", "less": "smaller"}


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_welch_equals_scipy_ttest_ind_and_its_interval(seed, alternative):
    rng = np.random.default_rng(seed)
    c = rng.normal(10, 2, size=rng.integers(5, 400))
    t = rng.normal(10.3, 3, size=rng.integers(5, 400))
    ref = stats.ttest_ind(t, c, equal_var=False, alternative=alternative)
    ci = ref.confidence_interval(0.9)
    r = welch_ttest(
        SampleMean.from_values(c), SampleMean.from_values(t), alpha=0.1, alternative=alternative
    )
    assert float(r.p_value) == pytest.approx(ref.pvalue, abs=1e-9, rel=1e-9)
    assert float(r.statistic) == pytest.approx(ref.statistic, rel=1e-9)
    assert float(r.dof) == pytest.approx(ref.df, rel=1e-9)
    assert float(r.diff_lower) == pytest.approx(ci.low, rel=1e-9, abs=1e-9)
    assert float(r.diff_upper) == pytest.approx(ci.high, rel=1e-9, abs=1e-9)


def test_welch_null_value_equals_scipy_on_shifted_data():
    rng = np.random.default_rng(7)
    c, t = rng.normal(0, 1, 300), rng.normal(0.4, 1.5, 200)
    ref = stats.ttest_ind(t - 0.25, c, equal_var=False, alternative="greater")
    r = welch_ttest(
        SampleMean.from_values(c), SampleMean.from_values(t), null_value=0.25, alternative="greater"
    )
    assert float(r.p_value) == pytest.approx(ref.pvalue, abs=1e-9)


@pytest.mark.parametrize(
    ("xc", "nc", "xt", "nt"),
    [
        (320, 10_000, 380, 10_000),
        (12, 150, 30, 170),
        (5, 40, 1, 45),
        (9_000, 300_000, 9_500, 290_000),
    ],
)
@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_z_test_equals_statsmodels_wald_test_and_interval(xc, nc, xt, nt, alternative):
    r = two_proportion_ztest(
        Proportion(n=nc, successes=xc),
        Proportion(n=nt, successes=xt),
        alternative=alternative,
        null_value=0.001,
    )
    ref = smp.test_proportions_2indep(
        xt,
        nt,
        xc,
        nc,
        value=0.001,
        method="wald",
        compare="diff",
        alternative=SM_ALT[alternative],
        correction=False,
    )
    assert float(r.p_value) == pytest.approx(ref.pvalue, abs=1e-9)
    assert float(r.statistic) == pytest.approx(ref.statistic, rel=1e-9)
    lo, hi = smp.confint_proportions_2indep(
        xt, nt, xc, nc, method="wald", compare="diff", alpha=0.05
    )
    two = two_proportion_ztest(Proportion(n=nc, successes=xc), Proportion(n=nt, successes=xt))
    assert float(two.diff_lower) == pytest.approx(lo, abs=1e-9)
    assert float(two.diff_upper) == pytest.approx(hi, abs=1e-9)


@pytest.mark.parametrize(("xc", "nc", "xt", "nt"), [(320, 10_000, 380, 10_000), (12, 150, 30, 170)])
@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_pooled_z_test_equals_statsmodels_proportions_ztest(xc, nc, xt, nt, alternative):
    r = two_proportion_ztest(
        Proportion(n=nc, successes=xc),
        Proportion(n=nt, successes=xt),
        alternative=alternative,
        pooled=True,
    )
    stat, p = smp.proportions_ztest([xt, xc], [nt, nc], alternative=SM_ALT[alternative])
    assert float(r.p_value) == pytest.approx(p, abs=1e-9)
    assert float(r.statistic) == pytest.approx(stat, rel=1e-9)


def test_pooled_z_test_refuses_a_margin():
    with pytest.raises(ValueError, match="pooled=True tests only"):
        two_proportion_ztest(
            Proportion(n=10, successes=1),
            Proportion(n=10, successes=2),
            pooled=True,
            null_value=0.1,
        )


def test_ratio_variance_equals_the_variance_of_the_linearised_metric():
    rng = np.random.default_rng(3)
    y = rng.poisson(4, 2000) + 1.0
    x = rng.binomial(y.astype(int), 0.3).astype(float)
    s = RatioStats.from_values(x, y)
    r = x.sum() / y.sum()
    linear = (x - r * y) / y.mean()  # first-order Taylor expansion of the ratio per unit
    assert float(s.variance) == pytest.approx(np.var(linear, ddof=1), rel=1e-9)


def test_ratio_test_covers_the_true_ratio_difference_in_simulation():
    # clustered data: sessions per user vary, clicks per session differ between arms
    rng = np.random.default_rng(11)
    runs, n = 1500, 400

    def arm(p):
        y = rng.poisson(3, (runs, n)) + 1
        return RatioStats.from_values(rng.binomial(y, p), y)

    r = ratio_test(arm(0.20), arm(0.22))
    covered = (r.diff_lower <= 0.02) & (r.diff_upper >= 0.02)
    mc = np.sqrt(0.95 * 0.05 / runs)
    assert abs(covered.mean() - 0.95) < 4 * mc, f"coverage {covered.mean():.4f} ± {mc:.4f}"


def test_cuped_equals_welch_on_the_adjusted_raw_values():
    rng = np.random.default_rng(5)
    xc, xt = rng.normal(5, 2, 500), rng.normal(5, 2, 450)
    yc = 1.5 * xc + rng.normal(0, 1, 500)
    yt = 1.5 * xt + 0.3 + rng.normal(0, 1, 450)
    theta = np.cov(np.r_[xc, xt], np.r_[yc, yt])[0, 1] / np.var(np.r_[xc, xt], ddof=1)
    c, t = CupedStats.from_values(yc, xc), CupedStats.from_values(yt, xt)
    assert float(cuped_theta(c, t)) == pytest.approx(theta, rel=1e-9)
    ref = stats.ttest_ind(yt - theta * xt, yc - theta * xc, equal_var=False)
    r = cuped_test(c, t)
    assert float(r.p_value) == pytest.approx(ref.pvalue, abs=1e-9)
    ci = ref.confidence_interval(0.95)
    assert float(r.diff_lower) == pytest.approx(ci.low, rel=1e-9)
    assert float(r.diff_upper) == pytest.approx(ci.high, rel=1e-9)
    assert float(r.control_mean) == pytest.approx(yc.mean())  # unadjusted, as reported


def test_cuped_reduces_variance_on_correlated_data():
    rng = np.random.default_rng(8)
    runs, n, rho = 400, 1000, 0.8

    def arm(shift):
        x = rng.normal(0, 1, (runs, n))
        y = rho * x + np.sqrt(1 - rho**2) * rng.normal(0, 1, (runs, n)) + shift
        return CupedStats.from_values(y, x)

    c, t = arm(0.0), arm(0.05)
    plain = welch_ttest(c.as_sample_mean(), t.as_sample_mean())
    adjusted = cuped_test(c, t)
    # the standard error shrinks by sqrt(1 - rho^2) = 0.6 ...
    ratio = float(np.mean(adjusted.diff_se / plain.diff_se))
    assert ratio == pytest.approx(np.sqrt(1 - rho**2), rel=0.02)
    # ... and so does the spread of the estimates across runs (the real variance)
    assert np.var(adjusted.diff) < 0.5 * np.var(plain.diff)
    assert abs(float(np.mean(adjusted.diff)) - 0.05) < 3 * np.std(adjusted.diff) / np.sqrt(runs)


def test_cuped_without_covariate_variance_is_plain_welch():
    rng = np.random.default_rng(1)
    yc, yt = rng.normal(0, 1, 50), rng.normal(0, 1, 60)
    c, t = CupedStats.from_values(yc, np.zeros(50)), CupedStats.from_values(yt, np.zeros(60))
    a, b = cuped_test(c, t), welch_ttest(c.as_sample_mean(), t.as_sample_mean())
    assert float(a.p_value) == pytest.approx(float(b.p_value), abs=1e-12)


def test_relative_standard_error_matches_simulated_spread():
    rng = np.random.default_rng(2)
    runs, n = 4000, 2000
    c = Proportion(n=n, successes=rng.binomial(n, 0.1, runs))
    t = Proportion(n=n, successes=rng.binomial(n, 0.12, runs))
    r = two_proportion_ztest(c, t)
    assert float(np.std(r.rel_diff)) == pytest.approx(float(np.mean(r.rel_se)), rel=0.05)
    covered = (r.rel_lower <= 0.2) & (r.rel_upper >= 0.2)
    mc = np.sqrt(0.95 * 0.05 / runs)
    assert abs(covered.mean() - 0.95) < 4 * mc, f"coverage {covered.mean():.4f} ± {mc:.4f}"


def test_welch_interval_covers_the_true_difference_95_percent_of_runs():
    rng = np.random.default_rng(21)
    runs, n = 5000, 50
    c = SampleMean.from_values(rng.exponential(1.0, (runs, n)))  # skewed data, small n
    t = SampleMean.from_values(rng.exponential(1.0, (runs, n + 20)) + 0.1)
    r = welch_ttest(c, t)
    covered = (r.diff_lower <= 0.1) & (r.diff_upper >= 0.1)
    mc = np.sqrt(0.95 * 0.05 / runs)
    assert abs(covered.mean() - 0.95) < 4 * mc, (
        f"coverage {covered.mean():.4f} ± {mc:.4f} (MC error)"
    )


def test_matches_gbstats_0_8_0_two_sided_ttest():
    # numbers printed by gbstats 0.8.0 TwoSidedTTest (bench/experiments_vs_gbstats.py
    # compares 10,000 such pairs)
    a = SampleMean(n=5000, sum=51_000.0, sum_sq=1_030_000.0)
    b = SampleMean(n=5100, sum=54_500.0, sum_sq=1_110_000.0)
    rel = welch_ttest(a, b, relative=True)
    assert float(rel.rel_diff) == pytest.approx(0.04767397154940408, abs=1e-12)
    assert float(rel.rel_lower) == pytest.approx(0.007974050482022509, abs=1e-12)
    assert float(rel.rel_upper) == pytest.approx(0.08737389261678566, abs=1e-12)
    assert float(rel.p_value) == pytest.approx(0.01859562377764612, abs=1e-12)
    ab = welch_ttest(a, b)
    assert float(ab.diff_lower) == pytest.approx(0.09089461225721229, abs=1e-12)
    assert float(ab.p_value) == pytest.approx(0.015933894926655423, abs=1e-12)


def test_undefined_results_are_nan_without_warnings():
    one = SampleMean.from_values([1.0])
    two = SampleMean.from_values([1.0, 2.0])
    assert np.isnan(welch_ttest(one, two).p_value)
    empty = Proportion(n=0, successes=0)
    r = two_proportion_ztest(empty, Proportion(n=10, successes=3))
    assert np.isnan(r.p_value) and np.isnan(r.rel_diff)
    zero = Proportion(n=100, successes=0)
    assert np.isnan(two_proportion_ztest(zero, zero).p_value)
    assert np.isnan(two_proportion_ztest(zero, Proportion(n=100, successes=5)).rel_diff)
    same = SampleMean.from_values([2.0, 2.0, 2.0])
    assert np.isnan(welch_ttest(same, same).p_value)
    # no variance in either arm: the t distribution is undefined (dof 0/0)
    assert np.isnan(welch_ttest(same, SampleMean.from_values([3.0, 3.0])).p_value)


def test_vectorised_call_equals_one_call_per_experiment():
    rng = np.random.default_rng(4)
    c = SampleMean.from_values(rng.normal(0, 1, (20, 30)))
    t = SampleMean.from_values(rng.normal(0.2, 1, (20, 40)))
    r = welch_ttest(c, t, relative=False)
    for i in range(20):
        one = welch_ttest(c[i], t[i])
        assert float(one.p_value) == float(r.p_value[i])
        assert float(one.diff_upper) == float(r.diff_upper[i])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=30),
    st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=30),
)
def test_swapping_arms_negates_the_difference_and_keeps_the_p_value(c, t):
    a, b = SampleMean.from_values(c), SampleMean.from_values(t)
    r1, r2 = welch_ttest(a, b), welch_ttest(b, a)
    assert float(r1.diff) == pytest.approx(-float(r2.diff), abs=1e-9)
    if np.isfinite(r1.p_value):
        assert 0.0 <= float(r1.p_value) <= 1.0
        assert float(r1.p_value) == pytest.approx(float(r2.p_value), abs=1e-9)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alpha": 1.5}, "alpha must be a number strictly between 0 and 1, got 1.5"),
        ({"alpha": 0}, "alpha must be a number strictly between 0 and 1"),
        ({"alternative": "larger"}, "alternative must be one of"),
        ({"null_value": float("nan")}, "null_value must be finite"),
    ],
)
def test_bad_settings_raise_precise_errors(kwargs, message):
    s = SampleMean.from_values([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=message):
        welch_ttest(s, s, **kwargs)
