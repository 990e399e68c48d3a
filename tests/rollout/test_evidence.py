"""collect_evidence on a real SQLite event log, checked against sklearn / numpy / pandas."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import accuracy_score, recall_score

from accuguard.profile.columns import CategoricalColumnProfile, NumericColumnProfile
from accuguard.rollout import evidence as ev_mod
from accuguard.rollout.comparisons import arm_proportion
from accuguard.rollout.evidence import collect_evidence, label_key, load_reference_profile
from accuguard.store.records import PredictionRecord
from accuguard.store.repository import EventRepository
from tests.rollout.traffic_sim import (
    CHALLENGER,
    DEPLOYMENT,
    T0,
    make_store,
    seed_canary,
    seed_shadow,
    window,
)


def test_shadow_evidence_counts_pairs_and_labels_like_the_data_written(tmp_path):
    engine = make_store(tmp_path)
    t = seed_shadow(engine, 1500)
    ev = collect_evidence(engine, window())
    ok = ~t.chal_error
    assert ev.mode == "shadow"
    assert ev.challenger.requests == 1500 and ev.champion.requests == 1500
    assert ev.challenger.errors == int(t.chal_error.sum())
    assert ev.paired is not None
    assert ev.paired.pairs == int(ok.sum())
    assert ev.paired.disagreements == int((t.champ_pred != t.chal_pred)[ok].sum())
    lab = ok & t.labelled  # labels arriving after the window end are not counted
    assert ev.labels == ev.paired.labels == int(lab.sum())
    for model, pred in ((1, t.champ_pred), (2, t.chal_pred)):
        tp = sum(k for key, k in ev.paired.labelled.items() if key[0] == 1 and key[model] == 1)
        pos = sum(k for key, k in ev.paired.labelled.items() if key[0] == 1)
        assert tp / pos == pytest.approx(recall_score(t.y[lab], pred[lab]))
    np.testing.assert_allclose(ev.challenger.scores, np.sort(t.chal_score[ok]))
    np.testing.assert_allclose(ev.champion.scores, np.sort(t.champ_score[ok]))
    np.testing.assert_allclose(ev.challenger.latencies_ms, np.sort(t.chal_latency))


def test_canary_evidence_per_arm_matches_sklearn_and_leaves_out_failed_calls(tmp_path):
    engine = make_store(tmp_path)
    t = seed_canary(engine, 3000, weight=0.3)
    ev = collect_evidence(engine, window())
    chal, champ = t.arm == 1, t.arm == 0
    assert ev.mode == "canary" and ev.paired is None
    assert ev.challenger.requests == int(chal.sum())
    assert ev.champion.requests == int(champ.sum())
    assert ev.challenger.errors == int(t.chal_error.sum()) > 0
    assert ev.challenger.units == int(chal.sum())
    served = chal & ~t.chal_error & t.labelled
    s, n = arm_proportion("accuracy", ev.challenger.labelled, 1)
    assert n == int(served.sum())
    assert s / n == pytest.approx(accuracy_score(t.y[served], t.chal_pred[served]))
    lab = champ & t.labelled
    s, n = arm_proportion("recall", ev.champion.labelled, 1)
    assert s / n == pytest.approx(recall_score(t.y[lab], t.champ_pred[lab]))
    # latencies of every challenger request (failed ones included), scores of served ones
    np.testing.assert_allclose(ev.challenger.latencies_ms, np.sort(t.chal_latency[chal]))
    np.testing.assert_allclose(ev.challenger.scores, np.sort(t.chal_score[chal & ~t.chal_error]))


def test_business_metrics_count_events_after_exposure_per_unit_like_pandas(tmp_path):
    engine = make_store(tmp_path)
    t = seed_canary(engine, 3000, weight=0.3)
    ev = collect_evidence(engine, window())
    with engine.connect() as conn:
        events = pd.read_sql("SELECT unit_hash, value, created_at FROM business_events", conn)
        exposure = pd.read_sql(
            "SELECT unit_hash, variant, created_at AS seen FROM predictions "
            "WHERE deployment = 'fraud' AND created_at >= :s AND created_at < :e "
            "AND (variant = 'v7' OR (variant = 'champion' AND model_version = '3'))",
            conn,
            params={"s": T0, "e": T0 + 10_000},
        )
    joined = events.merge(exposure, on="unit_hash")
    joined = joined[joined.created_at >= joined.seen]
    per_unit = joined.groupby(["variant", "unit_hash"]).value.sum()
    for arm, variant in (("champion", "champion"), ("challenger", CHALLENGER)):
        got = ev.business["conversion"][arm]
        assert got.units == int((exposure.variant == variant).sum())
        assert got.converted == int(per_unit.loc[variant].size)
        assert got.total == pytest.approx(per_unit.loc[variant].sum())
        assert got.total_sq == pytest.approx((per_unit.loc[variant] ** 2).sum())
    assert ev.exposed_units == {"champion": int((t.arm == 0).sum()), "challenger": int(t.arm.sum())}


def test_an_empty_window_gives_zero_counts_and_a_json_safe_summary(tmp_path):
    engine = make_store(tmp_path)
    seed_shadow(engine, 50)
    ev = collect_evidence(engine, window(T0 + 50_000, T0 + 60_000))
    assert ev.mode is None and ev.requests == 0 and ev.labels == 0
    json.dumps(ev.to_dict(), allow_nan=False)


def test_to_dict_is_json_safe_and_summarises_without_raw_arrays(tmp_path):
    engine = make_store(tmp_path)
    t = seed_canary(engine, 800)
    d = collect_evidence(engine, window()).to_dict()
    text = json.dumps(d, allow_nan=False)
    assert len(text) < 5000
    assert d["challenger"]["latency_ms"]["p95"] == pytest.approx(
        np.quantile(t.chal_latency[t.arm == 1], 0.95)
    )
    assert d["window"]["challenger_variant"] == CHALLENGER


def test_input_sample_is_capped_and_spread_over_the_window(tmp_path, monkeypatch):
    engine = make_store(tmp_path)
    rows = [
        PredictionRecord(
            f"q{i}",
            DEPLOYMENT,
            "champion",
            "champion",
            "3",
            f"u{i}",
            {"amount": float(i), "country": "FR" if i % 2 else "DE"},
            0,
            0.1,
            1.0,
            T0 + i,
        )
        for i in range(1000)
    ]
    EventRepository(engine).insert_predictions(rows)
    reference = {
        "amount": NumericColumnProfile.from_array(np.arange(1000.0)),
        "country": CategoricalColumnProfile({"FR": 500, "DE": 500}),
        "absent": NumericColumnProfile.from_array(np.arange(5.0)),
    }
    monkeypatch.setattr(ev_mod, "INPUT_SAMPLE_ROWS", 100)
    ev = collect_evidence(engine, window(), reference_profile=reference, mode="canary")
    assert ev.input_rows == 100
    amount = ev.input_profiles["amount"]
    assert isinstance(amount, NumericColumnProfile)
    np.testing.assert_array_equal(amount.sorted_values(), np.arange(0.0, 1000.0, 10.0))
    assert ev.input_profiles["country"].counts == {"DE": 100}  # every 10th row: even ids
    assert "absent" not in ev.input_profiles


def test_reference_profile_from_parquet_profiles_numeric_and_categorical_columns(tmp_path):
    path = tmp_path / "ref.parquet"
    table = pa.table(
        {"amount": [1.0, 2.0, 3.0], "country": ["FR", "FR", "DE"], "tags": [[1], [2], [3]]}
    )
    pq.write_table(table, path, row_group_size=2)
    prof = load_reference_profile(path)
    assert set(prof) == {"amount", "country"}
    assert isinstance(prof["amount"], NumericColumnProfile) and prof["amount"].count == 3
    assert prof["country"].counts == {"FR": 2, "DE": 1}


def test_label_key_makes_equal_json_labels_equal():
    assert label_key(True) == label_key(1) == label_key(1.0)
    assert label_key("1") != label_key(1)
    assert label_key({"b": 1, "a": 2}) == label_key({"a": 2, "b": 1})


def test_postgresql_gives_the_same_evidence_as_sqlite(tmp_path):
    from accuguard.store.engine import make_engine
    from accuguard.store.migrate import upgrade
    from tests.store.conftest import postgres_schema

    with postgres_schema() as schema:  # skips without ACCUGUARD_TEST_POSTGRES_URL
        pg = make_engine(schema.url)
        upgrade(pg)
        lite = make_store(tmp_path)
        reference = {"amount": NumericColumnProfile.from_array(np.arange(100.0))}
        for seed in (seed_shadow, seed_canary):
            seed(pg, 600)
            seed(lite, 600)
        try:
            for w in (window(), window(T0, T0 + 4_000)):
                a = collect_evidence(pg, w, reference_profile=reference, mode="canary")
                b = collect_evidence(lite, w, reference_profile=reference, mode="canary")
                a.collected_at = b.collected_at = 0.0
                assert a.to_dict() == b.to_dict()
                assert a.champion.labelled == b.champion.labelled
                sa = collect_evidence(pg, w, mode="shadow")
                sb = collect_evidence(lite, w, mode="shadow")
                assert sa.paired == sb.paired
        finally:
            pg.dispose()
