"""Binary and multiclass metrics against scikit-learn and statsmodels; bootstrap coverage."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm
from statsmodels.stats.proportion import proportion_confint

from accuguard.stats.classification import binary_metrics, binary_values, multiclass_metrics


def _counts(y, p):
    tp = int(np.sum((y == 1) & (p == 1)))
    fp = int(np.sum((y == 0) & (p == 1)))
    fn = int(np.sum((y == 1) & (p == 0)))
    tn = int(np.sum((y == 0) & (p == 0)))
    return tp, fp, fn, tn


def _sk(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns on undefined metrics
        return fn(*args, **kwargs)


def _close(a, b, tol=1e-12):
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= tol


binary_pairs = st.integers(1, 300).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 1), min_size=n, max_size=n),
        st.lists(st.integers(0, 1), min_size=n, max_size=n),
    )
)


@settings(max_examples=100, deadline=None)
@given(binary_pairs)
def test_binary_values_equal_sklearn_with_nan_zero_division(pair):
    y, p = (np.array(v) for v in pair)
    m = binary_metrics(*_counts(y, p), n_boot=50)
    nan = {"zero_division": np.nan}
    expected = {
        "accuracy": skm.accuracy_score(y, p),
        "precision": _sk(skm.precision_score, y, p, **nan),
        "recall": _sk(skm.recall_score, y, p, **nan),
        "f1": _sk(skm.f1_score, y, p, **nan),
        "specificity": _sk(skm.recall_score, 1 - y, 1 - p, **nan),
        "false_positive_rate": (
            np.sum((y == 0) & (p == 1)) / np.sum(y == 0) if np.any(y == 0) else math.nan
        ),
        "positive_rate": p.mean(),
        "prevalence": y.mean(),
    }
    assert set(m) == set(expected)
    for key, value in expected.items():
        assert _close(m[key].value, float(value)), key
        assert _close(binary_values(*_counts(y, p))[key], float(value)), key


@settings(max_examples=60, deadline=None)
@given(st.tuples(*[st.integers(0, 500)] * 4), st.sampled_from([0.9, 0.95]))
def test_binary_proportion_intervals_are_statsmodels_wilson(counts, confidence):
    tp, fp, fn, tn = counts
    m = binary_metrics(tp, fp, fn, tn, confidence=confidence, n_boot=20)
    for key, (num, den) in {
        "precision": (tp, tp + fp),
        "recall": (tp, tp + fn),
        "accuracy": (tp + tn, tp + fp + fn + tn),
    }.items():
        if den == 0:
            assert math.isnan(m[key].lower) and math.isnan(m[key].upper)
            continue
        lo, hi = proportion_confint(num, den, alpha=1 - confidence, method="wilson")
        assert m[key].lower == pytest.approx(lo, abs=1e-12)
        assert m[key].upper == pytest.approx(hi, abs=1e-12)
        assert m[key].method == "wilson"


def test_undefined_binary_metrics_are_nan_with_nan_interval():
    m = binary_metrics(tp=0, fp=0, fn=0, tn=10)
    for key in ("precision", "recall", "f1"):
        assert math.isnan(m[key].value) and math.isnan(m[key].lower), key
    assert m["accuracy"].value == 1.0
    empty = binary_metrics(0, 0, 0, 0)
    assert all(math.isnan(e.value) for e in empty.values())


def test_f1_bootstrap_is_seeded_and_contains_the_estimate():
    a = binary_metrics(40, 10, 20, 30, seed=7)["f1"]
    b = binary_metrics(40, 10, 20, 30, seed=7)["f1"]
    assert a == b
    assert a.lower < a.value < a.upper
    assert a.method == "multinomial-bootstrap"


def test_f1_bootstrap_interval_covers_the_true_f1_about_as_often_as_promised():
    rng = np.random.default_rng(11)
    probs = np.array([0.25, 0.08, 0.12, 0.55])  # tp, fp, fn, tn shares
    true_f1 = 2 * probs[0] / (2 * probs[0] + probs[1] + probs[2])
    sims = 300
    hits = 0
    for i in range(sims):
        tp, fp, fn, tn = rng.multinomial(400, probs)
        e = binary_metrics(tp, fp, fn, tn, n_boot=400, seed=i)["f1"]
        hits += e.lower <= true_f1 <= e.upper
    assert 0.90 <= hits / sims <= 0.985


@pytest.mark.parametrize("bad", [-1, 2.5, None])
def test_binary_metrics_rejects_bad_counts_naming_them(bad):
    with pytest.raises(ValueError, match=r"fn must be an integer >= 0"):
        binary_metrics(1, 2, bad, 3)


def test_binary_metrics_rejects_zero_bootstrap_draws():
    with pytest.raises(ValueError, match=r"n_boot must be an integer >= 1, got 0"):
        binary_metrics(1, 2, 3, 4, n_boot=0)


multiclass_pairs = st.tuples(st.integers(2, 6), st.integers(1, 200)).flatmap(
    lambda kn: st.tuples(
        st.lists(st.integers(0, kn[0] - 1), min_size=kn[1], max_size=kn[1]),
        st.lists(st.integers(0, kn[0] - 1), min_size=kn[1], max_size=kn[1]),
    )
)


@settings(max_examples=100, deadline=None)
@given(multiclass_pairs)
def test_multiclass_values_equal_sklearn_with_nan_zero_division(pair):
    y, p = (np.array(v) for v in pair)
    labels = np.union1d(y, p)
    cm = _sk(skm.confusion_matrix, y, p, labels=labels)
    m = multiclass_metrics(cm, n_boot=30)
    nan = {"zero_division": np.nan}
    expected = {
        "accuracy": skm.accuracy_score(y, p),
        "f1_micro": _sk(skm.f1_score, y, p, average="micro", **nan),
        "f1_macro": _sk(skm.f1_score, y, p, average="macro", **nan),
        "f1_weighted": _sk(skm.f1_score, y, p, average="weighted", **nan),
        "precision_macro": _sk(skm.precision_score, y, p, average="macro", **nan),
        "recall_macro": _sk(skm.recall_score, y, p, average="macro", **nan),
    }
    assert set(m) == set(expected)
    for key, value in expected.items():
        assert _close(m[key].value, float(value)), (key, m[key].value, value)


def test_multiclass_ignores_classes_absent_from_truth_and_predictions():
    cm = np.array([[5, 1], [2, 6]])
    padded = np.zeros((3, 3), dtype=int)
    padded[:2, :2] = cm
    a, b = multiclass_metrics(cm), multiclass_metrics(padded)
    for key in a:
        assert a[key].value == pytest.approx(b[key].value, abs=1e-15), key


def test_multiclass_bootstrap_intervals_are_seeded_and_batched_consistently():
    rng = np.random.default_rng(0)
    cm = rng.integers(0, 30, size=(40, 40)) + np.diag(rng.integers(50, 100, size=40))
    a = multiclass_metrics(cm, n_boot=1500, seed=3)
    b = multiclass_metrics(cm, n_boot=1500, seed=3)
    assert a == b
    for key in ("f1_macro", "f1_weighted", "precision_macro", "recall_macro"):
        assert a[key].lower < a[key].value < a[key].upper, key
        assert a[key].method == "multinomial-bootstrap"


def test_multiclass_of_empty_matrix_is_nan():
    m = multiclass_metrics(np.zeros((3, 3), dtype=int))
    assert all(math.isnan(e.value) for e in m.values())


@pytest.mark.parametrize(
    ("confusion", "message"),
    [
        (np.zeros((2, 3)), r"confusion must be a non-empty square 2-D matrix, got shape \(2, 3\)"),
        (np.array([[1, -1], [0, 2]]), r"confusion must hold non-negative integer counts"),
        (np.array([[1.5, 0], [0, 2]]), r"confusion must hold non-negative integer counts"),
        (np.array([["a", "b"], ["c", "d"]]), r"confusion must hold counts, got dtype <U1"),
    ],
)
def test_multiclass_rejects_bad_confusion_matrices(confusion, message):
    with pytest.raises(ValueError, match=message):
        multiclass_metrics(confusion)
