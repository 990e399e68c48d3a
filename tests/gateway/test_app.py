"""The app in-process against the real registry: predict, errors, feedback, health, admin."""

from __future__ import annotations

import json

import numpy as np
import pytest

from accuguard.privacy import hash_unit
from tests.gateway.conftest import ROW, SALT, MemorySink, client_for, make_config, serving

TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def app(registry):
    uri, frame = registry
    config = make_config(
        uri,
        {
            "fraud": {"model": "fraud"},
            "risk": {"model": "risk"},
            "broken": {"model": "sleepy", "champion_alias": "broken"},
            "slow": {"model": "sleepy", "timeout_ms": 50},
        },
        limits={"max_rows": 5, "max_body_bytes": 2048},
    )
    with serving(config, admin_token=TOKEN) as (client, sink):
        yield client, sink, frame


def predict(client, payload, deployment="fraud", **kwargs):
    return client.post(f"/v1/deployments/{deployment}/predict", json=payload, **kwargs)


def records_of(sink, request_id):
    return [p for p in sink.predictions if p.request_id.split(":")[0] == request_id]


def test_one_row_gets_a_prediction_with_variant_version_and_request_id(app):
    client, sink, _ = app
    r = predict(client, {"row": ROW, "unit_id": "user-1"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {
        "request_id",
        "deployment",
        "variant",
        "model_version",
        "predictions",
        "scores",
    }
    assert (body["deployment"], body["variant"], body["model_version"]) == (
        "fraud",
        "champion",
        "1",
    )
    assert body["predictions"] == [1] and 0.5 < body["scores"][0] <= 1
    (record,) = records_of(sink, body["request_id"])
    assert record.request_id == body["request_id"]
    assert (record.variant, record.mode, record.model_version) == ("champion", "champion", "1")
    assert record.unit_hash == hash_unit("user-1", SALT)  # never the unit id in clear
    assert record.features == {"amount": 1.5, "age": 40, "country": "us"}
    assert record.output == 1 and record.score == body["scores"][0] and record.error is None
    assert record.latency_ms > 0


def test_a_batch_is_scored_like_the_model_and_each_row_gets_an_id(app):
    client, sink, frame = app
    sample = frame.sample(5, random_state=3)
    rows = json.loads(sample.to_json(orient="records"))
    r = predict(client, {"rows": rows}, headers={"X-Request-Id": "batch-42"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["request_id"] == "batch-42"
    from accuguard.gateway.models import load_version

    expected = load_version("fraud", "1").model.predict(sample)
    assert body["predictions"] == np.asarray(expected).tolist()
    ids = sorted(p.request_id for p in records_of(sink, "batch-42"))
    assert ids == [f"batch-42:{i}" for i in range(5)]


def test_unit_id_from_the_header_and_request_id_as_the_default_unit(app):
    client, sink, _ = app
    r = predict(client, {"row": ROW}, headers={"X-Unit-Id": "user-9"})
    assert records_of(sink, r.json()["request_id"])[0].unit_hash == hash_unit("user-9", SALT)
    r = predict(client, {"row": ROW})
    rid = r.json()["request_id"]
    assert records_of(sink, rid)[0].unit_hash == hash_unit(rid, SALT)


BAD = [
    (
        {"row": {"amount": 1.0, "age": 3}},
        422,
        "missing_column",
        "row.country",
        "row.country is missing",
    ),
    ({"row": {**ROW, "age": "old"}}, 422, "invalid_type", "row.age", r"row.age must be an integer"),
    (
        {"rows": [ROW, {**ROW, "amount": None}]},
        422,
        "missing_value",
        "rows[1].amount",
        "does not accept missing values",
    ),
    ({"rows": [ROW] * 6}, 413, "too_many_rows", "rows", "6 rows in one request; at most 5"),
    ({"rows": []}, 422, "empty_rows", "rows", "'rows' is empty"),
    ({"row": ROW, "extra": 1}, 422, "unknown_field", "extra", "unknown field 'extra'"),
    ([ROW], 422, "invalid_body", None, "expected a JSON object"),
]


@pytest.mark.parametrize(("payload", "status", "code", "field", "message"), BAD)
def test_bad_input_is_a_4xx_naming_the_field_and_nothing_is_written(
    app, payload, status, code, field, message
):
    client, sink, _ = app
    before = len(sink.predictions)
    r = predict(client, payload)
    assert r.status_code == status
    error = r.json()["error"]
    assert (error["code"], error["field"]) == (code, field)
    assert message in error["message"]
    assert len(sink.predictions) == before


def test_nan_and_infinity_literals(app):
    client, _, _ = app
    nan = b'{"row": {"amount": NaN, "age": 3, "country": "fr"}}'
    r = client.post("/v1/deployments/fraud/predict", content=nan)
    assert r.status_code == 422 and r.json()["error"]["field"] == "row.amount"
    assert "is NaN; this model does not accept missing values" in r.json()["error"]["message"]
    inf = b'{"row": {"amount": Infinity, "age": 3, "country": "fr"}}'
    r = client.post("/v1/deployments/fraud/predict", content=inf)
    assert r.status_code == 422 and r.json()["error"]["code"] == "not_finite"
    ok = b'{"row": {"f0": 1.0, "f1": NaN, "f2": null, "f3": 0}}'  # the risk model takes NaN
    r = client.post("/v1/deployments/risk/predict", content=ok)
    assert r.status_code == 200, r.text


def test_invalid_json_is_400(app):
    client, _, _ = app
    r = client.post("/v1/deployments/fraud/predict", content=b"{not json")
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_json"
    assert "not valid JSON" in r.json()["error"]["message"]


def test_too_large_body_is_413_by_content_length_and_while_reading(app):
    client, _, _ = app
    big = json.dumps({"rows": [ROW] * 200}).encode()
    r = client.post("/v1/deployments/fraud/predict", content=big)
    assert r.status_code == 413
    assert r.json()["error"]["field"] == "body"
    assert f"has {len(big)} bytes; at most 2048" in r.json()["error"]["message"]

    def chunks():  # no Content-Length: the limit is enforced while reading
        for i in range(0, len(big), 512):
            yield big[i : i + 512]

    r = client.post("/v1/deployments/fraud/predict", content=chunks())
    assert r.status_code == 413
    assert "more than 2048 bytes" in r.json()["error"]["message"]


def test_unknown_deployment_is_404(app):
    client, _, _ = app
    r = predict(client, {"row": ROW}, deployment="nope")
    assert r.status_code == 404
    assert r.json()["error"]["message"] == "no deployment 'nope'; known: broken, fraud, risk, slow"


def test_champion_failures_are_a_json_5xx(app):
    client, _, _ = app
    r = predict(client, {"row": ROW}, deployment="broken")
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "model_error"
    assert "RuntimeError: this shadow model is broken" in r.json()["error"]["message"]
    r = predict(client, {"row": ROW}, deployment="slow")
    assert r.status_code == 504
    assert r.json()["error"]["message"] == "the model did not answer within 50 ms"


def test_feedback_and_events_are_accepted_and_queued(app):
    client, sink, _ = app
    r = client.post("/v1/feedback", json={"items": [{"request_id": "r-1", "label": 1}]})
    assert (r.status_code, r.json()) == (202, {"accepted": 1})
    assert (sink.feedback[-1].request_id, sink.feedback[-1].label) == ("r-1", 1)
    events = [
        {"unit_id": "user-1", "name": "conversion", "value": 1, "deployment": "fraud"},
        {"unit_id": "user-2", "name": "revenue", "value": 12.5, "event_id": "e-7"},
    ]
    r = client.post("/v1/events", json={"events": events})
    assert (r.status_code, r.json()) == (202, {"accepted": 2})
    first, second = sink.events[-2:]
    assert first.unit_hash == hash_unit("user-1", SALT) and first.deployment == "fraud"
    assert len(first.event_id) == 32  # generated
    assert (second.event_id, second.value, second.deployment) == ("e-7", 12.5, None)
    r = client.post("/v1/events", json={"events": [{"unit_id": "u", "name": "x"}]})
    assert r.status_code == 422 and r.json()["error"]["field"] == "events[0].value"


def test_health_readiness_and_metrics(app):
    client, _, _ = app
    assert client.get("/healthz").json() == {"status": "alive"}
    ready = client.get("/readyz").json()
    assert ready["ready"] is True
    assert ready["deployments"]["fraud"]["champion"] == {
        "mode": "champion",
        "model": "fraud",
        "version": "1",
    }
    predict(client, {"row": ROW})
    text = client.get("/metrics").text
    assert (
        'accuguard_requests_total{deployment="fraud",model_version="1",variant="champion"}' in text
    )
    assert "accuguard_request_latency_seconds_bucket{" in text
    assert 'accuguard_batch_size_count{model="fraud",model_version="1"}' in text
    assert "accuguard_event_queue_depth 3.0" in text  # from sink.stats()
    assert "accuguard_event_spool_bytes 128.0" in text
    assert 'accuguard_request_errors_total{code="unknown_deployment",deployment="nope"}' in text
    assert 'accuguard_model_info{deployment="risk",mode="champion",model="risk"' in text


def test_admin_reload_needs_the_bearer_token(app):
    client, _, _ = app
    r = client.post("/v1/admin/reload")
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    r = client.post("/v1/admin/reload", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 403 and r.json()["error"]["message"] == "the token is not valid"
    r = client.post("/v1/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200, r.text
    assert r.json()["changes"] == [] and r.json()["errors"] == {}
    assert r.json()["deployments"]["fraud"]["champion"]["version"] == "1"


def test_admin_api_is_off_without_a_token(registry):
    config = make_config(registry[0], {})
    with serving(config, admin_token="") as (client, _):
        r = client.post("/v1/admin/reload", headers={"Authorization": "Bearer x"})
        assert r.status_code == 403
        assert "set ACCUGUARD_ADMIN_TOKEN to enable it" in r.json()["error"]["message"]


def test_not_ready_until_models_load_and_the_sink_is_ready(registry):
    from accuguard.gateway import create_app

    config = make_config(registry[0], {"ghost": {"model": "no-such-model"}})
    app = create_app(config, sink=MemorySink(ready=False), privacy_salt=SALT)
    with client_for(app) as client:
        r = client.get("/readyz")
        assert r.status_code == 503
        reasons = r.json()["reasons"]
        assert reasons[0].startswith("deployment ghost: ")
        assert reasons[-1].startswith("event log not ready")
        r = predict(client, {"row": ROW}, deployment="ghost")
        assert r.status_code == 503 and r.json()["error"]["code"] == "not_ready"
        assert r.headers["Retry-After"] == "1"
