"""The predict hot path answers exactly what the Starlette route answers."""

from __future__ import annotations

import json
import time

import pytest

from tests.gateway.conftest import ROW, make_config, serving


@pytest.fixture(scope="module")
def app(registry):
    uri, _ = registry
    config = make_config(
        uri,
        {
            "fraud": {
                "model": "fraud",
                "challengers": [{"name": "v2", "alias": "challenger", "mode": "shadow"}],
            }
        },
        limits={"max_rows": 5, "max_body_bytes": 2048},
    )
    with serving(config) as (client, sink):
        yield client, sink


def both_ways(client, path, **kwargs):
    """The answer of the hot path, then of the Starlette route (hot path switched off)."""
    fast = client.post(path, **kwargs)
    gateway, client.app.gateway = client.app.gateway, None
    try:
        slow = client.post(path, **kwargs)
    finally:
        client.app.gateway = gateway
    return fast, slow


REQUESTS = [
    ("/v1/deployments/fraud/predict", {"json": {"row": ROW, "unit_id": "u-1"}}),
    ("/v1/deployments/fraud/predict", {"json": {"rows": [ROW, ROW]}}),
    ("/v1/deployments/fraud/predict", {"json": {"row": {**ROW, "amount": "x"}}}),
    ("/v1/deployments/fraud/predict", {"content": b"{not json"}),
    ("/v1/deployments/fraud/predict", {"json": {"rows": [ROW] * 6}}),
    ("/v1/deployments/fraud/predict", {"content": json.dumps({"row": ROW, "pad": "x" * 3000})}),
    ("/v1/deployments/nope/predict", {"json": {"row": ROW}}),
    ("/v1/deployments/fraud/predict", {"json": {"row": ROW}, "headers": {"X-Request-Id": "b a"}}),
]


@pytest.mark.parametrize(("path", "kwargs"), REQUESTS)
def test_hot_path_and_starlette_route_give_the_same_answer(app, path, kwargs):
    client, _ = app
    fast, slow = both_ways(client, path, **kwargs)
    assert fast.status_code == slow.status_code
    assert fast.headers["content-type"] == slow.headers["content-type"] == "application/json"
    assert fast.headers["content-length"] == str(len(fast.content))
    a, b = fast.json(), slow.json()
    if fast.status_code == 200:  # request ids are new per request
        a.pop("request_id"), b.pop("request_id")
    assert a == b


def test_hot_path_logs_the_prediction_and_mirrors_it_to_the_shadow(app):
    client, sink = app
    r = client.post(
        "/v1/deployments/fraud/predict", json={"row": ROW}, headers={"X-Request-Id": "fast-1"}
    )
    assert r.status_code == 200 and r.json()["request_id"] == "fast-1"
    for _ in range(200):  # the shadow's call comes after the answer, within its flush
        if {p.variant for p in sink.predictions if p.request_id == "fast-1"} == {"champion", "v2"}:
            break
        time.sleep(0.05)
    assert {p.variant for p in sink.predictions if p.request_id == "fast-1"} == {"champion", "v2"}


def test_other_methods_and_paths_still_go_through_starlette(app):
    client, _ = app
    assert client.get("/v1/deployments/fraud/predict").status_code == 405
    assert client.post("/v1/deployments/fraud/predict/extra", json={}).status_code == 404
    assert client.get("/healthz").json() == {"status": "alive"}
