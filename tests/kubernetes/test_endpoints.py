"""The Argo Rollouts analysis endpoint and the Flagger webhooks in the real gateway app,
with a real SQLite event log, the real rollout controller and a real MLflow registry."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

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

# the shadow step passes after 10 requests without errors; the canary step waits long
PLAN = """
steps:
  - name: shadow
    mode: shadow
    min_requests: 10
    gate:
      checks:
        - {check: error_rate, max: 0.5, min_samples: 10}
  - name: canary-10
    mode: canary
    weight: 0.1
    min_requests: 100000
"""


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def wait_until(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.fixture
def registry(_registry_uri, tmp_path):  # noqa: F811
    import mlflow

    yield copy_registry(_registry_uri, tmp_path)
    mlflow.set_tracking_uri(None)


@pytest.fixture
def gw(registry, tmp_path):
    engine = store(tmp_path)
    tokens = TokenStore(engine)
    config = make_config(
        registry,
        {"fraud": {"model": "fraud"}},
        store_url=f"sqlite:///{tmp_path / 'events.db'}",
        spool_dir=str(tmp_path / "spool"),
        controller={"enabled": True, "interval_s": 0.2, "lease_ttl_s": 5, "traffic_poll_s": 0.2},
    )
    app = create_app(
        config, privacy_salt=SALT, registry_client=mlflow_client(registry), store_engine=engine
    )
    with client_for(app) as client:
        wait_ready(client)
        yield SimpleNamespace(
            client=client,
            engine=engine,
            viewer=tokens.create("argo", "viewer"),
            operator=tokens.create("otto", "operator"),
        )


def flagger(c, hook, token, **metadata):
    body = {"name": "fraud", "namespace": "ml", "phase": "Progressing", "checksum": "abc"}
    body["metadata"] = {"token": token, **metadata} if token else metadata
    return c.post(f"/v1/flagger/{hook}", json=body)


def test_the_analysis_endpoint_needs_a_viewer_token_and_a_known_deployment(gw):
    c = gw.client
    r = c.get("/v1/analysis/fraud")
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    assert c.get("/v1/analysis/fraud", headers=bearer("agt_nope")).status_code == 401
    r = c.get("/v1/analysis/fraud", headers=bearer(gw.viewer))
    assert r.status_code == 200
    assert r.json()["verdict"] == "inconclusive"  # no rollout: never a pass
    assert "has no rollout" in r.json()["reason"]
    r = c.get("/v1/analysis/nope", headers=bearer(gw.viewer))
    assert r.status_code == 404 and "known: fraud" in r.json()["error"]["message"]
    r = c.get("/v1/analysis/fraud?max_age_s=soon", headers=bearer(gw.viewer))
    assert r.status_code == 422 and "max_age_s" in r.json()["error"]["message"]
    r = c.get("/v1/analysis/fraud?final=maybe", headers=bearer(gw.viewer))
    assert r.status_code == 422


def test_flagger_webhooks_check_the_payload_and_take_the_token_from_metadata(gw):
    c = gw.client
    assert flagger(c, "rollout", None).status_code == 401  # halts Flagger
    r = c.post("/v1/flagger/rollout", json={"namespace": "ml"}, headers=bearer(gw.viewer))
    assert r.status_code == 422 and r.json()["error"]["field"] == "name"
    r = c.post(
        "/v1/flagger/rollout",
        json={"name": "fraud", "metadata": {"n": 1}},
        headers=bearer(gw.viewer),
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "metadata"
    r = flagger(c, "promote-now", gw.viewer)
    assert r.status_code == 404 and "confirm-promotion" in r.json()["error"]["message"]
    r = flagger(c, "rollout", gw.viewer, deployment="nope")
    assert r.status_code == 404 and r.json()["error"]["field"] == "metadata.deployment"
    # no rollout yet: every gate halts, rollback is not asked for, acks are 200
    codes = {h: flagger(c, h, gw.viewer).status_code for h in ("confirm-rollout", "rollback")}
    assert codes == {"confirm-rollout": 412, "rollback": 412}
    assert flagger(c, "post-rollout", gw.viewer).status_code == 200


def test_argo_and_flagger_follow_a_real_rollout_from_shadow_to_rollback(gw, registry):
    c, viewer, op = gw.client, bearer(gw.viewer), bearer(gw.operator)
    body = {"challenger": "models:/fraud/2", "plan": PLAN}
    assert c.post("/v1/rollouts/fraud/start", json=body, headers=op).status_code == 201

    def analysis(query=""):
        r = c.get(f"/v1/analysis/fraud{query}", headers=viewer)
        assert r.status_code == 200, r.text
        return r.json()

    first = analysis("?version=2")
    assert first["verdict"] == "inconclusive" and first["rollout"]["variant"] == "v2"
    assert analysis("?version=3")["verdict"] == "inconclusive"  # not the rollout asked for
    assert flagger(c, "confirm-rollout", gw.viewer, version="2").status_code == 200
    assert flagger(c, "confirm-rollout", gw.viewer, version="3").status_code == 412
    assert flagger(c, "confirm-promotion", gw.viewer).status_code == 412

    # live traffic: the shadow scores it, the controller passes the shadow step
    for i in range(20):
        r = c.post("/v1/deployments/fraud/predict", json={"row": ROW, "unit_id": f"u{i}"})
        assert r.status_code == 200
    assert wait_until(lambda: latest_rollout(gw.engine, "fraud").step_index == 1)
    passed = analysis("?step=shadow&version=2")
    assert passed["verdict"] == "pass" and "step 'shadow' passed" in passed["reason"]
    # the canary step has its own evidence: not a pass yet (min_requests 100000)
    assert wait_until(lambda: analysis()["gate"]["gate"]["step"] == "canary-10")
    now = analysis()
    assert now["verdict"] == "inconclusive" and "min_requests" in now["reason"]
    assert now["rollout"]["step"] == {"index": 1, "name": "canary-10", "of": 2}
    assert c.get("/v1/analysis/fraud?step=nope", headers=viewer).status_code == 422
    assert flagger(c, "rollout", gw.viewer).status_code == 200  # not failing: go on
    assert flagger(c, "confirm-traffic-increase", gw.viewer).status_code == 412
    assert flagger(c, "confirm-traffic-increase", gw.viewer, step="shadow").status_code == 200
    assert flagger(c, "rollback", gw.viewer).status_code == 412

    r = c.post("/v1/rollouts/fraud/rollback", json={"reason": "drift"}, headers=op)
    assert r.status_code == 200
    failed = analysis()
    assert failed["verdict"] == "fail" and "drift" in failed["reason"]
    assert analysis("?step=shadow")["verdict"] == "fail"
    r = flagger(c, "rollback", gw.viewer)
    assert r.status_code == 200 and r.json()["proceed"] is True  # Flagger rolls back
    r = flagger(c, "rollout", gw.viewer)
    assert r.status_code == 412 and r.json()["verdict"] == "fail"  # a failed check
    assert r.json()["canary"] == "ml/fraud"
