"""Sufficient statistics: derived values equal numpy, merging equals concatenation."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accuguard.stats.ab import CupedStats, Proportion, RatioStats, SampleMean

values = st.lists(st.floats(-1e4, 1e4), min_size=2, max_size=40)


@settings(max_examples=80, deadline=None)
@given(values, values)
def test_merging_sample_means_equals_summarising_the_concatenation(a, b):
    merged = SampleMean.from_values(a) + SampleMean.from_values(b)
    whole = SampleMean.from_values(a + b)
    assert float(merged.n) == len(a) + len(b)
    assert float(merged.mean) == pytest.approx(float(whole.mean), rel=1e-9, abs=1e-9)
    assert float(merged.variance) == pytest.approx(np.var(a + b, ddof=1), rel=1e-6, abs=1e-6)


def test_ratio_and_cuped_moments_equal_numpy():
    rng = np.random.default_rng(0)
    x, y = rng.normal(3, 1, 100), rng.normal(5, 2, 100)
    r = RatioStats.from_values(x, y)
    assert float(r.ratio) == pytest.approx(x.sum() / y.sum())
    assert float(r.cov_xy) == pytest.approx(np.cov(x, y)[0, 1])
    assert float(r.var_y) == pytest.approx(np.var(y, ddof=1))
    c = CupedStats.from_values(y, x)
    assert float(c.theta) == pytest.approx(np.cov(x, y)[0, 1] / np.var(x, ddof=1))
    merged = CupedStats.from_values(y[:40], x[:40]) + CupedStats.from_values(y[40:], x[40:])
    assert float(merged.cov_xy) == pytest.approx(float(c.cov_xy))


def test_fields_broadcast_and_index():
    s = Proportion(n=[100, 200, 300], successes=[1, 2, 3])
    assert s.shape == (3,)
    assert float(s[1].mean) == pytest.approx(0.01)
    assert Proportion(n=10, successes=[1, 2]).shape == (2,)


def test_undefined_moments_are_nan_without_warnings():
    assert np.isnan(SampleMean(n=0, sum=0, sum_sq=0).mean)
    assert np.isnan(SampleMean(n=1, sum=2, sum_sq=4).variance)
    assert np.isnan(RatioStats(n=3, sum_x=1, sum_y=0, sum_x2=1, sum_y2=0, sum_xy=0).ratio)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Proportion(n=10, successes=11), r"Proportion.successes must be <= n"),
        (lambda: Proportion(n=10, successes=-1), r"Proportion.successes must be a count >= 0, got"),
        (lambda: SampleMean(n=-1, sum=0, sum_sq=0), r"SampleMean.n must be a count >= 0, got -1.0"),
        (
            lambda: SampleMean(n=[5, 5], sum=[1, np.inf], sum_sq=[1, 1]),
            r"SampleMean.sum must be finite, got inf at index \(1,\)",
        ),
        (lambda: SampleMean(n=[1, 2], sum=[1, 2, 3], sum_sq=0), "must broadcast to one shape"),
        (
            lambda: RatioStats(n=2, sum_x=1, sum_y=1, sum_x2=-1, sum_y2=1, sum_xy=1),
            "RatioStats.sum_x2 must be a sum of squares >= 0",
        ),
    ],
)
def test_invalid_sums_raise_precise_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_adding_different_kinds_is_a_type_error():
    with pytest.raises(TypeError):
        SampleMean(n=1, sum=1, sum_sq=1) + Proportion(n=1, successes=1)
