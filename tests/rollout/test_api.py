"""The rollout API in the real gateway app: tokens and roles, actions, the traffic it
serves, a failing canary rolled back with no failed request, and the CLI over HTTP."""

from __future__ import annotations

import re
import socket
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pytest

from accuguard.audit import AuditLog
from accuguard.auth import TokenStore
from accuguard.gateway import create_app
from accuguard.rollout.state import latest_rollout
from tests.gateway.conftest import (  # noqa: F401 (session fixture)
    ROW,
    SALT,
    _registry_uri,
    client_for,
    make_config,
    wait_ready,
)
from tests.rollout.support_controller import copy_registry, mlflow_client, store

PLAN_YAML = """
steps:
  - name: shadow
    mode: shadow
    min_requests: 1000
  - name: canary-20
    mode: canary
    weight: 0.2
"""

FAILING_CANARY = """
on_inconclusive: rollback
steps:
  - name: canary-50
    mode: canary
    weight: 0.5
    min_requests: 10
    max_duration_s: 120
    gate:
      checks:
        - {check: error_rate, max: 0.2, min_samples: 10}
"""


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def gateway_app(registry_uri, tmp_path, deployments, **controller):
    engine = store(tmp_path)
    tokens = TokenStore(engine)
    config = make_config(
        registry_uri,
        deployments,
        store_url=f"sqlite:///{tmp_path / 'events.db'}",
        spool_dir=str(tmp_path / "spool"),
        controller={"enabled": False, "traffic_poll_s": 0.2, **controller},
    )
    app = create_app(
        config, privacy_salt=SALT, registry_client=mlflow_client(registry_uri), store_engine=engine
    )
    return SimpleNamespace(
        app=app,
        engine=engine,
        viewer=tokens.create("vera", "viewer"),
        operator=tokens.create("otto", "operator"),
    )


@pytest.fixture
def registry(_registry_uri, tmp_path):  # noqa: F811
    import mlflow

    yield copy_registry(_registry_uri, tmp_path)
    mlflow.set_tracking_uri(None)


@pytest.fixture
def fraud(registry, tmp_path):
    gw = gateway_app(registry, tmp_path, {"fraud": {"model": "fraud"}})
    with client_for(gw.app) as client:
        wait_ready(client)
        gw.client = client
        yield gw


def serving(client, deployment="fraud"):
    return client.get("/readyz").json()["deployments"].get(deployment, {})


def wait_until(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_tokens_and_roles_guard_the_api(fraud):
    c = fraud.client
    assert c.get("/v1/rollouts").status_code == 401
    assert c.get("/v1/rollouts", headers=bearer("agt_not-a-token")).status_code == 401
    assert c.get("/v1/rollouts", headers=bearer(fraud.viewer)).json() == {"rollouts": []}
    body = {"challenger": "models:/fraud/2", "plan": PLAN_YAML}
    r = c.post("/v1/rollouts/fraud/start", json=body, headers=bearer(fraud.viewer))
    assert r.status_code == 403
    assert "needs role operator" in r.json()["error"]["message"]
    r = c.post("/v1/rollouts/fraud/promote", json={}, headers=bearer(fraud.viewer))
    assert r.status_code == 403
    denied = AuditLog(fraud.engine).entries(actions=["auth.denied"])
    assert [e.actor for e in denied] == ["anonymous", "anonymous", "vera", "vera"]
    assert denied[2].evidence["attempted_action"] == "rollout.start"
    assert latest_rollout(fraud.engine, "fraud") is None  # nothing was started


def test_start_act_promote_and_roll_back_through_the_api(fraud, registry):
    c, op, viewer = fraud.client, bearer(fraud.operator), bearer(fraud.viewer)
    body = {"challenger": "models:/fraud/2", "plan": PLAN_YAML}
    r = c.post("/v1/rollouts/fraud/start", json=body, headers=op)
    assert r.status_code == 201, r.text
    started = r.json()
    assert (started["state"], started["variant"], started["started_by"]) == (
        "running",
        "v2",
        "otto",
    )
    assert started["traffic"] == {"variant": "v2", "mode": "shadow", "weight": 1.0}
    # the gateway applies it at once (in-process notification): v2 shadows the champion
    assert wait_until(lambda: serving(c).get("v2", {}).get("mode") == "shadow")
    for i in range(5):
        assert c.post(
            "/v1/deployments/fraud/predict", json={"row": ROW, "unit_id": f"u{i}"}
        ).is_success

    status = c.get("/v1/rollouts/fraud", headers=viewer).json()
    assert status["step"]["name"] == "shadow" and status["step"]["of"] == 2
    assert "advance to 'canary-20'" in status["next"]

    assert c.post("/v1/rollouts/fraud/pause", headers=op).json()["state"] == "paused"
    r = c.post("/v1/rollouts/fraud/pause", headers=op)
    assert r.status_code == 409 and "paused" in r.json()["error"]["message"]
    assert c.post("/v1/rollouts/fraud/resume", json={}, headers=op).json()["state"] == "running"
    r = c.post("/v1/rollouts/fraud/weights", json={"weight": 0.5}, headers=op)
    assert r.json()["traffic"]["weight"] == 0.5

    r = c.post("/v1/rollouts/fraud/promote", json={"reason": "looks right"}, headers=op)
    assert r.status_code == 200 and r.json()["state"] == "promoted"
    client = mlflow_client(registry)
    assert str(client.get_model_version_by_alias("fraud", "champion").version) == "2"
    assert str(client.get_model_version_by_alias("fraud", "previous").version) == "1"
    assert wait_until(lambda: serving(c).get("champion", {}).get("version") == "2")
    assert "v2" not in serving(c)

    r = c.post("/v1/rollouts/fraud/rollback", json={"reason": "bad night"}, headers=op)
    assert r.status_code == 200, r.text
    assert r.json()["rolled_back_to_previous"]["champion"] == "1"
    assert str(client.get_model_version_by_alias("fraud", "champion").version) == "1"
    assert wait_until(lambda: serving(c).get("champion", {}).get("version") == "1")

    actions = [(e.action, e.actor) for e in AuditLog(fraud.engine).entries(deployment="fraud")]
    assert actions == [
        ("rollout.start", "otto"),
        ("rollout.pause", "otto"),
        ("rollout.resume", "otto"),
        ("rollout.weight", "otto"),
        ("rollout.promote", "otto"),
        ("rollout.rollback_to_previous", "otto"),
    ]
    listed = c.get("/v1/rollouts", headers=viewer).json()["rollouts"]
    assert [(x["variant"], x["state"]) for x in listed] == [("v2", "rolled_back")]


def test_bad_requests_get_clear_4xx_answers(fraud):
    c, op = fraud.client, bearer(fraud.operator)

    def start(body, deployment="fraud"):
        return c.post(f"/v1/rollouts/{deployment}/start", json=body, headers=op)

    r = start({"challenger": "models:/fraud/2", "plan": PLAN_YAML}, deployment="nope")
    assert r.status_code == 404 and "known: fraud" in r.json()["error"]["message"]
    r = start({"challenger": "models:/fraud/2", "plan": "steps:\n  - {name: c, mode: canary}"})
    assert r.status_code == 422 and "steps.0.weight" in r.json()["error"]["message"]
    r = start({"challenger": "models:/risk/1", "plan": PLAN_YAML})
    assert r.status_code == 422 and "serves model 'fraud'" in r.json()["error"]["message"]
    r = start({"plan": PLAN_YAML})
    assert r.status_code == 422 and r.json()["error"]["field"] == "challenger"
    r = c.post("/v1/rollouts/fraud/start", content=b"{not json", headers=op)
    assert r.status_code == 400
    assert c.get("/v1/rollouts/fraud", headers=op).status_code == 404  # none yet
    assert c.post("/v1/rollouts/fraud/pause", headers=op).status_code == 404
    assert start({"challenger": "models:/fraud/2", "plan": PLAN_YAML}).status_code == 201
    assert start({"challenger": "models:/fraud/2", "plan": PLAN_YAML}).status_code == 409
    r = c.post("/v1/rollouts/fraud/weights", json={"weight": 2}, headers=op)
    assert r.status_code == 409 and "[0, 1]" in r.json()["error"]["message"]
    r = c.post("/v1/rollouts/fraud/weights", json={"weight": "half"}, headers=op)
    assert r.status_code == 422


@pytest.mark.parametrize(("version", "kind"), [("2", "raises"), ("3", "hangs")])
def test_a_failing_canary_is_rolled_back_with_no_failed_user_request(
    registry, tmp_path, version, kind
):
    gw = gateway_app(
        registry,
        tmp_path,
        # 1.5 s: the 200 ms champion answers in time on a loaded machine; v3 (2 s) does not
        {"sleepy": {"model": "sleepy", "timeout_ms": 1500}},
        enabled=True,
        interval_s=0.2,
        lease_ttl_s=5,
    )
    statuses: list[int] = []
    with client_for(gw.app) as c:
        wait_ready(c)
        body = {"challenger": f"models:/sleepy/{version}", "plan": FAILING_CANARY}
        r = c.post("/v1/rollouts/sleepy/start", json=body, headers=bearer(gw.operator))
        assert r.status_code == 201, r.text
        assert wait_until(lambda: serving(c, "sleepy").get(f"v{version}", {}).get("mode"))

        def predict(i: int) -> int:
            payload = {"row": ROW, "unit_id": f"user-{i}"}
            return c.post("/v1/deployments/sleepy/predict", json=payload).status_code

        with ThreadPoolExecutor(4) as pool:
            i = 0
            deadline = time.monotonic() + 90
            while latest_rollout(gw.engine, "sleepy").state == "running":
                assert time.monotonic() < deadline, "no rollback within 90 s"
                statuses += pool.map(predict, range(i, i + 8))
                i += 8
            statuses += pool.map(predict, range(i, i + 16))  # after the rollback
    assert statuses and set(statuses) == {200}  # the champion answered every request
    rollout = latest_rollout(gw.engine, "sleepy")
    assert rollout.state == "rolled_back" and "error_rate" in rollout.reason
    assert rollout.evidence["challenger"]["errors"] >= 10
    assert (
        str(mlflow_client(registry).get_model_version_by_alias("sleepy", "champion").version) == "1"
    )
    with sqlite3.connect(tmp_path / "events.db") as conn:
        failed = conn.execute(
            "SELECT count(*), max(created_at) FROM predictions WHERE variant = ? "
            "AND error IS NOT NULL",
            (f"v{version}",),
        ).fetchone()
        error_text = conn.execute(
            "SELECT error FROM predictions WHERE variant = ? AND error IS NOT NULL LIMIT 1",
            (f"v{version}",),
        ).fetchone()[0]
        last_16 = conn.execute(
            "SELECT variant, error FROM predictions ORDER BY created_at DESC LIMIT 16"
        ).fetchall()
    expected = "timed out after 1500 ms" if kind == "hangs" else "failed: "
    assert expected in error_text
    assert failed[0] >= 10
    assert failed[1] < rollout.finished_at + 2.0  # at most the requests in flight
    assert set(last_16) == {("champion", None)}  # traffic to the challenger is zero
    entry = AuditLog(gw.engine).entries(actions=["rollout.rollback"])[0]
    assert entry.actor == "controller"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_cli_drives_a_rollout_over_http(registry, tmp_path, capsys):
    import uvicorn

    from accuguard.cli import main

    gw = gateway_app(registry, tmp_path, {"fraud": {"model": "fraud"}})
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(gw.app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN_YAML)

    def cli(*args: str, token: str | None = gw.operator) -> tuple[int, str, str]:
        argv = ["rollout", *args, "--url", url] + (["--token", token] if token else [])
        try:
            main(argv)
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        got = capsys.readouterr()
        return code, got.out, got.err

    try:
        assert wait_until(lambda: server.started, 30)
        code, out, _ = cli("start", "fraud", "--challenger", "models:/fraud/2", "--plan", str(plan))
        assert code == 0, out
        assert "rollout 1 of v2" in out and "running" in out and "shadow" in out
        code, out, _ = cli("status", "fraud", token=gw.viewer)
        assert code == 0 and "step 1/2 'shadow'" in out and "next:" in out
        code, _, err = cli("pause", "fraud", token=gw.viewer)
        assert code == 2 and "HTTP 403" in err
        code, _, err = cli("status", "fraud", token=None)
        assert code == 2 and "HTTP 401" in err and "ACCUGUARD_TOKEN" in err
        assert cli("pause", "fraud", "--reason", "checking")[0] == 0
        code, out, _ = cli("rollback", "fraud")
        assert code == 0 and "rolled_back" in out
        code, out, _ = cli("status", token=gw.viewer)
        assert code == 0 and "v2" in out and "rolled_back" in out
        bad = tmp_path / "bad.yaml"
        bad.write_text("steps: []\n")
        code, _, err = cli("start", "fraud", "--challenger", "models:/fraud/2", "--plan", str(bad))
        assert code == 2 and "bad.yaml" in err and "steps" in err
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    actors = {(e.action, e.actor) for e in AuditLog(gw.engine).entries(deployment="fraud")}
    assert {
        ("rollout.start", "otto"),
        ("rollout.pause", "otto"),
        ("rollout.rollback", "otto"),
    } <= actors


DOCS = Path(__file__).resolve().parents[2] / "docs" / "rollout.md"


def test_docs_show_a_valid_controller_section_and_every_route(tmp_path):
    from accuguard.gateway.config import load_gateway_config
    from accuguard.rollout.api import rollout_routes

    text = DOCS.read_text()
    block = next(b for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if "controller:" in b)
    path = tmp_path / "gateway.yaml"
    path.write_text(block)
    cfg = load_gateway_config(path, env={}).controller
    assert (cfg.enabled, cfg.interval_s, cfg.lease_ttl_s, cfg.traffic_poll_s) == (True, 5, 30, 1)
    routes = {(m, r.path) for r in rollout_routes(SimpleNamespace()) for m in r.methods - {"HEAD"}}
    documented = set(re.findall(r"\| (GET|POST) \| `(/v1/rollouts[^` ]*)`", text))
    assert documented == routes


def test_overlay_adds_the_challenger_and_caps_canary_weights():
    from accuguard.gateway.config import GatewayConfig
    from accuguard.rollout.traffic import Traffic, overlay

    config = GatewayConfig.model_validate(
        {
            "deployments": {
                "fraud": {
                    "model": "fraud",
                    "challengers": [
                        {"name": "old", "version": 3, "mode": "canary", "weight": 0.7},
                        {"name": "v7", "version": 5, "mode": "shadow"},
                    ],
                },
                "risk": {"model": "risk"},
            }
        }
    )
    out = overlay(
        config,
        {
            "fraud": Traffic("fraud", "fraud", "7", "canary", 0.5),
            "risk": Traffic("risk", "other-model", "2", "shadow", 1.0),  # not risk's model
            "gone": Traffic("gone", "x", "1", "shadow", 1.0),  # no such deployment
        },
    )
    fraud = {c.name: c for c in out.deployments["fraud"].challengers}
    assert set(fraud) == {"old", "v7"}  # the configured v7 is replaced
    assert (fraud["v7"].mode, fraud["v7"].version) == ("canary", 7)
    assert fraud["v7"].weight == pytest.approx(0.3)  # capped: 0.7 + 0.3 = 1
    assert out.deployments["risk"] == config.deployments["risk"]
    assert set(out.deployments) == {"fraud", "risk"}
    assert overlay(config, {}) is config
