"""Webhook and Airflow hooks against a real HTTP server on loopback."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import socket
import time

import pytest

from accuguard.errors import ConfigError
from accuguard.monitor.airflow import AirflowHook
from accuguard.monitor.hooks import HookError, WebhookHook, verify_signature
from tests.monitor._server import LoopbackServer, Recorder

SECRET = "s3cr3t-value-for-tests"


@pytest.fixture
def secret(monkeypatch):
    monkeypatch.setenv("ACCUGUARD_TEST_WEBHOOK_SECRET", SECRET)
    return "ACCUGUARD_TEST_WEBHOOK_SECRET"


def expected_signature(timestamp: str, body: bytes) -> str:
    mac = hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def test_webhook_posts_signed_json(secret):
    rec = Recorder()
    sleeps: list[float] = []
    with LoopbackServer(rec) as server:
        hook = WebhookHook(f"{server.url}/hooks/retrain", secret_env=secret, sleep=sleeps.append)
        result = hook.send("input_drift_alert", {"deployment": "fraud", "value": 0.5})
        hook.close()
    assert result.ok and result.status_code == 200 and result.attempts == 1 and not sleeps
    [req] = rec.received
    assert req.method == "POST" and req.path == "/hooks/retrain"
    headers = {k.lower(): v for k, v in req.headers.items()}
    assert headers["content-type"] == "application/json"
    assert headers["x-accuguard-event"] == "input_drift_alert"
    timestamp = headers["x-accuguard-timestamp"]
    assert abs(int(timestamp) - time.time()) < 60
    assert headers["x-accuguard-signature"] == expected_signature(timestamp, req.body)
    body = req.json()
    assert body["event"] == "input_drift_alert"
    assert body["payload"] == {"deployment": "fraud", "value": 0.5}
    assert body["delivery"] == headers["x-accuguard-delivery"] == result.detail["delivery"]
    assert verify_signature(SECRET.encode(), req.body, timestamp, headers["x-accuguard-signature"])
    assert not verify_signature(b"other", req.body, timestamp, headers["x-accuguard-signature"])
    assert not verify_signature(
        SECRET.encode(), req.body + b" ", timestamp, headers["x-accuguard-signature"]
    )
    assert not verify_signature(
        SECRET.encode(),
        req.body,
        timestamp,
        headers["x-accuguard-signature"],
        now=time.time() + 3600,
    )


def test_webhook_retries_503_with_backoff_and_keeps_the_delivery_id(secret):
    rec = Recorder([(503, {}, b"busy"), (503, {}, b"busy"), (200, {}, b"{}")])
    sleeps: list[float] = []
    with LoopbackServer(rec) as server:
        hook = WebhookHook(
            server.url + "/h", secret_env=secret, backoff_s=0.5, retries=3, sleep=sleeps.append
        )
        result = hook.send("accuracy_alert", {"x": 1})
    assert result.ok and result.attempts == 3 and len(rec.received) == 3
    assert sleeps == [0.5, 1.0]
    deliveries = {r.headers["X-Accuguard-Delivery"] for r in rec.received}
    assert len(deliveries) == 1
    for r in rec.received:
        assert r.headers["X-Accuguard-Signature"] == expected_signature(
            r.headers["X-Accuguard-Timestamp"], r.body
        )


def test_webhook_gives_up_after_the_retries_and_never_logs_the_secret(secret, caplog):
    caplog.set_level(logging.DEBUG)
    rec = Recorder([(503, {}, b"down")])
    with LoopbackServer(rec) as server:
        hook = WebhookHook(
            server.url + "/h?key=url-credential", secret_env=secret, retries=2, sleep=lambda s: None
        )
        result = hook.send("input_drift_alert", {"x": 1})
    assert not result.ok and result.attempts == 3 and len(rec.received) == 3
    assert result.error == "HTTP 503" and result.status_code == 503
    assert SECRET not in caplog.text and SECRET not in json.dumps(result.to_dict())
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("accuguard"))
    assert "retry 1/2" in ours and "url-credential" not in ours  # URLs are logged redacted
    assert "url-credential" not in json.dumps(result.to_dict())


def test_webhook_does_not_retry_a_client_error_but_honours_retry_after_on_429(secret):
    rec = Recorder([(400, {}, b"bad")])
    with LoopbackServer(rec) as server:
        result = WebhookHook(server.url, secret_env=secret, sleep=lambda s: None).send("e", {})
    assert not result.ok and result.attempts == 1 and result.status_code == 400
    rec = Recorder([(429, {"Retry-After": "2"}, b""), (204, {}, b"")])
    sleeps: list[float] = []
    with LoopbackServer(rec) as server:
        result = WebhookHook(server.url, backoff_s=0.1, sleep=sleeps.append).send("e", {})
    assert result.ok and sleeps == [2.0]
    assert "X-Accuguard-Signature" not in rec.received[0].headers  # no secret: unsigned


def test_webhook_reports_a_refused_connection_after_retries():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sleeps: list[float] = []
    result = WebhookHook(
        f"http://127.0.0.1:{port}/h", retries=2, backoff_s=0.2, sleep=sleeps.append
    ).send("e", {})
    assert not result.ok and result.attempts == 3 and result.status_code is None
    assert result.error is not None and "connection failed" in result.error
    assert sleeps == [0.2, 0.4]


def test_webhook_config_errors(monkeypatch):
    monkeypatch.delenv("NOPE_SECRET", raising=False)
    with pytest.raises(ConfigError, match="NOPE_SECRET"):
        WebhookHook("http://127.0.0.1:9/h", secret_env="NOPE_SECRET")
    with pytest.raises(ConfigError, match="http"):
        WebhookHook("file:///etc/passwd")
    with pytest.raises(HookError, match="JSON"):
        WebhookHook("http://127.0.0.1:9/h").send("e", {"x": float("nan")})


@pytest.fixture
def token(monkeypatch):
    monkeypatch.setenv("ACCUGUARD_TEST_AIRFLOW_TOKEN", "jwt-token-123")
    return "ACCUGUARD_TEST_AIRFLOW_TOKEN"


def test_airflow_hook_triggers_a_dag_run_through_the_v2_api(token):
    answer = json.dumps({"dag_run_id": "accuguard__x", "state": "queued"}).encode()
    rec = Recorder([(200, {}, answer)])
    with LoopbackServer(rec) as server:
        hook = AirflowHook(server.url + "/", "retrain_fraud", token_env=token, sleep=lambda s: None)
        result = hook.trigger(
            {"deployment": "fraud", "rows": 3}, dag_run_id="accuguard__x", note="drift"
        )
        hook.close()
    [req] = rec.received
    assert req.method == "POST" and req.path == "/api/v2/dags/retrain_fraud/dagRuns"
    assert req.headers["Authorization"] == "Bearer jwt-token-123"
    assert req.headers["Content-Type"] == "application/json"
    body = req.json()
    assert set(body) == {"logical_date", "dag_run_id", "conf", "note"}
    assert body["logical_date"] is None and body["dag_run_id"] == "accuguard__x"
    assert body["conf"] == {"deployment": "fraud", "rows": 3} and body["note"] == "drift"
    assert result.ok and result.detail["state"] == "queued"
    assert result.detail["dag_run_id"] == "accuguard__x"


def test_airflow_send_wraps_the_alert_and_derives_the_run_id(token):
    rec = Recorder([(503, {}, b""), (200, {}, b"{}")])
    with LoopbackServer(rec) as server:
        hook = AirflowHook(server.url, "retrain", token_env=token, sleep=lambda s: None)
        result = hook.send("input_drift_alert", {"value": 0.3}, delivery="d-1")
    assert result.ok and result.attempts == 2
    bodies = [r.json() for r in rec.received]
    assert bodies[0] == bodies[1]  # the same run id on the retry
    assert bodies[0]["dag_run_id"] == "accuguard__input_drift_alert__d-1"
    assert bodies[0]["conf"] == {
        "event": "input_drift_alert",
        "delivery": "d-1",
        "alert": {"value": 0.3},
    }


def test_airflow_409_after_a_lost_answer_counts_as_triggered_but_not_on_the_first_try(token):
    rec = Recorder([(502, {}, b""), (409, {}, b'{"detail": "exists"}')])
    with LoopbackServer(rec) as server:
        hook = AirflowHook(server.url, "retrain", token_env=token, sleep=lambda s: None)
        assert hook.trigger({}).ok
    rec = Recorder([(409, {}, b'{"detail": "exists"}')])
    with LoopbackServer(rec) as server:
        hook = AirflowHook(server.url, "retrain", token_env=token, sleep=lambda s: None)
        result = hook.trigger({})
    assert not result.ok and result.attempts == 1 and "exists" in result.detail["response"]


def test_airflow_does_not_retry_an_unknown_dag(token):
    rec = Recorder([(404, {}, b'{"detail": "DAG not found"}')])
    with LoopbackServer(rec) as server:
        result = AirflowHook(server.url, "nope", token_env=token, sleep=lambda s: None).trigger({})
    assert not result.ok and result.status_code == 404 and len(rec.received) == 1


@pytest.mark.parametrize(
    ("conf", "message"),
    [
        ({"x": float("nan")}, "not JSON-serialisable"),
        ({"x": object()}, "not JSON-serialisable"),
        (["not", "a", "mapping"], "mapping"),
        ({"x": "y" * 5000}, "at most 1024"),
    ],
)
def test_airflow_conf_is_validated_before_anything_is_sent(token, conf, message):
    rec = Recorder()
    with LoopbackServer(rec) as server:
        hook = AirflowHook(server.url, "retrain", token_env=token, max_conf_bytes=1024)
        with pytest.raises(HookError, match=message):
            hook.trigger(conf)
    assert rec.received == []


def test_airflow_config_errors(monkeypatch, token):
    with pytest.raises(ConfigError, match="dag_id"):
        AirflowHook("http://127.0.0.1:9", "bad/dag", token_env=token)
    monkeypatch.delenv("NO_AIRFLOW_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="NO_AIRFLOW_TOKEN"):
        AirflowHook("http://127.0.0.1:9", "retrain", token_env="NO_AIRFLOW_TOKEN")
