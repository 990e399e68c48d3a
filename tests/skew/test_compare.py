"""The row-by-row comparison and its drift, against independent references (no Feast)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats

from accuguard.skew import Tolerance, compare_feature


def test_numeric_match_rule_equals_numpy_isclose_with_the_store_as_reference():
    rng = np.random.default_rng(3)
    store = rng.normal(100.0, 30.0, 2000)
    logged = store * (1 + rng.choice([0.0, 1e-8, 1e-5, -1e-3], 2000)) + rng.choice(
        [0.0, 1e-10, 0.5], 2000
    )
    tol = Tolerance(absolute=1e-9, relative=1e-6)
    c = compare_feature(logged.tolist(), pa.array(store), tol)
    reference = ~np.isclose(logged, store, rtol=1e-6, atol=1e-9)
    assert c.kind == "numeric"
    assert np.array_equal(c.mismatch, reference)
    assert c.mismatches == int(reference.sum()) > 0
    assert c.mismatch_rate == reference.mean()


def test_missing_on_one_side_or_wrong_type_is_a_mismatch_both_missing_is_not():
    c = compare_feature([None, None, 3, "3", True, 5.0], pa.array([None, 2.0, None, 3.0, 1.0, 5]))
    assert c.mismatch.tolist() == [False, True, True, True, True, False]
    assert (c.logged_nulls, c.store_nulls, c.wrong_type) == (2, 2, 2)
    assert c.max_abs_difference == 0.0


def test_categorical_values_must_be_equal_and_of_the_same_kind():
    logged = ["a", "1", 1, True, "true", None, "b"]
    store = pa.array(["a", "1", "1", "True", "true", None, "a"])
    c = compare_feature(logged, store)
    assert c.kind == "categorical"
    assert c.mismatch.tolist() == [False, False, True, True, False, False, True]
    assert c.wrong_type == 2
    booleans = compare_feature([True, False, None, 1], pa.array([True, True, None, True]))
    assert booleans.mismatch.tolist() == [False, True, False, True]


def test_numeric_drift_is_scipy_ks_2samp_of_store_against_logged():
    rng = np.random.default_rng(5)
    store = rng.normal(0, 1, 800)
    logged = store.copy()
    logged[:300] += 1.5
    c = compare_feature(logged.tolist(), pa.array(store))
    ref = stats.ks_2samp(store, logged)
    assert c.drift.method == "ks"
    assert c.drift.statistic == pytest.approx(ref.statistic, abs=1e-12)
    assert c.drift.p_value == pytest.approx(ref.pvalue, rel=1e-6)
    assert c.drift.drifted


def test_categorical_drift_is_scipy_chi_square_of_the_two_count_vectors():
    store = ["x"] * 500 + ["y"] * 300 + ["z"] * 200
    logged = ["x"] * 300 + ["y"] * 300 + ["z"] * 400
    c = compare_feature(logged, pa.array(store))
    table = np.array([[500, 300, 200], [300, 300, 400]])
    ref = stats.chi2_contingency(table, correction=False)
    assert c.drift.method == "chi_square"
    assert c.drift.statistic == pytest.approx(ref.statistic, rel=1e-9)
    assert c.drift.p_value == pytest.approx(ref.pvalue, rel=1e-6)
    assert c.mismatches == 400


def test_identical_values_have_no_mismatch_and_no_drift():
    values = np.random.default_rng(1).normal(0, 1, 500)
    c = compare_feature(values.tolist(), pa.array(values))
    assert (c.mismatches, c.drift.drifted, c.drift.statistic) == (0, False, 0.0)


def test_negative_tolerance_is_refused():
    with pytest.raises(ValueError, match="tolerances must be >= 0"):
        Tolerance(absolute=-1)


def test_docstring_examples_pass():
    import doctest

    import accuguard.skew.check
    import accuguard.skew.compare

    for module in (accuguard.skew.compare, accuguard.skew.check):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__
