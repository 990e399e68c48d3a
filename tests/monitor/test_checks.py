"""Input drift, prediction drift and the accuracy floor against scipy, sklearn, statsmodels."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import accuracy_score, precision_score, recall_score
from statsmodels.stats.proportion import proportion_confint

from accuguard.monitor.checks import accuracy_floor, input_drift, prediction_drift
from accuguard.monitor.config import AccuracySettings, DriftSettings, PredictionDriftSettings
from accuguard.monitor.reference import Reference, profile_values
from accuguard.monitor.window import Window

KINDS = {"amount": "numeric", "country": "categorical"}
COUNTRIES = ["DE", "FR", "ES", "BR"]


def rows(n: int, seed: int, *, shift: float = 0.0, br: float = 0.1) -> list[dict]:
    rng = np.random.default_rng(seed)
    amount = rng.normal(50.0 + shift, 10.0, n)
    p = np.array([0.4, 0.3, 0.3 - br + 0.1, br - 0.1 + 0.1])
    country = rng.choice(COUNTRIES, n, p=p / p.sum())
    return [{"amount": float(a), "country": str(c)} for a, c in zip(amount, country, strict=True)]


def window_of(features: list[dict], **kw) -> Window:
    n = len(features)
    return Window(
        "fraud",
        "champion",
        0.0,
        1.0,
        features=features,
        outputs=kw.get("outputs", [None] * n),
        scores=kw.get("scores", [None] * n),
        labels=kw.get("labels", [None] * n),
        model_versions=["1"] * n,
    )


def test_input_drift_alerts_on_shifted_amounts_with_scipys_ks_statistic():
    ref_rows, cur_rows = rows(3000, 1), rows(800, 2, shift=3.0)
    reference = Reference.from_rows(ref_rows, KINDS)
    result = input_drift(window_of(cur_rows), reference, DriftSettings(), min_rows=100)
    expected = stats.ks_2samp([r["amount"] for r in ref_rows], [r["amount"] for r in cur_rows])
    col = result.detail["columns"]["amount"]
    assert col["statistic"] == pytest.approx(expected.statistic, abs=1e-12)
    assert col["p_value"] == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)
    assert result.status == "alert" and result.alert
    assert result.detail["drifted"] == ["amount"]
    assert result.value == pytest.approx(0.5)
    assert result.detail["alpha_per_column"] == pytest.approx(0.025)  # Bonferroni over 2


def test_input_drift_false_alarm_rate_on_the_same_distribution_is_at_most_alpha():
    reference = Reference.from_rows(rows(3000, 1), KINDS)
    results = [
        input_drift(window_of(rows(800, seed)), reference, DriftSettings(), 100)
        for seed in range(100, 200)
    ]
    assert all(r.status in ("ok", "alert") for r in results)
    # Bonferroni keeps the family-wise rate at alpha = 0.05 (binomial 99th percentile: 10/100)
    assert sum(r.alert for r in results) <= 10
    quiet = input_drift(window_of(rows(800, 3)), reference, DriftSettings(), 100)
    assert quiet.status == "ok" and quiet.value == 0.0


def test_categorical_drift_matches_scipy_chi2_contingency():
    ref_rows, cur_rows = rows(3000, 1), rows(1000, 2, br=0.35)
    reference = Reference.from_rows(ref_rows, KINDS)
    result = input_drift(window_of(cur_rows), reference, DriftSettings(), 100)
    ref_counts = [sum(r["country"] == c for r in ref_rows) for c in COUNTRIES]
    cur_counts = [sum(r["country"] == c for r in cur_rows) for c in COUNTRIES]
    chi2, p, _, _ = stats.chi2_contingency([ref_counts, cur_counts], correction=False)
    col = result.detail["columns"]["country"]
    assert col["statistic"] == pytest.approx(chi2, rel=1e-10)
    assert col["p_value"] == pytest.approx(p, rel=1e-6, abs=1e-300)
    assert col["drifted"] and result.alert


def test_input_drift_needs_min_rows_and_allows_a_drifted_share():
    reference = Reference.from_rows(rows(3000, 1), KINDS)
    few = input_drift(window_of(rows(50, 2, shift=30)), reference, DriftSettings(), 100)
    assert few.status == "insufficient" and not few.alert
    tolerant = DriftSettings(max_drifted_share=0.5)
    one_of_two = input_drift(window_of(rows(800, 2, shift=3.0)), reference, tolerant, 100)
    assert one_of_two.status == "ok" and one_of_two.value == pytest.approx(0.5)


def test_drift_of_json_features_equals_drift_of_the_parquet_reference(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    ref_rows = rows(2000, 1)
    path = tmp_path / "ref.parquet"
    pq.write_table(pa.Table.from_pylist(ref_rows), path)
    from_file = Reference.from_parquet(path)
    assert from_file.kinds == KINDS
    cur = window_of(rows(500, 9, shift=2.0))
    a = input_drift(cur, from_file, DriftSettings(), 100)
    b = input_drift(cur, Reference.from_rows(ref_rows, KINDS), DriftSettings(), 100)
    assert a.detail["columns"] == b.detail["columns"]


def test_prediction_drift_on_scores_matches_scipy():
    rng = np.random.default_rng(0)
    base, cur = rng.beta(2, 8, 2000), rng.beta(3, 6, 600)
    result = prediction_drift(
        profile_values(list(cur), "numeric"),
        profile_values(list(base), "numeric"),
        PredictionDriftSettings(),
        100,
        baseline_name="reference scores",
    )
    assert result.value == pytest.approx(stats.ks_2samp(base, cur).statistic, abs=1e-12)
    assert result.alert
    same = prediction_drift(
        profile_values(list(rng.beta(2, 8, 600)), "numeric"),
        profile_values(list(base), "numeric"),
        PredictionDriftSettings(),
        100,
        baseline_name="x",
    )
    assert same.status == "ok"
    none = prediction_drift(
        profile_values([0.1], "numeric"),
        None,
        PredictionDriftSettings(),
        1,
        baseline_name="no scores",
    )
    assert none.status == "insufficient"


def labelled(n: int, seed: int, acc: float):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    flip = rng.random(n) > acc
    pred = np.where(flip, 1 - y, y)
    return y, pred


@pytest.mark.parametrize("metric", ["accuracy", "recall", "precision"])
def test_accuracy_floor_metric_and_interval_match_sklearn_and_statsmodels(metric):
    y, pred = labelled(1500, 1, 0.85)
    labels = [int(v) for v in y]
    labels[:100] = [None] * 100  # unlabelled rows do not count
    win = window_of([{}] * len(y), outputs=[int(p) for p in pred], labels=labels)
    settings = AccuracySettings(metric=metric, floor=0.5, min_labels=50)
    result = accuracy_floor(win, settings)
    score = {"accuracy": accuracy_score, "recall": recall_score, "precision": precision_score}[
        metric
    ]
    assert result.value == pytest.approx(score(y[100:], pred[100:]), abs=1e-12)
    lo, hi = proportion_confint(
        result.detail["successes"], result.detail["trials"], alpha=0.05, method="wilson"
    )
    assert (result.detail["ci_low"], result.detail["ci_high"]) == (
        pytest.approx(lo, abs=1e-12),
        pytest.approx(hi, abs=1e-12),
    )
    assert result.status == "ok"


def test_accuracy_floor_alerts_only_when_the_upper_bound_is_below_by_default():
    y, pred = labelled(200, 2, 0.78)
    win = window_of([{}] * 200, outputs=[int(p) for p in pred], labels=[int(v) for v in y])
    value = accuracy_score(y, pred)
    floor = round(value + 0.02, 3)  # just above the estimate: inside the interval
    upper = accuracy_floor(win, AccuracySettings(floor=floor, min_labels=50))
    point = accuracy_floor(
        win, AccuracySettings(floor=floor, min_labels=50, alert_when="estimate_below_floor")
    )
    assert upper.status == "ok" and point.status == "alert"
    far = accuracy_floor(win, AccuracySettings(floor=min(0.99, value + 0.15), min_labels=50))
    assert far.status == "alert" and far.detail["ci_high"] < far.threshold


def test_accuracy_floor_with_a_decision_threshold_on_scores():
    rng = np.random.default_rng(3)
    y = (rng.random(800) < 0.2).astype(int)
    score = np.clip(0.15 + 0.5 * y + rng.normal(0, 0.2, 800), 0, 1)
    win = window_of([{}] * 800, outputs=[0] * 800, scores=list(score), labels=list(map(int, y)))
    result = accuracy_floor(
        win, AccuracySettings(metric="recall", floor=0.5, min_labels=20, decision_threshold=0.4)
    )
    assert result.value == pytest.approx(recall_score(y, (score >= 0.4).astype(int)))


def test_accuracy_floor_is_insufficient_below_min_labels_and_labels_compare_across_types():
    win = window_of([{}] * 4, outputs=[1, "0", True, 1.0], labels=["1", 0, None, False])
    result = accuracy_floor(win, AccuracySettings(min_labels=5))
    assert result.status == "insufficient" and result.value is None
    assert result.detail["trials"] == 3 and result.detail["successes"] == 2
    assert not math.isnan(result.threshold)
