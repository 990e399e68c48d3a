import json
import pathlib

import jsonschema
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from scipy import stats
from sklearn import metrics as skm

import accuguard
from accuguard.report.validation import json_schema_text
from accuguard.validate.pipeline import validate

from .conftest import DRIFTED

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHALLENGER = dict(
    target="label",
    prediction="pred",
    score="score",
    challenger_prediction="pred_b",
    challenger_score="score_b",
)


@pytest.fixture(scope="module")
def report(parquet_pair):
    ref, cur = parquet_pair
    return validate(ref, cur, **CHALLENGER)


def test_exactly_the_three_drifted_feature_columns_are_flagged(report):
    features = {f"x{i}" for i in range(7)} | {"c0", "c1", "c2"}
    flagged = {n for n, c in report.drift.columns.items() if c.drifted and n in features}
    assert flagged == set(DRIFTED)


def test_drift_share_counts_every_compared_column(report):
    drifted = sum(c.drifted for c in report.drift.columns.values())
    assert report.drift.count == drifted
    assert report.drift.share == pytest.approx(drifted / report.drift.columns_checked)


def test_ks_in_report_equals_scipy_on_the_raw_columns(report, frames):
    ref, cur = frames
    for name in ("x0", "x2", "x5"):
        expected = stats.ks_2samp(ref[name], cur[name])
        col = report.drift.columns[name]
        assert col.method == "ks"
        assert col.statistic == pytest.approx(expected.statistic, abs=1e-12)
        assert col.p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)


def test_chi_square_in_report_equals_scipy(report, frames):
    ref, cur = frames
    cats = sorted(set(ref["c1"]) | set(cur["c1"]))
    table = [
        [int(np.sum(ref["c1"] == c)) for c in cats],
        [int(np.sum(cur["c1"] == c)) for c in cats],
    ]
    expected = stats.chi2_contingency(table, correction=False)
    col = report.drift.columns["c1"]
    assert col.method == "chi_square"
    assert col.statistic == pytest.approx(expected.statistic, rel=1e-9)


def test_candidate_metrics_equal_scikit_learn(report, frames):
    _, cur = frames
    y, pred, score = cur["label"], cur["pred_b"], cur["score_b"]
    m = report.performance.metrics
    assert m["accuracy"].value == pytest.approx(skm.accuracy_score(y, pred), abs=1e-12)
    assert m["f1"].value == pytest.approx(skm.f1_score(y, pred), abs=1e-12)
    assert m["recall"].value == pytest.approx(skm.recall_score(y, pred), abs=1e-12)
    assert m["roc_auc"].value == pytest.approx(skm.roc_auc_score(y, score), abs=1e-12)
    assert m["average_precision"].value == pytest.approx(
        skm.average_precision_score(y, score), abs=1e-12
    )
    assert m["log_loss"].value == pytest.approx(skm.log_loss(y, score), rel=1e-9)
    assert m["brier"].value == pytest.approx(skm.brier_score_loss(y, score), rel=1e-9)
    assert report.performance.confusion_matrix.matrix == skm.confusion_matrix(y, pred).tolist()
    champ = report.champion.metrics
    assert champ["roc_auc"].value == pytest.approx(skm.roc_auc_score(y, cur["score"]), abs=1e-12)


def test_every_interval_contains_its_value(report):
    for name, est in report.performance.metrics.items():
        if est.lower is not None:
            assert est.lower <= est.value <= est.upper, name


def test_worse_challenger_is_called_worse(report):
    assert report.comparison is not None
    by_metric = {m.metric: m for m in report.comparison.metrics}
    assert by_metric["roc_auc"].verdict == "worse"
    assert by_metric["roc_auc"].difference < 0
    assert report.comparison.verdict == "worse"


def test_champion_compared_with_itself_is_not_worse(parquet_pair):
    """The baseline really is the other model (mlflow PR #12213 compared it with itself)."""
    ref, cur = parquet_pair
    same = validate(
        ref,
        cur,
        target="label",
        prediction="pred",
        score="score",
        challenger_prediction="pred",
        challenger_score="score",
    )
    for m in same.comparison.metrics:
        assert m.difference == pytest.approx(0.0, abs=1e-12)
        assert m.verdict in {"not_worse", "inconclusive"}


def test_report_validates_against_the_checked_in_schema(report):
    schema_path = ROOT / "docs" / "schema" / "validation-report.v1.json"
    assert schema_path.read_text() == json_schema_text(), "run: accuguard schema > docs/schema/..."
    jsonschema.validate(json.loads(report.to_json()), json.loads(schema_path.read_text()))


def test_chunked_column_groups_give_the_same_report_as_one_pass(parquet_pair, monkeypatch, report):
    monkeypatch.setattr("accuguard.validate.columns.MEMORY_BUDGET_BYTES", 1)  # one column a group
    monkeypatch.setattr("accuguard.validate.sources.DEFAULT_BATCH_ROWS", 7_001)
    ref, cur = parquet_pair
    chunked = validate(ref, cur, **CHALLENGER)
    for name, col in report.drift.columns.items():
        other = chunked.drift.columns[name]
        assert other.statistic == pytest.approx(col.statistic, rel=1e-12), name
        assert other.p_value == pytest.approx(col.p_value, rel=1e-9, abs=1e-300), name
    for name, est in report.performance.metrics.items():
        assert chunked.performance.metrics[name].value == pytest.approx(est.value, rel=1e-9), name
    assert chunked.quality.duplicates == report.quality.duplicates


def test_csv_input_gives_the_same_drift_as_parquet(parquet_pair, tmp_path, report):
    import pyarrow.parquet as pq

    ref, cur = parquet_pair
    pacsv.write_csv(pq.read_table(ref), tmp_path / "ref.csv")
    pacsv.write_csv(pq.read_table(cur), tmp_path / "cur.csv")
    from_csv = validate(tmp_path / "ref.csv", tmp_path / "cur.csv", **CHALLENGER)
    for name in ("x2", "c1"):
        assert from_csv.drift.columns[name].statistic == pytest.approx(
            report.drift.columns[name].statistic, rel=1e-9
        )


def test_duplicates_are_counted_like_pandas(tmp_path):
    import pandas as pd
    import pyarrow.parquet as pq

    rng = np.random.default_rng(3)
    df = pd.DataFrame({"a": rng.integers(0, 5, 3000), "b": rng.choice(["x", "y"], 3000)})
    df.loc[5, "b"] = None
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp_path / "d.parquet")
    rep = validate(tmp_path / "d.parquet", tmp_path / "d.parquet")
    assert rep.quality.duplicates.current == int(df.duplicated().sum())


def test_package_is_callable_as_accuguard_validate(parquet_pair):
    ref, cur = parquet_pair
    rep = accuguard.validate(ref, cur)
    assert rep.performance is None
    assert rep.passed is True


def test_one_thread_gives_the_same_report_as_the_thread_pool(parquet_pair, monkeypatch):
    ref, cur = parquet_pair
    monkeypatch.setenv("ACCUGUARD_THREADS", "3")
    pooled = validate(ref, cur)
    monkeypatch.setenv("ACCUGUARD_THREADS", "1")
    single = validate(ref, cur)
    assert single.drift.model_dump() == pooled.drift.model_dump()
    assert single.quality.model_dump() == pooled.quality.model_dump()
