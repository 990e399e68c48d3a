"""analyze_summary dispatch and the non-inferiority (guardrail) test."""

import numpy as np
import pytest
from scipy import stats

from accuguard.stats.ab import (
    CupedStats,
    Proportion,
    RatioStats,
    SampleMean,
    analyze_summary,
    non_inferiority,
)


def test_dispatches_on_the_statistic_type():
    p = Proportion(n=100, successes=10)
    m = SampleMean.from_values([1.0, 2.0, 4.0])
    r = RatioStats.from_values([1, 2, 3], [2, 2, 4])
    c = CupedStats.from_values([1.0, 2.0, 4.0], [1.0, 1.0, 3.0])
    assert [analyze_summary(s, s).method for s in (p, m, r, c)] == [
        "z-test",
        "welch",
        "delta-ratio",
        "cuped",
    ]
    assert analyze_summary(p, p, pooled=True).method == "z-test-pooled"
    with pytest.raises(
        ValueError, match="must be the same kind of statistic, got Proportion and SampleMean"
    ):
        analyze_summary(p, m)
    with pytest.raises(ValueError, match="pooled=True applies to Proportion only"):
        analyze_summary(m, m, pooled=True)
    with pytest.raises(ValueError, match="sequential tests are two-sided only"):
        analyze_summary(m, m, sequential=True, alternative="less")


def test_non_inferiority_p_value_equals_one_sided_welch_on_shifted_data():
    rng = np.random.default_rng(3)
    c, t = rng.normal(100, 20, 800), rng.normal(101, 20, 800)  # latency: lower is better
    r = non_inferiority(
        SampleMean.from_values(c), SampleMean.from_values(t), margin=5.0, higher_is_better=False
    )
    ref = stats.ttest_ind(t - 5.0, c, equal_var=False, alternative="less")
    assert float(r.p_value) == pytest.approx(ref.pvalue, abs=1e-9)
    upper = stats.ttest_ind(t, c, equal_var=False, alternative="less").confidence_interval(0.95)
    assert float(r.bound) == pytest.approx(upper.high, rel=1e-9)
    assert str(r.verdict) == "non-inferior" and bool(r.passed)


def test_verdicts_inferior_and_inconclusive():
    c = Proportion(n=20_000, successes=2000)
    much_worse = Proportion(n=20_000, successes=1600)
    r = non_inferiority(c, much_worse, margin=0.05, relative=True)
    assert str(r.verdict) == "inferior" and not bool(r.passed)
    small = Proportion(n=500, successes=48)
    assert (
        str(
            non_inferiority(
                Proportion(n=500, successes=50), small, margin=0.05, relative=True
            ).verdict
        )
        == "inconclusive"
    )


def test_sequential_non_inferiority_is_more_conservative():
    c, t = Proportion(n=50_000, successes=500), Proportion(n=50_000, successes=505)
    fixed = non_inferiority(c, t, margin=0.0015, higher_is_better=False)
    seq = non_inferiority(c, t, margin=0.0015, higher_is_better=False, sequential=True)
    assert float(seq.bound) > float(fixed.bound)
    assert float(seq.p_value) >= float(fixed.p_value)


def test_margin_must_be_non_negative():
    s = Proportion(n=10, successes=1)
    with pytest.raises(ValueError, match=r"margin must be a finite number >= 0, got -0\.1"):
        non_inferiority(s, s, margin=-0.1)
