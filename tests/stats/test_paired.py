"""Paired champion-vs-challenger tests against statsmodels, direct DeLong and simulations."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from statsmodels.stats.contingency_tables import mcnemar

from accuguard.stats.paired import (
    PairedResult,
    delong_paired_auc,
    mcnemar_accuracy,
    paired_bootstrap,
    paired_f1,
    paired_verdict,
)


@pytest.mark.parametrize(
    ("lower", "upper", "margin", "verdict"),
    [
        (0.01, 0.05, 0.0, "better"),
        (-0.08, -0.03, 0.02, "worse"),
        (-0.01, 0.03, 0.02, "not_worse"),
        (-0.03, 0.03, 0.02, "inconclusive"),
        (-0.03, 0.03, 0.0, "inconclusive"),
        (-0.05, -0.01, 0.0, "worse"),
        (math.nan, 0.1, 0.0, "inconclusive"),
    ],
)
def test_verdict_rules(lower, upper, margin, verdict):
    assert paired_verdict(lower, upper, margin) == verdict


def test_negative_margin_is_refused():
    with pytest.raises(ValueError, match=r"margin must be a finite number >= 0, got -0.1"):
        paired_verdict(0.0, 1.0, margin=-0.1)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 60), st.integers(0, 60), st.integers(0, 200))
def test_mcnemar_p_value_equals_statsmodels(b, c, both):
    n = b + c + both
    if n == 0:
        return
    r = mcnemar_accuracy(b, c, n, champion_correct=b + both // 2, challenger_correct=c + both // 2)
    ref = mcnemar([[both // 2, b], [c, both - both // 2]], exact=b + c < 25, correction=True)
    assert r.p_value == pytest.approx(float(ref.pvalue), abs=1e-12)
    assert r.method == ("mcnemar-exact" if b + c < 25 else "mcnemar-chi2")
    assert r.difference == pytest.approx((c - b) / n)
    assert r.challenger - r.champion == pytest.approx(r.difference)


def test_mcnemar_interval_is_agresti_min():
    b, c, n = 12, 30, 250
    r = mcnemar_accuracy(b, c, n, champion_correct=200, challenger_correct=218, confidence=0.9)
    p12, p21 = (b + 0.5) / (n + 2), (c + 0.5) / (n + 2)
    se = math.sqrt((p12 + p21 - (p21 - p12) ** 2) / (n + 2))
    z = sps.norm.isf(0.05)
    assert (r.lower, r.upper) == pytest.approx((p21 - p12 - z * se, p21 - p12 + z * se))


def test_mcnemar_interval_covers_the_true_difference_about_as_often_as_promised():
    rng = np.random.default_rng(4)
    probs = np.array([0.70, 0.06, 0.10, 0.14])  # both right, b, c, both wrong
    true_diff = probs[2] - probs[1]
    sims, hits = 400, 0
    for _ in range(sims):
        both, b, c, _ = rng.multinomial(300, probs)
        r = mcnemar_accuracy(int(b), int(c), 300, int(both + b), int(both + c))
        hits += r.lower <= true_diff <= r.upper
    assert 0.92 <= hits / sims <= 0.98


def test_mcnemar_without_rows_is_inconclusive_nan():
    r = mcnemar_accuracy(0, 0, 0, 0, 0)
    assert math.isnan(r.difference) and r.verdict == "inconclusive"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((10, 10, 15, 5, 5), r"b \+ c must be <= n, got b=10, c=10, n=15"),
        ((1, 2, 10, 11, 12), r"champion_correct must be <= n=10, got 11"),
        ((1, 2, 10, 5, 5), r"counts disagree: challenger_correct - champion_correct = 0"),
        ((-1, 2, 10, 5, 8), r"b must be an integer >= 0, got -1"),
    ],
)
def test_mcnemar_rejects_inconsistent_counts(args, message):
    with pytest.raises(ValueError, match=message):
        mcnemar_accuracy(*args)


def _direct_paired_delong(y, s1, s2):
    """O(n^2) DeLong test for two correlated AUCs (DeLong et al. 1988, eq. 2-5)."""

    def placements(s):
        pos, neg = s[y == 1], s[y == 0]
        psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
        return psi.mean(axis=1), psi.mean(axis=0)

    (a10, a01), (b10, b01) = placements(s1), placements(s2)
    m, k = a10.size, a01.size
    var = np.var(b10 - a10, ddof=1) / m + np.var(b01 - a01, ddof=1) / k
    diff = b10.mean() - a10.mean()
    return diff, var, 2 * sps.norm.sf(abs(diff) / math.sqrt(var))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([0, 1, None]))
def test_delong_paired_auc_equals_direct_quadratic_computation(seed, decimals):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 80)
    y[:2] = [0, 1]
    s1 = y + rng.normal(size=80)
    s2 = s1 + rng.normal(scale=0.7, size=80)
    if decimals is not None:
        s1, s2 = np.round(s1, decimals), np.round(s2, decimals)
    diff, var, p = _direct_paired_delong(y, s1, s2)
    r = delong_paired_auc(y, s1, s2)
    assert r.difference == pytest.approx(diff, abs=1e-12)
    assert r.p_value == pytest.approx(p, rel=1e-9, abs=1e-12)
    half = sps.norm.isf(0.025) * math.sqrt(var)
    assert (r.lower, r.upper) == pytest.approx((diff - half, diff + half), abs=1e-9)


def test_delong_paired_test_keeps_its_false_positive_rate_under_the_null():
    rng = np.random.default_rng(9)
    sims, rejections = 400, 0
    for _ in range(sims):
        y = rng.random(150) < 0.4
        signal = rng.normal(size=150) + 0.8 * y
        # two equally good, correlated models: same signal plus independent noise
        s1 = signal + rng.normal(scale=0.8, size=150)
        s2 = signal + rng.normal(scale=0.8, size=150)
        rejections += delong_paired_auc(y, s1, s2).p_value < 0.05
    assert 0.025 <= rejections / sims <= 0.08


def test_identical_models_have_zero_difference_and_p_value_one():
    y = np.array([0, 1, 0, 1, 1, 0])
    s = np.array([0.1, 0.8, 0.3, 0.7, 0.4, 0.5])
    r = delong_paired_auc(y, s, s.copy(), margin=0.01)
    assert (r.difference, r.lower, r.upper, r.p_value) == (0.0, 0.0, 0.0, 1.0)
    assert r.verdict == "not_worse"


def test_delong_paired_auc_with_one_class_is_inconclusive():
    r = delong_paired_auc([1, 1, 1], [0.1, 0.2, 0.3], [0.3, 0.2, 0.1])
    assert math.isnan(r.champion) and r.verdict == "inconclusive"


def test_delong_paired_auc_names_bad_scores():
    with pytest.raises(ValueError, match=r"challenger_score contains 1 NaN values"):
        delong_paired_auc([0, 1], [0.1, 0.2], [0.1, np.nan])


def _f1(y, p):
    tp = np.sum((y == 1) & (p == 1))
    den = 2 * tp + np.sum((y == 0) & (p == 1)) + np.sum((y == 1) & (p == 0))
    return 2 * tp / den if den else math.nan


def _paired_data(seed, n=600):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(int)
    champ = np.where(rng.random(n) < 0.75, y, 1 - y)
    chal = np.where(rng.random(n) < 0.82, y, 1 - y)
    return y, champ, chal


def test_paired_bootstrap_is_seeded_and_oriented():
    y, champ, chal = _paired_data(0)
    a = paired_bootstrap(y, champ, chal, _f1, n_boot=300, seed=1, name="f1")
    assert a == paired_bootstrap(y, champ, chal, _f1, n_boot=300, seed=1, name="f1")
    assert a.difference == pytest.approx(_f1(y, chal) - _f1(y, champ))
    assert a.lower < a.difference < a.upper and a.verdict == "better" and a.p_value < 0.05

    def error(t, p):
        return float(np.mean(t != p))

    lower_better = paired_bootstrap(y, champ, chal, error, n_boot=300, higher_is_better=False)
    assert lower_better.difference == pytest.approx(error(y, champ) - error(y, chal))
    assert lower_better.verdict == "better"


def test_paired_f1_from_joint_cells_agrees_with_the_row_bootstrap():
    y, champ, chal = _paired_data(1, n=2000)
    cells = np.zeros((2, 2, 2), dtype=np.int64)
    np.add.at(cells, (y, champ, chal), 1)
    fast = paired_f1(cells, n_boot=4000, seed=0)
    rows = paired_bootstrap(y, champ, chal, _f1, n_boot=1000, seed=0, name="f1")
    assert isinstance(fast, PairedResult)
    assert (fast.champion, fast.challenger) == pytest.approx((_f1(y, champ), _f1(y, chal)))
    assert fast.lower == pytest.approx(rows.lower, abs=0.006)
    assert fast.upper == pytest.approx(rows.upper, abs=0.006)


def test_paired_bootstrap_p_value_is_uniform_enough_under_the_null():
    rng = np.random.default_rng(12)
    sims, rejections = 200, 0
    for i in range(sims):
        y = (rng.random(300) < 0.5).astype(int)
        champ = np.where(rng.random(300) < 0.8, y, 1 - y)
        chal = np.where(rng.random(300) < 0.8, y, 1 - y)
        cells = np.zeros((2, 2, 2), dtype=np.int64)
        np.add.at(cells, (y, champ, chal), 1)
        rejections += paired_f1(cells, n_boot=500, seed=i).p_value < 0.05
    assert rejections / sims <= 0.09


def test_paired_bootstrap_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"challenger must have 3 rows like y_true"):
        paired_bootstrap([0, 1, 1], [0, 1, 1], [0, 1], _f1)
    with pytest.raises(ValueError, match=r"cells must be a \(2, 2, 2\) array"):
        paired_f1(np.zeros((2, 2)))
