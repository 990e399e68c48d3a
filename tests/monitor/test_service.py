"""The monitor end to end: event log -> checks -> webhook, audit log, rollback callback."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from accuguard.audit import AuditLog
from accuguard.errors import ConfigError
from accuguard.monitor import Monitor, MonitorConfig, Reference, WebhookHook, load_monitor_config
from accuguard.monitor.config import AccuracySettings, DriftSettings
from tests.monitor._server import LoopbackServer, Recorder
from tests.monitor.conftest import log_predictions

KINDS = {"amount": "numeric", "device": "categorical"}
NOW = 10_000.0


def feats(n: int, seed: int, shift: float = 0.0) -> list[dict]:
    rng = np.random.default_rng(seed)
    amount = rng.lognormal(3.6 + shift, 0.5, n)
    device = rng.choice(["ios", "android", "web"], n)
    return [{"amount": float(a), "device": str(d)} for a, d in zip(amount, device, strict=True)]


def traffic(
    engine,
    n: int,
    seed: int,
    *,
    shift: float = 0.0,
    accuracy: float = 0.95,
    t0: float = NOW - 500.0,
    prefix: str = "r",
):
    rng = np.random.default_rng(seed + 1000)
    y = (rng.random(n) < 0.3).astype(int)
    pred = np.where(rng.random(n) < accuracy, y, 1 - y)
    score = np.clip(0.2 + 0.5 * pred + rng.normal(0, 0.1, n) + shift / 4, 0, 1)
    rows = feats(n, seed, shift)
    log_predictions(
        engine,
        rows,
        t0=t0,
        dt=400.0 / n,
        outputs=[int(p) for p in pred],
        scores=[float(s) for s in score],
        labels=[int(v) for v in y],
        label_at=t0 + 450.0,
        prefix=prefix,
    )
    return rows, y, pred, score


def config(**kw) -> MonitorConfig:
    base = {"deployment": "fraud", "window_s": 600.0, "min_rows": 100, "cooldown_s": 300.0}
    return MonitorConfig.model_validate({**base, **kw})


def test_monitor_quiet_on_healthy_traffic(engine):
    reference = Reference.from_rows(feats(3000, 1), KINDS)
    traffic(engine, 600, 2)
    calls: list[tuple] = []
    monitor = Monitor(
        engine,
        config(accuracy={"floor": 0.8}),
        reference=reference,
        hooks=[],
        rollback=lambda *a: calls.append(a),
    )
    report = monitor.run_once(now=NOW)
    assert [r.status for r in report.results] == ["ok", "insufficient", "ok"]
    # no scores in the reference and no previous window: prediction drift has no baseline
    assert report.alerts == [] and report.actions == [] and calls == []
    assert report.window["rows"] == 600 and report.window["labelled"] == 600


def test_drift_alert_goes_to_the_webhook_and_the_audit_log_once_per_cooldown(engine, monkeypatch):
    monkeypatch.setenv("ACCUGUARD_TEST_SECRET", "k")
    ref_rows = feats(3000, 1)
    reference = Reference.from_rows(ref_rows, KINDS)
    rows, *_ = traffic(engine, 600, 2, shift=0.4)
    audit = AuditLog(engine)
    rec = Recorder()
    with LoopbackServer(rec) as server:
        hook = WebhookHook(server.url + "/retrain", secret_env="ACCUGUARD_TEST_SECRET")
        monitor = Monitor(engine, config(), reference=reference, hooks=[hook], audit=audit)
        first = monitor.run_once(now=NOW)
        again = monitor.run_once(now=NOW + 10)  # inside the cooldown
        later = monitor.run_once(now=NOW + 400)  # after it (the window still holds the rows)
    drift = first.result("input_drift")
    assert drift is not None and drift.alert and "amount" in drift.detail["drifted"]
    expected = stats.ks_2samp([r["amount"] for r in ref_rows], [r["amount"] for r in rows])
    assert drift.detail["columns"]["amount"]["statistic"] == pytest.approx(expected.statistic)
    assert [a["action"] for a in first.actions] == ["hook"] and first.actions[0]["ok"]
    assert [a["action"] for a in again.actions] == ["cooldown"]
    assert [a["action"] for a in later.actions] == ["hook"]
    assert len(rec.received) == 2
    body = rec.received[0].json()
    assert body["event"] == "input_drift_alert" and body["payload"]["deployment"] == "fraud"
    assert body["payload"]["window"]["rows"] == 600
    entries = audit.entries(actions=["monitor.input_drift"])
    assert len(entries) == 2 and entries[0].decision == "alert" and entries[0].actor == "monitor"
    assert audit.verify().ok


def test_accuracy_floor_breach_calls_the_rollback_callback(engine):
    traffic(engine, 800, 3, accuracy=0.6)
    calls: list[tuple] = []

    def rollback(deployment: str, reason: str, actor: str) -> dict:
        calls.append((deployment, reason, actor))
        return {"state": "rolled_back"}

    cfg = config(
        drift={"enabled": False},
        prediction_drift={"enabled": False},
        accuracy={"floor": 0.8, "rollback": True},
    )
    report = Monitor(engine, cfg, hooks=[], rollback=rollback).run_once(now=NOW)
    acc = report.result("accuracy")
    assert acc is not None and acc.alert and acc.detail["ci_high"] < 0.8
    assert len(calls) == 1 and calls[0][0] == "fraud" and calls[0][2] == "monitor"
    assert calls[0][1].startswith("accuracy floor breached")
    assert report.actions == [
        {
            "monitor": "accuracy",
            "action": "rollback",
            "ok": True,
            "result": {"state": "rolled_back"},
        }
    ]
    assert report.to_dict()["alerts"] == ["accuracy"]


def test_a_failing_rollback_or_hook_is_reported_not_raised(engine):
    traffic(engine, 800, 3, accuracy=0.6)

    class Broken:
        name = "broken"

        def send(self, event, payload, *, delivery=None):
            raise RuntimeError("boom")

    def rollback(deployment, reason, actor):
        raise RuntimeError("controller down")

    cfg = config(
        drift={"enabled": False},
        prediction_drift={"enabled": False},
        accuracy={"floor": 0.8, "rollback": True},
    )
    report = Monitor(engine, cfg, hooks=[Broken()], rollback=rollback).run_once(now=NOW)
    assert [(a["action"], a["ok"]) for a in report.actions] == [
        ("hook", False),
        ("rollback", False),
    ]
    assert "controller down" in report.actions[1]["error"]


def test_prediction_drift_against_the_previous_window(engine):
    *_, before = traffic(engine, 600, 4, t0=NOW - 1100.0, prefix="a")  # previous window
    *_, after = traffic(engine, 600, 5, shift=1.0, prefix="b")  # current, scores moved
    cfg = config(drift={"enabled": False}, accuracy={"enabled": False})
    report = Monitor(engine, cfg, hooks=[]).check(now=NOW)
    pred = report.result("prediction_drift")
    assert pred is not None and pred.alert and pred.detail["baseline"] == "the previous window"
    assert pred.detail["rows"] == 600 and pred.detail["baseline_rows"] == 600
    assert pred.value == pytest.approx(stats.ks_2samp(before, after).statistic, abs=1e-12)


def test_monitor_config_from_yaml_with_a_parquet_reference(tmp_path, engine):
    import pyarrow as pa
    import pyarrow.parquet as pq

    ref = feats(2000, 1)
    scores = np.random.default_rng(0).beta(2, 5, 2000)
    table = pa.Table.from_pylist(ref).append_column("score", pa.array(scores))
    pq.write_table(table, tmp_path / "ref.parquet")
    path = tmp_path / "monitor.yaml"
    path.write_text(
        "deployment: fraud\nwindow_s: 600\nmin_rows: 100\nreference: ref.parquet\n"
        "score_column: score\naccuracy: {metric: recall, floor: 0.5}\n"
    )
    cfg = load_monitor_config(path)
    assert cfg.reference == tmp_path / "ref.parquet" and cfg.accuracy.metric == "recall"
    traffic(engine, 600, 2)
    monitor = Monitor(engine, cfg, hooks=[])
    assert monitor.reference is not None and set(monitor.reference.kinds) == set(KINDS)
    report = monitor.check(now=NOW)
    pred = report.result("prediction_drift")
    assert pred is not None and pred.detail["baseline"].startswith("reference scores")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("deployment: fraud\naccuracy: {floor: 5}\n", "accuracy.floor"),
        ("deployment: fraud\nwindow_s: -1\n", "window_s"),
        ("deployment: fraud\nwebhook: {url: 'ftp://x'}\n", "webhook.url"),
        ("deployment: fraud\nairflow: {base_url: 'http://a', dag_id: 'a b'}\n", "airflow.dag_id"),
        ("deployment: fraud\nbogus: 1\n", "bogus: unknown field"),
        ("- a list\n", "mapping"),
        ("deployment: [unclosed\n", "malformed YAML"),
    ],
)
def test_monitor_config_errors_name_the_file_and_field(tmp_path, text, message):
    path = tmp_path / "monitors.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        load_monitor_config(path)
    assert str(path) in str(info.value)


def test_settings_defaults_are_the_documented_ones():
    assert DriftSettings().correction == "bonferroni"
    assert AccuracySettings().alert_when == "upper_below_floor"


def test_prediction_drift_on_labels_when_the_model_has_no_scores(engine):
    rows = feats(1200, 6)
    before = [1] * 60 + [0] * 540  # 10 % flagged
    after = [1] * 180 + [0] * 420  # 30 % flagged
    log_predictions(engine, rows[:600], t0=NOW - 1100.0, dt=0.5, outputs=before, prefix="a")
    log_predictions(engine, rows[600:], t0=NOW - 500.0, dt=0.5, outputs=after, prefix="b")
    cfg = config(drift={"enabled": False}, accuracy={"enabled": False})
    pred = Monitor(engine, cfg, hooks=[]).check(now=NOW).result("prediction_drift")
    chi2, p, _, _ = stats.chi2_contingency([[540, 60], [420, 180]], correction=False)
    assert pred is not None and pred.alert and pred.detail["method"] == "chi_square"
    assert pred.detail["statistic"] == pytest.approx(chi2) and pred.detail["p_value"] == (
        pytest.approx(p, rel=1e-6)
    )
