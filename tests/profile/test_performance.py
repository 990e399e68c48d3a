"""Performance profiles: merged chunks equal one pass, and equal scikit-learn / statsmodels."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm
from statsmodels.stats.contingency_tables import mcnemar

from accuguard.profile.performance import (
    BinaryProfile,
    MulticlassProfile,
    PairedBinaryProfile,
    RegressionProfile,
    fairness_gaps,
    segment_table,
)


def _binary_data(seed, n=3000):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.35).astype(int)
    score = np.clip(np.round(0.35 * y + rng.random(n) * 0.65, 2), 0, 1)
    score[:3] = [0.0, 1.0, 0.0]  # exercise log-loss clipping at both ends
    return y, (score >= 0.5).astype(int), score


def _chunked(builder, arrays, cuts):
    total = None
    for part in zip(*(np.split(a, cuts) for a in arrays), strict=True):
        p = builder(*part)
        total = p if total is None else total + p
    return total


def test_binary_profile_metrics_equal_sklearn():
    y, pred, score = _binary_data(0)
    m = BinaryProfile.from_arrays(y, pred, score).metrics()
    expected = {
        "accuracy": skm.accuracy_score(y, pred),
        "precision": skm.precision_score(y, pred),
        "recall": skm.recall_score(y, pred),
        "f1": skm.f1_score(y, pred),
        "roc_auc": skm.roc_auc_score(y, score),
        "average_precision": skm.average_precision_score(y, score),
        "log_loss": skm.log_loss(y, score),
        "brier": skm.brier_score_loss(y, score),
    }
    for key, value in expected.items():
        assert m[key].value == pytest.approx(value, rel=1e-12), key
        assert m[key].lower <= m[key].value <= m[key].upper, key
    assert m["log_loss"].method == "normal" and m["roc_auc"].method == "delong"


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 1000), st.lists(st.integers(1, 2999), max_size=6))
def test_merged_binary_chunks_equal_one_pass(seed, cuts):
    y, pred, score = _binary_data(seed)
    cuts = sorted(set(cuts))
    merged = _chunked(BinaryProfile.from_arrays, (y, pred, score), cuts)
    one = BinaryProfile.from_arrays(y, pred, score)
    np.testing.assert_array_equal(merged.confusion_matrix, one.confusion_matrix)
    np.testing.assert_array_equal(merged.y_score, one.y_score)
    a, b = merged.metrics(), one.metrics()
    for key in b:
        assert a[key].value == pytest.approx(b[key].value, rel=1e-12), key
        assert a[key].upper == pytest.approx(b[key].upper, rel=1e-9), key


def test_confusion_matrix_uses_sklearn_layout():
    y, pred, _ = _binary_data(1)
    p = BinaryProfile.from_arrays(y, pred)
    np.testing.assert_array_equal(p.confusion_matrix, skm.confusion_matrix(y, pred))
    assert p.n == y.size
    assert "roc_auc" not in p.metrics()  # no score, no score metrics


def test_scores_outside_unit_interval_keep_auc_but_not_log_loss_or_brier():
    y = np.array([0, 1, 0, 1])
    margin = np.array([-2.0, 1.5, 0.3, 3.0])
    m = BinaryProfile.from_arrays(y, (margin > 0).astype(int), margin).metrics()
    assert m["roc_auc"].value == pytest.approx(skm.roc_auc_score(y, margin))
    assert math.isnan(m["log_loss"].value) and math.isnan(m["brier"].value)


def test_string_labels_with_a_configured_positive_label():
    y = np.array(["spam", "ham", "spam", "ham"])
    p = np.array(["spam", "spam", "ham", "ham"])
    prof = BinaryProfile.from_arrays(y, p, positive_label="spam")
    assert (prof.tp, prof.fp, prof.fn, prof.tn) == (1, 1, 1, 1)


@pytest.mark.parametrize(
    ("y", "pred", "score", "message"),
    [
        ([0, 1, 1, 0], [0, np.nan, np.nan, np.nan], None, r"y_pred contains 3 NaN values"),
        ([0, 2, 1], [0, 1, 1], None, r"y_true must hold only 0 and 1 \(or booleans\), found 2"),
        ([0, 1, 1], [0, 1], None, r"y_pred has 2 values but y_true has 3"),
        ([0, 1], [0, 1], [0.2, np.nan], r"y_score contains 1 NaN values"),
    ],
)
def test_bad_binary_input_raises_naming_the_argument(y, pred, score, message):
    with pytest.raises(ValueError, match=message):
        BinaryProfile.from_arrays(
            np.array(y), np.array(pred), None if score is None else np.array(score)
        )


def test_a_third_label_is_refused():
    with pytest.raises(ValueError, match=r"only one other label is allowed.*2: 'eggs', 'ham'"):
        BinaryProfile.from_arrays(
            np.array(["spam", "ham"]), np.array(["eggs", "spam"]), positive_label="spam"
        )
    with pytest.raises(ValueError, match=r"y_true contains 1 missing \(None or NaN\) values"):
        BinaryProfile.from_arrays(
            np.array(["spam", None], dtype=object), np.array(["spam", "ham"]), positive_label="spam"
        )


def test_text_labels_need_a_matching_positive_label():
    with pytest.raises(ValueError, match=r"found 2: '0', '1' \(is positive_label right\?\)"):
        BinaryProfile.from_arrays(np.array(["0", "1"]), np.array(["1", "1"]))
    with pytest.raises(ValueError, match=r"found 2: '1', 0"):
        BinaryProfile.from_arrays(np.array([0, 1]), np.array(["1", "1"]))


def test_merging_scored_and_unscored_profiles_is_refused():
    scored = BinaryProfile.from_arrays([0, 1], [0, 1], [0.1, 0.9])
    with pytest.raises(ValueError, match=r"cannot merge a BinaryProfile with scores and one"):
        scored + BinaryProfile.from_arrays([0, 1], [0, 1])


def test_empty_profiles_are_the_identity():
    p = BinaryProfile.from_arrays([0, 1], [0, 1], [0.1, 0.9])
    assert (BinaryProfile() + p) is p and (p + BinaryProfile.from_arrays([], [], [])) is p
    m = BinaryProfile().metrics()
    assert all(math.isnan(e.value) for e in m.values())


def test_multiclass_profiles_with_different_labels_merge_to_one_pass():
    rng = np.random.default_rng(3)
    labels = np.array(["ant", "bee", "cat", "dog", "eel"])
    y = labels[rng.integers(0, 5, 900)]
    p = np.where(rng.random(900) < 0.7, y, labels[rng.integers(0, 5, 900)])
    y[:300] = np.where(y[:300] == "eel", "ant", y[:300])  # first chunk never sees "eel"
    p[:300] = np.where(p[:300] == "eel", "bee", p[:300])
    merged = _chunked(MulticlassProfile.from_arrays, (y, p), [300, 650])
    one = MulticlassProfile.from_arrays(y, p)
    assert merged.labels == one.labels == tuple(labels.tolist())
    np.testing.assert_array_equal(merged.confusion, one.confusion)
    np.testing.assert_array_equal(merged.confusion, skm.confusion_matrix(y, p, labels=labels))
    m = merged.metrics()
    assert m["f1_macro"].value == pytest.approx(skm.f1_score(y, p, average="macro"))
    assert merged.n == 900


def test_multiclass_integer_labels_and_empty_profile():
    p = MulticlassProfile.from_arrays(np.array([3, 1, 2]), np.array([3, 1, 1]))
    assert p.labels == (1, 2, 3)
    assert MulticlassProfile() + p is p
    assert math.isnan(MulticlassProfile().metrics()["accuracy"].value)
    with pytest.raises(ValueError, match=r"y_pred contains 1 NaN values"):
        MulticlassProfile.from_arrays(np.array([1.0, 2.0]), np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match=r"y_true contains 2 missing \(None or NaN\) values"):
        MulticlassProfile.from_arrays(
            np.array(["a", None, np.nan], dtype=object), np.array(["a", "b", "c"])
        )
    with pytest.raises(ValueError, match=r"y_true must hold labels of one type"):
        MulticlassProfile.from_arrays(np.array(["a", 1], dtype=object), np.array(["a", "b"]))
    with pytest.raises(ValueError, match=r"must hold labels of the same type, got int64 and"):
        MulticlassProfile.from_arrays(np.array([1, 2]), np.array(["a", "b"]))


def test_regression_profile_merges_and_matches_sklearn():
    rng = np.random.default_rng(4)
    y = rng.normal(50, 10, 1000)
    p = y + rng.normal(size=1000)
    merged = _chunked(RegressionProfile.from_arrays, (y, p), [100, 555])
    m = merged.metrics()
    assert merged.n == 1000 and merged.moments.n == 1000
    assert m["r2"].value == pytest.approx(skm.r2_score(y, p), rel=1e-12)
    assert m["rmse"].value == pytest.approx(skm.root_mean_squared_error(y, p), rel=1e-12)


def _paired_data(seed, n=2000):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(int)
    s1 = np.clip(0.3 * y + rng.random(n) * 0.7, 0, 1)
    s2 = np.clip(0.4 * y + rng.random(n) * 0.6, 0, 1)
    return y, (s1 >= 0.5).astype(int), (s2 >= 0.5).astype(int), s1, s2


def test_paired_profile_counts_and_comparisons():
    y, p1, p2, s1, s2 = _paired_data(5)
    merged = _chunked(PairedBinaryProfile.from_arrays, (y, p1, p2, s1, s2), [700, 1500])
    r1, r2 = p1 == y, p2 == y
    assert merged.b == int(np.sum(r1 & ~r2)) and merged.c == int(np.sum(~r1 & r2))
    assert merged.champion_correct == int(r1.sum()) and merged.n == y.size
    results = merged.compare(margin=0.01)
    assert [r.metric for r in results] == ["accuracy", "f1", "roc_auc"]
    table = [[int(np.sum(r1 & r2)), merged.b], [merged.c, int(np.sum(~r1 & ~r2))]]
    assert results[0].p_value == pytest.approx(mcnemar(table, exact=False).pvalue)
    assert results[1].champion == pytest.approx(skm.f1_score(y, p1))
    assert results[1].challenger == pytest.approx(skm.f1_score(y, p2))
    assert results[2].champion == pytest.approx(skm.roc_auc_score(y, s1))
    assert results[2].challenger == pytest.approx(skm.roc_auc_score(y, s2))
    one = PairedBinaryProfile.from_arrays(y, p1, p2, s1, s2).compare(margin=0.01)
    assert one == results


def test_paired_profile_derives_missing_predictions_from_scores():
    y, p1, p2, s1, _ = _paired_data(6, n=200)
    derived = PairedBinaryProfile.from_arrays(y, None, p2, s1, None)
    given_ = PairedBinaryProfile.from_arrays(y, p1, p2)
    np.testing.assert_array_equal(derived.cells, given_.cells)
    assert [r.metric for r in derived.compare()] == ["accuracy", "f1"]
    with pytest.raises(ValueError, match=r"challenger_pred or challenger_score is needed"):
        PairedBinaryProfile.from_arrays(y, p1, None)


def test_segment_table_and_fairness_gaps_equal_a_direct_group_computation():
    rng = np.random.default_rng(7)
    groups = rng.choice(np.array(["north", "south", "west"]), size=3000)
    y = (rng.random(3000) < np.where(groups == "west", 0.5, 0.3)).astype(int)
    pred = np.where(rng.random(3000) < np.where(groups == "south", 0.9, 0.75), y, 1 - y)
    profiles = {}
    for cut in np.array_split(np.arange(3000), 4):  # chunks, merged per segment
        for g in np.unique(groups[cut]):
            rows = cut[groups[cut] == g]
            part = BinaryProfile.from_arrays(y[rows], pred[rows])
            profiles[g] = profiles[g] + part if g in profiles else part
    table = segment_table(profiles)
    recalls, rates, accs = {}, {}, {}
    for g in ("north", "south", "west"):
        yy, pp = y[groups == g], pred[groups == g]
        recalls[g], rates[g], accs[g] = skm.recall_score(yy, pp), pp.mean(), np.mean(yy == pp)
        assert table[g]["n"] == yy.size
        assert table[g]["recall"] == pytest.approx(recalls[g])
        assert table[g]["precision"] == pytest.approx(skm.precision_score(yy, pp))
        assert table[g]["f1"] == pytest.approx(skm.f1_score(yy, pp))
        assert table[g]["positive_rate"] == pytest.approx(rates[g])
    gaps = fairness_gaps(profiles)
    assert set(gaps) == {
        "recall_gap",
        "demographic_parity_difference",
        "equal_opportunity_difference",
        "accuracy_gap",
    }
    for key, ref in (
        ("recall_gap", recalls),
        ("equal_opportunity_difference", recalls),
        ("demographic_parity_difference", rates),
        ("accuracy_gap", accs),
    ):
        assert gaps[key].gap == pytest.approx(max(ref.values()) - min(ref.values())), key


def test_segment_without_positives_is_ignored_in_recall_gap():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        profiles = {
            "a": BinaryProfile.from_arrays([1, 1, 0], [1, 0, 0]),
            "b": BinaryProfile.from_arrays([0, 0], [0, 1]),
        }
        gaps = fairness_gaps(profiles)
    assert math.isnan(segment_table(profiles)["b"]["recall"])
    assert gaps["recall_gap"].gap == 0.0 and gaps["recall_gap"].max_segment == "a"
