"""The monitor and rollout gauges, read from a real event log, monitors and rollouts table."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from scipy import stats

from accuguard.audit import AuditLog
from accuguard.gateway.quality_metrics import QualityCollector
from accuguard.monitor.config import load_monitor_config
from accuguard.monitor.runner import MonitorRunner
from accuguard.rollout.checks import CheckResult
from accuguard.rollout.gates import GateResult
from accuguard.rollout.state import compare_and_set, create_rollout
from accuguard.rollout.watch import RolloutWatch
from accuguard.store import make_engine
from accuguard.store.migrate import upgrade
from tests.monitor.conftest import log_predictions


@pytest.fixture
def engine(tmp_path):
    eng = make_engine(f"sqlite:///{tmp_path / 'events.db'}")
    upgrade(eng)
    yield eng
    eng.dispose()


def scrape(collector: QualityCollector) -> dict[tuple[str, frozenset], float]:
    """``{(sample name, labels): value}`` of the collector's text exposition."""
    registry = CollectorRegistry()
    registry.register(collector)
    text = generate_latest(registry).decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def labels(**kw: str) -> frozenset:
    return frozenset(kw.items())


def _runner(engine, tmp_path) -> tuple[MonitorRunner, float, float]:
    """A real monitor run: 'amount' drifted by 2 sd, accuracy about 0.55 vs a 0.8 floor."""
    rng = np.random.default_rng(7)
    reference = tmp_path / "reference.parquet"
    pd.DataFrame({"amount": rng.normal(size=2000), "age": rng.normal(40, 5, 2000)}).to_parquet(
        reference
    )
    n = 600
    amount = rng.normal(2.0, 1.0, n)
    age = rng.normal(40, 5, n)
    y = (rng.random(n) < 0.3).astype(int)
    pred = np.where(rng.random(n) < 0.55, y, 1 - y)
    log_predictions(
        engine,
        [{"amount": float(a), "age": float(b)} for a, b in zip(amount, age, strict=True)],
        t0=time.time() - 60,
        dt=0.05,
        outputs=[int(p) for p in pred],
        labels=[int(v) for v in y],
    )
    config = tmp_path / "fraud.yaml"
    config.write_text(
        f"deployment: fraud\nwindow_s: 600\nmin_rows: 100\nreference: {reference}\n"
        "prediction_drift: {enabled: false}\naccuracy: {floor: 0.8}\n"
    )
    runner = MonitorRunner(engine, [load_monitor_config(config)], interval_s=60, lease_ttl_s=30)
    runner._build()
    return (
        runner,
        float(np.mean(pred == y)),
        stats.ks_2samp(pd.read_parquet(reference)["amount"], amount).statistic,
    )


def test_monitor_results_are_exported_with_value_threshold_alert_and_status(engine, tmp_path):
    runner, accuracy, ks = _runner(engine, tmp_path)
    (report,) = runner.run_once()
    got = scrape(QualityCollector(lambda: runner, lambda: None))

    acc = labels(deployment="fraud", monitor="accuracy")
    assert got[("accuguard_monitor_value", acc)] == pytest.approx(accuracy)
    assert got[("accuguard_monitor_threshold", acc)] == 0.8
    assert got[("accuguard_monitor_alert", acc)] == 1.0
    drift = labels(deployment="fraud", monitor="input_drift")
    assert got[("accuguard_monitor_value", drift)] == 0.5  # 'amount' of 2 columns drifted
    assert got[("accuguard_monitor_threshold", drift)] == 0.0
    assert got[("accuguard_monitor_alert", drift)] == 1.0
    status = {k[1]: v for k, v in got.items() if k[0] == "accuguard_monitor_status"}
    assert status[labels(deployment="fraud", monitor="accuracy", status="alert")] == 1.0
    assert status[labels(deployment="fraud", monitor="accuracy", status="ok")] == 0.0
    amount = labels(deployment="fraud", column="amount")
    assert got[("accuguard_monitor_column_drift_effect", amount)] == pytest.approx(ks)
    assert got[("accuguard_monitor_column_drifted", amount)] == 1.0
    assert got[("accuguard_monitor_column_drifted", labels(deployment="fraud", column="age"))] == 0
    last = got[("accuguard_monitor_last_run_timestamp_seconds", labels(deployment="fraud"))]
    assert last == pytest.approx(report.checked_at)


def test_a_report_older_than_three_intervals_and_a_lease_is_not_exported(engine, tmp_path):
    runner, _, _ = _runner(engine, tmp_path)
    (report,) = runner.run_once()
    # this replica lost the lease (its ttl is at least 2 intervals) and nobody reports here
    stale = report.checked_at + 3 * 60 + runner.lease_ttl_s + 1
    assert runner.lease_ttl_s == 120
    got = scrape(QualityCollector(lambda: runner, lambda: None, clock=lambda: stale))
    assert not [k for k in got if k[0].startswith("accuguard_monitor_")]
    fresh = scrape(QualityCollector(lambda: runner, lambda: None, clock=lambda: stale - 2))
    assert ("accuguard_monitor_alert", labels(deployment="fraud", monitor="accuracy")) in fresh


def _srm_gate(champion_units: int, challenger_units: int, weight: float) -> tuple[dict, float]:
    p = stats.chisquare(
        [champion_units, challenger_units],
        np.array([1 - weight, weight]) * (champion_units + challenger_units),
    ).pvalue
    checks = [
        CheckResult(
            "recall",
            "pass",
            -0.01,
            -0.02,
            -0.015,
            0.01,
            "ok",
            {"champion": 0.72, "challenger": 0.71},
        ),
        CheckResult("srm", "fail", float(p), 0.001, detail="sample ratio mismatch"),
        CheckResult("min_duration_s", "pass", 1900.0, 1800.0),
    ]
    return GateResult("fail", checks, "fail: srm", step="canary-5").to_dict(), float(p)


def test_the_latest_rollout_its_gate_and_new_decisions_are_exported(engine):
    audit = AuditLog(engine)
    audit.append(action="rollout.start", actor="alice", deployment="fraud", decision="start")
    plan = {"steps": [{"name": "shadow"}, {"name": "canary-5"}]}
    record = create_rollout(
        engine,
        deployment="fraud",
        model="fraud",
        champion_alias="champion",
        champion_version="1",
        challenger_version="2",
        plan=plan,
        plan_hash="h",
        actor="alice",
    )
    watch = RolloutWatch(engine, lambda: ["fraud", "risk"])
    watch.refresh()  # decisions before the first refresh are history: not counted
    gate, p_value = _srm_gate(9000, 1000, 0.05)
    record = compare_and_set(engine, record.id, record.row_version, step_index=1)
    compare_and_set(
        engine,
        record.id,
        record.row_version,
        state="rolled_back",
        gate=gate,
        last_decision="rollback",
        updated_at=1234.5,
    )
    audit.append(
        action="rollout.advance", actor="controller", deployment="fraud", decision="advance"
    )
    audit.append(
        action="rollout.rollback", actor="controller", deployment="fraud", decision="rollback"
    )
    audit.append(action="monitor.accuracy", actor="monitor", deployment="fraud", decision="alert")
    audit.append(action="rollout.status", actor="bob", deployment="fraud")  # a read
    got = scrape(QualityCollector(lambda: None, lambda: watch.refresh()))

    fraud = {"deployment": "fraud"}
    assert got[("accuguard_rollout_state", labels(**fraud, state="rolled_back"))] == 1.0
    assert got[("accuguard_rollout_state", labels(**fraud, state="running"))] == 0.0
    assert got[("accuguard_rollout_step", labels(**fraud))] == 1.0
    info = labels(
        **fraud,
        rollout_id=str(record.id),
        step="canary-5",
        champion_version="1",
        challenger_version="2",
    )
    assert got[("accuguard_rollout_info", info)] == 1.0
    assert got[("accuguard_rollout_gate_status", labels(**fraud, status="fail"))] == 1.0
    srm = {"deployment": "fraud", "check": "srm"}
    assert got[("accuguard_rollout_check_status", labels(**srm, status="fail"))] == 1.0
    assert got[("accuguard_rollout_check_status", labels(**srm, status="pass"))] == 0.0
    assert got[("accuguard_rollout_check_value", labels(**srm))] == pytest.approx(p_value)
    assert p_value < 1e-10
    assert got[("accuguard_rollout_check_threshold", labels(**srm))] == 0.001
    recall = {"deployment": "fraud", "check": "recall"}
    assert got[("accuguard_rollout_arm_value", labels(**recall, arm="champion"))] == 0.72
    assert got[("accuguard_rollout_arm_value", labels(**recall, arm="challenger"))] == 0.71
    assert got[("accuguard_rollout_updated_timestamp_seconds", labels(**fraud))] == 1234.5
    decisions = {
        dict(k[1])["decision"]: v
        for k, v in got.items()
        if k[0] == "accuguard_rollout_decisions_total" and dict(k[1])["deployment"] == "fraud"
    }
    assert decisions["advance"] == 1 and decisions["rollback"] == 1
    assert decisions["start"] == 0 and decisions["promote"] == 0  # series exist at 0
    risk = [k for k in got if dict(k[1]).get("deployment") == "risk"]
    assert {k[0] for k in risk} == {"accuguard_rollout_decisions_total"}  # no rollout yet


def test_every_family_is_described_even_without_data():
    registry = CollectorRegistry()
    registry.register(QualityCollector(lambda: None, lambda: None))
    text = generate_latest(registry).decode()
    assert "# TYPE accuguard_monitor_alert gauge" in text
    assert "# TYPE accuguard_rollout_check_status gauge" in text
    assert "# TYPE accuguard_rollout_decisions_total counter" in text
