"""KS, chi-square and the drift verdict against scipy and the documented rule."""

import math
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.stats.contingency import association

from accuguard.stats import drift
from accuguard.stats.drift import (
    DEFAULTS,
    chi_square,
    cramers_v,
    drift_verdict,
    ks_2samp_sorted,
    ks_from_sketches,
    ks_pvalue,
    ks_sketch_error_bound,
)


def _exact_summary(values):
    v = np.sort(np.asarray(values, dtype=float))
    return SimpleNamespace(n=v.size, rank_error=0.0, items=lambda: (v, np.ones(v.size)))


@settings(max_examples=100, deadline=None)
@given(
    ref=st.lists(st.integers(0, 15), min_size=1, max_size=60),
    cur=st.lists(st.integers(0, 18), min_size=1, max_size=60),
)
def test_ks_2samp_sorted_equals_scipy_exactly_on_small_samples_with_ties(ref, cur):
    r, c = np.sort(np.array(ref, float)), np.sort(np.array(cur, float))
    with warnings.catch_warnings():  # scipy warns when it falls back from exact to asymp
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = stats.ks_2samp(r, c)
    assert ks_2samp_sorted(r, c) == (expected.statistic, expected.pvalue)


def test_ks_2samp_sorted_falls_back_like_scipy_without_warning_when_exact_fails():
    r, c = np.zeros(5), np.array([0.0, 0, 0, 0, 1])
    with pytest.warns(RuntimeWarning, match="Exact calculation unsuccessful"):
        expected = stats.ks_2samp(r, c)
    assert ks_2samp_sorted(r, c) == (expected.statistic, expected.pvalue)


@pytest.mark.parametrize(
    ("n", "m", "shift"),
    [
        (10_000, 10_000, 0.03),
        (9_999, 10_000, 0.0),
        (10_000, 10_001, 0.05),
        (3_000, 12_000, 0.1),
        (50_000, 70_000, 0.01),
        (200_000, 200_000, 0.0),
    ],
)
def test_ks_2samp_sorted_equals_scipy_around_and_beyond_the_exact_limit(n, m, shift):
    rng = np.random.default_rng(n + m)
    r = np.sort(np.round(rng.normal(size=n), 2))
    c = np.sort(np.round(rng.normal(shift, 1, size=m), 2))
    d, p = ks_2samp_sorted(r, c)
    expected = stats.ks_2samp(r, c)
    assert d == expected.statistic
    assert p == pytest.approx(expected.pvalue, rel=1e-12, abs=1e-300)


def test_ks_pvalue_falls_back_to_the_kolmogorov_distribution_like_scipy(monkeypatch):
    monkeypatch.setattr(
        drift,
        "_attempt_exact_2kssamp",
        lambda n1, n2, g, d, alt: (False, round(d * 6) / 6, math.nan),
    )
    d, p = ks_pvalue(0.5, 2, 3)
    assert d == 0.5
    assert p == pytest.approx(stats.kstwo.sf(0.5, round(6 / 5)), rel=1e-14)


@pytest.mark.parametrize(
    ("ref", "cur", "message"),
    [
        (np.array([2.0, 1.0]), np.array([1.0]), "ref_sorted must be sorted"),
        (np.array([1.0]), np.array([1.0, np.nan]), "cur_sorted must not contain NaN"),
        (np.array([]), np.array([1.0]), "must not be empty; got sizes 0 and 1"),
    ],
)
def test_ks_2samp_sorted_rejects_bad_samples(ref, cur, message):
    with pytest.raises(ValueError, match=message):
        ks_2samp_sorted(ref, cur)


def test_ks_pvalue_rejects_empty_sizes():
    with pytest.raises(ValueError, match="sample sizes must be >= 1; got n=0, m=5"):
        ks_pvalue(0.1, 0, 5)


def test_ks_from_exact_summaries_equals_the_exact_statistic_and_asymptotic_p():
    rng = np.random.default_rng(1)
    r, c = rng.normal(size=30_000), rng.normal(0.05, 1, 20_000)
    d, p = ks_from_sketches(_exact_summary(r), _exact_summary(c))
    expected = stats.ks_2samp(r, c, method="asymp")
    assert d == pytest.approx(expected.statistic, abs=1e-15)
    assert p == pytest.approx(expected.pvalue, rel=1e-9)


def test_ks_from_sketches_of_an_empty_side_is_nan():
    empty = SimpleNamespace(n=0, rank_error=0.0, items=lambda: (np.zeros(0), np.zeros(0)))
    assert all(math.isnan(x) for x in ks_from_sketches(empty, _exact_summary([1.0])))


def test_ks_sketch_error_bound_adds_rank_errors():
    a, b = SimpleNamespace(rank_error=0.002), SimpleNamespace(rank_error=0.001)
    assert ks_sketch_error_bound(a, b) == pytest.approx(0.003)


@settings(max_examples=100, deadline=None)
@given(k=st.integers(2, 12), data=st.data())
def test_chi_square_equals_scipy_chi2_contingency_without_correction(k, data):
    ref = data.draw(st.lists(st.integers(0, 200), min_size=k, max_size=k))
    cur = data.draw(st.lists(st.integers(0, 200), min_size=k, max_size=k))
    table = np.array([ref, cur])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return
    ref_counts = {f"c{i}": v for i, v in enumerate(ref) if v}
    cur_counts = {f"c{i}": v for i, v in enumerate(cur) if v}
    stat, p, dof = chi_square(ref_counts, cur_counts)
    expected = stats.chi2_contingency(table, correction=False)
    assert stat == pytest.approx(expected.statistic, rel=1e-10, abs=1e-12)
    assert p == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)
    assert dof == expected.dof
    v = cramers_v(stat, int(table.sum()), table.shape[1])
    assert v == pytest.approx(association(table, method="cramer"), rel=1e-9, abs=1e-12)


def test_chi_square_includes_categories_unseen_in_reference():
    stat, p, dof = chi_square({"a": 10, "b": 10}, {"a": 10, "b": 5, "new": 5})
    expected = stats.chi2_contingency([[10, 10, 0], [10, 5, 5]], correction=False)
    assert (stat, dof) == (pytest.approx(expected.statistic), 2)
    assert p == pytest.approx(expected.pvalue)


def test_chi_square_edge_cases_are_documented_values():
    assert chi_square({"a": 5}, {"a": 9}) == (0.0, 1.0, 0)
    stat, p, dof = chi_square({}, {"a": 1, "b": 2})
    assert math.isnan(stat) and math.isnan(p) and dof == 1
    with pytest.raises(ValueError, match="must be non-negative"):
        chi_square({"a": -1, "b": 2}, {"a": 1})


def test_cramers_v_edge_cases():
    assert cramers_v(3.0, 100, 1) == 0.0
    assert math.isnan(cramers_v(3.0, 0, 2))


def test_defaults_are_the_documented_thresholds():
    assert {m: (d.alpha, d.threshold) for m, d in DEFAULTS.items()} == {
        "ks": (0.05, 0.05),
        "chi_square": (0.05, 0.1),
        "psi": (None, 0.2),
        "wasserstein": (None, 0.1),
        "jensenshannon": (None, 0.1),
    }


@pytest.mark.parametrize(
    ("method", "p_value", "effect", "drifted"),
    [
        ("ks", 0.01, 0.06, True),
        ("ks", 0.2, 0.3, False),  # big but not significant (small samples)
        ("ks", 1e-12, 0.02, False),  # significant but trivial (huge samples)
        ("ks", 0.01, 0.05, True),  # the minimum itself counts
        ("chi_square", 0.001, 0.09, False),
        ("chi_square", 0.001, 0.1, True),
        ("psi", None, 0.2, True),
        ("wasserstein", None, 0.09, False),
        ("jensenshannon", None, 0.11, True),
        ("ks", math.nan, 0.5, False),
        ("psi", None, math.nan, False),
    ],
)
def test_drift_verdict_needs_significance_and_effect(method, p_value, effect, drifted):
    result = drift_verdict(method, effect, p_value, effect)
    assert result.drifted is drifted
    assert result.threshold == DEFAULTS[method].threshold


def test_drift_verdict_overrides_and_keeps_detail():
    result = drift_verdict("ks", 0.2, 0.03, 0.2, alpha=0.01, min_effect=0.1, detail={"psi": 1.0})
    assert not result.drifted
    assert result.threshold == 0.1 and result.detail == {"psi": 1.0}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "t_test"}, "method must be one of .*got 't_test'"),
        ({"alpha": 1.5}, r"alpha must be in \(0, 1\); got 1.5"),
        ({"min_effect": -0.1}, "min_effect must be >= 0; got -0.1"),
    ],
)
def test_drift_verdict_rejects_bad_settings(kwargs, message):
    args = {"method": "ks", "statistic": 0.1, "p_value": 0.01, "effect": 0.1} | kwargs
    with pytest.raises(ValueError, match=message):
        drift_verdict(**args)
