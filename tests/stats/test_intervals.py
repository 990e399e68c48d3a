"""Wilson and normal-mean intervals against statsmodels; percentile interval against numpy."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.proportion import proportion_confint
from statsmodels.stats.weightstats import DescrStatsW

from accuguard.stats.intervals import (
    Estimate,
    check_count,
    mean_interval,
    percentile_interval,
    wilson_interval,
    z_value,
)


@settings(max_examples=100, deadline=None)
@given(
    trials=st.integers(1, 10_000),
    share=st.floats(0, 1),
    confidence=st.sampled_from([0.8, 0.9, 0.95, 0.99]),
)
def test_wilson_interval_equals_statsmodels(trials, share, confidence):
    successes = round(share * trials)
    lo, hi = wilson_interval(successes, trials, confidence)
    ref = proportion_confint(successes, trials, alpha=1 - confidence, method="wilson")
    assert lo == pytest.approx(ref[0], abs=1e-12)
    assert hi == pytest.approx(ref[1], abs=1e-12)


def test_wilson_interval_without_trials_is_nan():
    assert all(math.isnan(x) for x in wilson_interval(0, 0))


def test_wilson_interval_rejects_more_successes_than_trials():
    with pytest.raises(ValueError, match=r"successes must be <= trials, got successes=5 > 4"):
        wilson_interval(5, 4)


@pytest.mark.parametrize("bad", [-1, 1.5, True, "3"])
def test_wilson_interval_rejects_non_counts(bad):
    with pytest.raises(ValueError, match=r"successes must be an integer >= 0"):
        wilson_interval(bad, 10)


@pytest.mark.parametrize("confidence", [0, 1, 1.5, -0.1, float("nan"), "0.95"])
def test_confidence_outside_open_unit_interval_is_refused(confidence):
    with pytest.raises(ValueError, match=r"confidence must be a number strictly between 0 and 1"):
        z_value(confidence)


@settings(max_examples=50, deadline=None)
@given(
    values=st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=200),
    confidence=st.sampled_from([0.9, 0.95, 0.99]),
)
def test_mean_interval_equals_statsmodels_z_interval(values, confidence):
    x = np.array(values)
    est = mean_interval(x.size, float(x.sum()), float((x * x).sum()), confidence)
    lo, hi = DescrStatsW(x).zconfint_mean(alpha=1 - confidence)
    assert est.value == pytest.approx(x.mean(), abs=1e-9)
    scale = max(1.0, float(np.abs(x).max()))
    assert est.lower == pytest.approx(lo, abs=1e-6 * scale)
    assert est.upper == pytest.approx(hi, abs=1e-6 * scale)
    assert est.method == "normal"


def test_mean_interval_of_no_rows_is_nan_and_of_one_row_has_no_interval():
    assert math.isnan(mean_interval(0, 0.0, 0.0).value)
    one = mean_interval(1, 2.0, 4.0)
    assert one.value == 2.0 and math.isnan(one.lower) and math.isnan(one.upper)


def test_percentile_interval_matches_numpy_quantiles_and_ignores_nan():
    draws = np.random.default_rng(3).normal(size=1001)
    expected = np.quantile(draws, [0.025, 0.975])
    with_nan = np.concatenate([draws, [np.nan, np.nan]])
    assert percentile_interval(with_nan, 0.95) == pytest.approx(tuple(expected), abs=1e-15)
    assert all(math.isnan(v) for v in percentile_interval(np.array([np.nan]), 0.95))


def test_undefined_estimate_is_all_nan():
    e = Estimate.undefined("wilson")
    assert math.isnan(e.value) and math.isnan(e.lower) and math.isnan(e.upper)
    assert e.method == "wilson"


def test_check_count_accepts_numpy_integers_and_names_the_argument():
    assert check_count("tp", np.int64(4)) == 4
    with pytest.raises(ValueError, match=r"n_boot must be an integer >= 1, got 0"):
        check_count("n_boot", 0, minimum=1)
