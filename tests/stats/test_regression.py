"""Regression moments and metrics against scikit-learn; merging; stability; delta-method SEs."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm
from statsmodels.stats.weightstats import DescrStatsW

from accuguard.stats.regression import RegressionMoments, regression_metrics

finite = st.floats(-1e4, 1e4).map(lambda v: round(v, 6))  # |y| is 0 or >= 1e-6
pairs = st.integers(2, 200).flatmap(
    lambda n: st.tuples(
        st.lists(finite, min_size=n, max_size=n), st.lists(finite, min_size=n, max_size=n)
    )
)


@settings(max_examples=100, deadline=None)
@given(pairs)
def test_values_equal_sklearn(pair):
    y, p = (np.array(v) for v in pair)
    m = regression_metrics(RegressionMoments.from_arrays(y, p))
    scale = max(1.0, float(np.abs(y).max()), float(np.abs(p).max()))
    assert m["mae"].value == pytest.approx(skm.mean_absolute_error(y, p), abs=1e-12 * scale)
    assert m["rmse"].value == pytest.approx(skm.root_mean_squared_error(y, p), abs=1e-12 * scale)
    if np.ptp(y) > 1e-3 * scale:
        assert m["r2"].value == pytest.approx(skm.r2_score(y, p), rel=1e-9, abs=1e-9)
    nonzero = y != 0
    if nonzero.any():
        expected = skm.mean_absolute_percentage_error(y[nonzero], p[nonzero])
        assert m["mape"].value == pytest.approx(expected, rel=1e-9)


def test_mape_excludes_zero_targets_and_counts_them():
    y = np.array([0.0, 2.0, 4.0, 0.0, 5.0])
    p = np.array([1.0, 1.0, 5.0, -1.0, 5.0])
    mom = RegressionMoments.from_arrays(y, p)
    assert mom.n_zero_target == 2 and mom.n_ape == 3
    assert mom.mape == pytest.approx(skm.mean_absolute_percentage_error(y[y != 0], p[y != 0]))
    assert math.isnan(RegressionMoments.from_arrays([0.0, 0.0], [1.0, 2.0]).mape)


@settings(max_examples=60, deadline=None)
@given(pairs, st.lists(st.integers(1, 199), max_size=5))
def test_merged_chunks_equal_one_pass(pair, cuts):
    y, p = (np.array(v) for v in pair)
    edges = sorted({c for c in cuts if c < y.size})
    merged = RegressionMoments()
    for yc, pc in zip(np.split(y, edges), np.split(p, edges), strict=True):
        merged = merged + RegressionMoments.from_arrays(yc, pc)
    one = RegressionMoments.from_arrays(y, p)
    assert merged.n == one.n and merged.n_ape == one.n_ape
    scale = max(1.0, float(np.abs(y).max()), float(np.abs(p).max()))
    for name in ("mean_abs_err", "mean_sq_err", "mean_y", "mean_ape"):
        assert getattr(merged, name) == pytest.approx(getattr(one, name), rel=1e-9, abs=1e-9)
    for name, power in (
        ("m2_abs_err", 2),
        ("m2_sq_err", 4),
        ("m2_y", 2),
        ("m3_y", 3),
        ("m4_y", 4),
        ("sq_err_d1", 3),
        ("sq_err_d2", 4),
        ("m2_ape", 2),
    ):
        tol = 1e-9 * y.size * scale**power if name != "m2_ape" else 1e-6
        assert getattr(merged, name) == pytest.approx(getattr(one, name), rel=1e-9, abs=tol)


def test_r2_is_stable_for_large_targets_with_small_spread_even_merged_from_sorted_chunks():
    rng = np.random.default_rng(0)
    y = 1e6 + rng.normal(size=20_000)
    p = y + rng.normal(scale=0.5, size=y.size)
    order = np.argsort(y)  # chunk means differ: the hard case for merging
    merged = RegressionMoments()
    for yc, pc in zip(np.array_split(y[order], 9), np.array_split(p[order], 9), strict=True):
        merged = merged + RegressionMoments.from_arrays(yc, pc)
    exact = skm.r2_score(y - 1e6, p - 1e6)  # shifted data: no cancellation in the reference
    assert merged.r2 == pytest.approx(exact, rel=1e-8)
    assert RegressionMoments.from_arrays(y, p).r2 == pytest.approx(exact, rel=1e-10)


def test_mae_and_mape_intervals_are_normal_intervals_of_a_mean():
    rng = np.random.default_rng(1)
    y = rng.uniform(1, 10, 500)
    p = y + rng.normal(size=500)
    m = regression_metrics(RegressionMoments.from_arrays(y, p), confidence=0.9)
    for key, values in (("mae", np.abs(y - p)), ("mape", np.abs(y - p) / np.abs(y))):
        lo, hi = DescrStatsW(values).zconfint_mean(alpha=0.1)
        assert (m[key].lower, m[key].upper) == pytest.approx((lo, hi), rel=1e-9)
        assert m[key].method == "normal"


def test_rmse_interval_is_delta_method_on_mse():
    rng = np.random.default_rng(2)
    y, p = rng.normal(size=400), rng.normal(size=400)
    e2 = (y - p) ** 2
    rmse = math.sqrt(e2.mean())
    se = e2.std(ddof=1) / math.sqrt(e2.size) / (2 * rmse)
    est = regression_metrics(RegressionMoments.from_arrays(y, p))["rmse"]
    assert (est.lower, est.upper) == pytest.approx(
        (rmse - 1.959964 * se, rmse + 1.959964 * se), rel=1e-6
    )


def test_r2_delta_standard_error_matches_the_spread_over_simulated_samples():
    rng = np.random.default_rng(3)
    r2s, halves = [], []
    for _ in range(300):
        x = rng.normal(size=400)
        y = 2.0 * x + rng.standard_t(df=5, size=400)
        p = 2.0 * x
        e = regression_metrics(RegressionMoments.from_arrays(y, p))["r2"]
        r2s.append(e.value)
        halves.append((e.upper - e.lower) / 2)
    empirical_se = np.std(r2s, ddof=1)
    delta_se = np.mean(halves) / 1.959964
    assert delta_se == pytest.approx(empirical_se, rel=0.15)


def test_undefined_cases_are_nan():
    const = RegressionMoments.from_arrays([3.0, 3.0, 3.0], [1.0, 2.0, 3.0])
    assert math.isnan(regression_metrics(const)["r2"].value)
    one = regression_metrics(RegressionMoments.from_arrays([1.0], [2.0]))
    assert one["mae"].value == 1.0 and math.isnan(one["mae"].lower)
    empty = regression_metrics(RegressionMoments())
    assert all(math.isnan(e.value) for e in empty.values())
    perfect = regression_metrics(RegressionMoments.from_arrays([1.0, 2.0], [1.0, 2.0]))
    assert (perfect["rmse"].lower, perfect["rmse"].upper) == (0.0, 0.0)


def test_empty_chunk_is_the_identity():
    m = RegressionMoments.from_arrays([1.0, 2.0, 4.0], [1.5, 2.0, 3.0])
    assert m + RegressionMoments.from_arrays([], []) == m
    assert RegressionMoments() + m == m


@pytest.mark.parametrize(
    ("y", "p", "message"),
    [
        ([1.0, 2.0], [1.0, np.nan], r"y_pred contains 1 NaN values"),
        ([np.nan, 2.0], [1.0, 1.0], r"y_true contains 1 NaN values"),
        ([1.0, np.inf], [1.0, 1.0], r"y_true contains 1 infinite values"),
        ([1.0, 2.0], [1.0], r"y_pred has 1 values but y_true has 2"),
        (["a"], [1.0], r"y_true must be numeric, got dtype <U1"),
        ([[1.0]], [[1.0]], r"y_true must be 1-D, got shape \(1, 1\)"),
    ],
)
def test_bad_inputs_raise_naming_the_argument(y, p, message):
    with pytest.raises(ValueError, match=message):
        RegressionMoments.from_arrays(np.array(y), np.array(p))
