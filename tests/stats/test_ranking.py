"""ROC AUC and average precision against scikit-learn; DeLong against a direct O(n^2) form."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from sklearn.metrics import average_precision_score, roc_auc_score

from accuguard.stats.ranking import average_precision, delong_covariance, roc_auc


def _placements(y, s):
    """Direct DeLong (1988) placement values by comparing every positive/negative pair."""
    pos, neg = s[y == 1], s[y == 0]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    return psi.mean(axis=1), psi.mean(axis=0)


def _direct_covariance(y, scores):
    parts = [_placements(y, s) for s in scores]
    v10 = np.array([p[0] for p in parts])
    v01 = np.array([p[1] for p in parts])
    m, k = v10.shape[1], v01.shape[1]
    return v10.mean(axis=1), np.cov(v10) / m + np.cov(v01) / k


labelled_scores = st.integers(2, 120).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 1), min_size=n, max_size=n).filter(lambda v: 0 < sum(v) < len(v)),
        st.lists(st.floats(0, 1), min_size=n, max_size=n),
        st.sampled_from([0, 1, 2, None]),  # decimals: heavy ties, or none
    )
)


@settings(max_examples=100, deadline=None)
@given(labelled_scores)
def test_roc_auc_and_average_precision_equal_sklearn_with_ties(data):
    labels, scores, decimals = data
    y = np.array(labels)
    s = np.array(scores) if decimals is None else np.round(scores, decimals)
    assert roc_auc(y, s).value == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert average_precision(y, s).value == pytest.approx(average_precision_score(y, s), abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(labelled_scores)
def test_delong_variance_equals_direct_pairwise_computation(data):
    labels, scores, decimals = data
    y = np.array(labels)
    s = np.array(scores) if decimals is None else np.round(scores, decimals)
    if min(y.sum(), (1 - y).sum()) < 2:
        assert math.isnan(roc_auc(y, s).lower)
        return
    auc, var = _direct_covariance(y, s[None, :])
    est = roc_auc(y, s, confidence=0.9)
    half = sps.norm.isf(0.05) * math.sqrt(float(var))
    assert est.value == pytest.approx(float(auc[0]), abs=1e-12)
    assert est.lower == pytest.approx(max(0.0, auc[0] - half), abs=1e-9)
    assert est.upper == pytest.approx(min(1.0, auc[0] + half), abs=1e-9)
    assert est.method == "delong"


def test_delong_covariance_of_two_models_equals_direct_computation():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 300)
    signal = y + rng.normal(size=300)
    scores = np.stack([np.round(signal + rng.normal(size=300), 1), signal])
    aucs, cov = delong_covariance(y, scores)
    ref_aucs, ref_cov = _direct_covariance(y, scores)
    np.testing.assert_allclose(aucs, ref_aucs, atol=1e-12)
    np.testing.assert_allclose(cov, ref_cov, atol=1e-12)


def test_delong_interval_covers_the_true_auc_about_as_often_as_promised():
    rng = np.random.default_rng(2)
    shift = 1.0
    true_auc = sps.norm.cdf(shift / math.sqrt(2))  # binormal, unit variances
    sims, hits = 300, 0
    for _ in range(sims):
        y = rng.random(200) < 0.4
        s = rng.normal(size=200) + shift * y
        e = roc_auc(y, s)
        hits += e.lower <= true_auc <= e.upper
    assert 0.91 <= hits / sims <= 0.985


def test_ranking_on_a_million_rows_equals_sklearn():
    rng = np.random.default_rng(0)
    y = rng.random(1_000_000) < 0.1
    s = np.round(rng.random(1_000_000) + 0.2 * y, 3)
    assert roc_auc(y, s).value == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert average_precision(y, s).value == pytest.approx(average_precision_score(y, s), abs=1e-12)


def test_average_precision_interval_is_boyd_logit_interval():
    y = np.array([0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0])
    s = np.array([0.1, 0.9, 0.35, 0.4, 0.8, 0.2, 0.7, 0.6, 0.3, 0.05, 0.5, 0.45])
    e = average_precision(y, s, confidence=0.95)
    ap, n_pos = average_precision_score(y, s), y.sum()
    tau = 1 / math.sqrt(n_pos * ap * (1 - ap))
    eta = math.log(ap / (1 - ap))
    assert e.lower == pytest.approx(1 / (1 + math.exp(-(eta - 1.959964 * tau))), abs=1e-6)
    assert e.upper == pytest.approx(1 / (1 + math.exp(-(eta + 1.959964 * tau))), abs=1e-6)
    assert e.method == "logit"


def test_one_class_only_gives_nan_instead_of_raising():
    s = np.array([0.2, 0.4, 0.9])
    for y in ([0, 0, 0], [1, 1, 1]):
        e = roc_auc(y, s)
        assert math.isnan(e.value) and math.isnan(e.lower)
    assert math.isnan(average_precision([0, 0, 0], s).value)
    all_positive = average_precision([1, 1, 1], s)
    assert all_positive.value == pytest.approx(average_precision_score([1, 1, 1], s))
    assert math.isnan(all_positive.lower)
    aucs, cov = delong_covariance([1, 1, 1], s[None, :])
    assert np.isnan(aucs).all() and np.isnan(cov).all()


def test_perfect_separation_gives_degenerate_intervals():
    y, s = np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9])
    auc = roc_auc(y, s)
    assert (auc.value, auc.lower, auc.upper) == (1.0, 1.0, 1.0)
    ap = average_precision(y, s)
    assert ap.value == 1.0 and math.isnan(ap.lower)


def test_a_single_row_of_a_class_gives_a_value_without_interval():
    e = roc_auc([0, 0, 1], [0.1, 0.5, 0.3])
    assert e.value == pytest.approx(0.5) and math.isnan(e.lower)


@pytest.mark.parametrize(
    ("y", "s", "message"),
    [
        ([], [], r"y_true is empty"),
        ([0, 1, 2], [0.1, 0.2, 0.3], r"y_true must hold only 0 and 1 \(or booleans\), found 2"),
        ([0, 1, np.nan], [0.1, 0.2, 0.3], r"y_true contains 1 NaN values"),
        (["a", "b"], [0.1, 0.2], r"y_true must hold 0/1 or booleans, got dtype <U1"),
        ([0, 1, 1], [0.1, np.nan, np.nan], r"y_score contains 2 NaN values"),
        ([0, 1, 1], [0.1, 0.2], r"y_score must be 1-D with 3 values"),
        ([0, 1], ["a", "b"], r"y_score must be numeric, got dtype <U1"),
    ],
)
def test_bad_inputs_raise_naming_the_argument(y, s, message):
    for fn in (roc_auc, average_precision):
        with pytest.raises(ValueError, match=message):
            fn(np.array(y), np.array(s))


def test_delong_covariance_rejects_one_dimensional_scores():
    with pytest.raises(ValueError, match=r"scores must be 2-D \(n_models, n_rows\)"):
        delong_covariance([0, 1], [0.1, 0.2])
