"""The monitor's Airflow hook against a real Airflow 3 API server on loopback.

``airflow api-server`` (FastAPI, REST API v2) runs on a free port with the simple auth
manager: a user ``admin`` whose password the test sets, a JWT from ``POST /auth/token``.
The hook (``accuguard.monitor.airflow.AirflowHook``) must create a DAG run of
``accuguard_retrain_dag`` whose conf the retrain DAG accepts, refuse nothing silently,
and never create a second run for one alert.
"""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest

from accuguard.integrations.airflow.conf import parse_retrain_conf
from accuguard.monitor.airflow import AirflowHook

pytestmark = pytest.mark.slow
STARTUP_S = 180  # about 45 s on a loaded 2-core machine


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def api_server(airflow_home, tmp_path_factory):
    """``(base_url, token)`` of a running API server that knows the installed DAGs."""
    secrets = tmp_path_factory.mktemp("airflow-api")
    passwords = secrets / "passwords.json"
    password = "pw-" + secrets.name
    passwords.write_text(json.dumps({"admin": password}))
    airflow_home.env.update(
        {
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__API_AUTH__JWT_SECRET": "jwt-" + secrets.name,
            "AIRFLOW__API__SECRET_KEY": "key-" + secrets.name,
        }
    )
    done = airflow_home.run("dags", "reserialize")  # the DAGs must be in the metadata DB
    assert done.returncode == 0, done.stderr[-3000:]
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = airflow_home.start(
        "api-server", "--host", "127.0.0.1", "--port", str(port), "--apps", "core", "-w", "1"
    )
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            if server.poll() is not None:
                pytest.fail(
                    f"api-server exited {server.returncode}: {server.stdout.read()[-3000:]}"
                )
            try:
                if httpx.get(f"{base}/api/v2/version", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"api-server not answering after {STARTUP_S} s")
            time.sleep(1)
        answer = httpx.post(
            f"{base}/auth/token", json={"username": "admin", "password": password}, timeout=10
        )
        assert answer.status_code in (200, 201), answer.text
        yield base, answer.json()["access_token"]
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except Exception:
            server.kill()


def _runs(base: str, token: str) -> list[dict]:
    answer = httpx.get(
        f"{base}/api/v2/dags/accuguard_retrain_dag/dagRuns",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    # only the runs the hook created (the DAG tests in this session made others)
    return [r for r in answer.json()["dag_runs"] if r["dag_run_id"].startswith("accuguard__")]


def test_alert_creates_one_retrain_run_whose_conf_the_dag_accepts(api_server, monkeypatch):
    base, token = api_server
    monkeypatch.setenv("AIRFLOW_TOKEN", token)
    alert = {
        "deployment": "fraud",
        "monitor": "input_drift",
        "reason": "2 of 3 columns drifted",
        "value": 0.67,
        "threshold": 0.3,
        "window": {"start": 1700000000, "end": 1700003600},
        "detail": {"drifted": ["a", "b"]},
    }
    hook = AirflowHook(base, "accuguard_retrain_dag", retries=1, backoff_s=0.1)
    try:
        sent = hook.send("input_drift_alert", alert, delivery="delivery-1")
        again = hook.send("input_drift_alert", alert, delivery="delivery-1")
    finally:
        hook.close()
    assert sent.ok and sent.status_code == 200, sent
    assert sent.detail["dag_run_id"] == "accuguard__input_drift_alert__delivery-1"
    assert sent.detail["state"] == "queued"
    assert not again.ok and again.status_code == 409  # a fresh send of the same delivery

    runs = _runs(base, token)  # never a second run for one alert
    assert [r["dag_run_id"] for r in runs] == ["accuguard__input_drift_alert__delivery-1"]
    conf = runs[0]["conf"]
    assert conf == {"event": "input_drift_alert", "delivery": "delivery-1", "alert": alert}
    assert parse_retrain_conf(conf).alert.deployment == "fraud"  # what read_alert checks


def test_wrong_token_is_refused_without_retrying(api_server, monkeypatch):
    base, token = api_server
    monkeypatch.setenv("AIRFLOW_TOKEN", token[:-4] + "AAAA")
    hook = AirflowHook(base, "accuguard_retrain_dag", retries=3, backoff_s=0.1)
    sent = hook.send("input_drift_alert", {"deployment": "fraud", "monitor": "x"})
    hook.close()
    # Airflow 3.3 answers 403 "Invalid JWT token" (401 when no token at all)
    assert not sent.ok and sent.status_code in (401, 403) and sent.attempts == 1
    assert token[:-4] not in json.dumps(sent.to_dict())  # the token is never reported
