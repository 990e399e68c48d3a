"""Hostile requests to a real gateway over HTTP: oversized, deeply nested, not UTF-8,
not JSON, absurd numbers, and admin routes called without the right token.

Every answer must be a 4xx with a JSON error body naming what is wrong (never a 5xx,
never a traceback), and nothing may be written for a refused request.
"""

from __future__ import annotations

import time
import uuid

import httpx
import pytest
from sqlalchemy import func, select
from starlette.routing import Mount, Route

from accuguard.gateway.openapi import openapi_document
from accuguard.store.models import BusinessEvent, Feedback, Prediction
from tests.hostile.conftest import MAX_BODY

ROW = {"amount": 1.5, "age": 40, "country": "us"}
#: the JSON routes of the gateway and a body each accepts
JSON_POSTS = {
    "/v1/deployments/fraud/predict": {"row": ROW},
    "/v1/feedback": {"items": [{"request_id": "r1", "label": 1}]},
    "/v1/events": {"events": [{"unit_id": "u1", "name": "click", "value": 1}]},
    "/v1/rollouts/fraud/pause": {"reason": "x"},
    "/v1/flagger/event": {"name": "fraud", "metadata": {}},
}
#: routes anyone may call; every other route must refuse a call without a token
PUBLIC = {
    "/v1/deployments/{name}/predict",
    "/v1/feedback",
    "/v1/events",
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
}
DASHBOARD = "/ui"  # read-only pages (docs/dashboard.md); their buttons call the admin API


@pytest.fixture
def client(live):
    with httpx.Client(base_url=live.url, timeout=30) as c:
        yield c


def post(client, path, body: bytes, live=None, **headers):
    headers.setdefault("content-type", "application/json")
    if live is not None:
        headers.setdefault("authorization", f"Bearer {live.tokens['operator']}")
    return client.post(path, content=body, headers=headers)


def assert_json_error(r: httpx.Response, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, r.text[:500]
    assert r.headers["content-type"].startswith("application/json"), r.headers
    assert "Traceback" not in r.text
    error = r.json()["error"]
    assert error["status"] == status and error["message"]
    if code is not None:
        assert error["code"] == code, error
    return error


def counts(engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (Prediction, Feedback, BusinessEvent)
        )


@pytest.mark.parametrize("path", sorted(JSON_POSTS))
def test_a_body_over_the_limit_is_413_by_header_and_while_streaming(live, client, path):
    big = b'{"pad": "' + b"x" * MAX_BODY + b'"}'
    error = assert_json_error(post(client, path, big, live), 413, "body_too_large")
    assert "max_body_bytes" in error["message"] or "at most" in error["message"]

    def chunks():  # no Content-Length: the limit is enforced while reading
        for _ in range(MAX_BODY // 1024 + 2):
            yield b" " * 1024

    r = client.post(
        path,
        content=chunks(),
        headers={
            "content-type": "application/json",
            "authorization": f"Bearer {live.tokens['operator']}",
        },
    )
    assert_json_error(r, 413, "body_too_large")


@pytest.mark.parametrize("path", sorted(JSON_POSTS))
@pytest.mark.parametrize("opening", [b"[", b'{"a":'])
def test_json_nested_10000_deep_is_400_not_a_recursion_error(live, client, path, opening):
    depth = 10_000
    closing = b"]" if opening == b"[" else b"}"
    body = opening * depth + b"1" + closing * depth
    assert len(body) <= MAX_BODY
    assert_json_error(post(client, path, body, live), 400, "too_deep")


@pytest.mark.parametrize("path", sorted(JSON_POSTS))
def test_invalid_utf8_is_400_invalid_json(live, client, path):
    r = post(client, path, b'{"row": {"country": "\xff\xfe"}}', live)
    assert_json_error(r, 400, "invalid_json")


@pytest.mark.parametrize("path", sorted(JSON_POSTS))
@pytest.mark.parametrize(
    "ctype", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; b=x"]
)
def test_a_body_that_is_not_declared_json_is_415(live, client, path, ctype):
    body = httpx.Request("POST", "/", json=JSON_POSTS[path]).content
    error = assert_json_error(
        post(client, path, body, live, **{"content-type": ctype}), 415, "unsupported_media_type"
    )
    assert error["field"] == "Content-Type"


def test_json_with_or_without_a_content_type_is_accepted(client):
    body = httpx.Request("POST", "/", json={"row": ROW}).content
    path = "/v1/deployments/fraud/predict"
    for headers in ({}, {"content-type": "application/json; charset=utf-8"}):
        r = client.post(path, content=body, headers=headers)
        assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "/v1/deployments/fraud/predict",
            b'{"row": {"amount": 1e999, "age": 1, "country": "us"}}',
            "row.amount",
        ),
        (
            "/v1/deployments/fraud/predict",
            b'{"row": {"amount": 1' + b"0" * 400 + b', "age": 1, "country": "us"}}',
            "row.amount",
        ),
        (
            "/v1/deployments/fraud/predict",
            b'{"row": {"amount": NaN, "age": 1, "country": "us"}}',
            "row.amount",
        ),
        (
            "/v1/deployments/fraud/predict",
            b'{"row": {"amount": 1, "age": 1' + b"0" * 30 + b', "country": "us"}}',
            "row.age",
        ),
        (
            "/v1/deployments/fraud/predict",
            b'{"row": {"amount": 1, "age": -Infinity, "country": "us"}}',
            "row.age",
        ),
        (
            "/v1/events",
            b'{"events": [{"unit_id": "u", "name": "n", "value": 1' + b"0" * 400 + b"}]}",
            "events[0].value",
        ),
        (
            "/v1/events",
            b'{"events": [{"unit_id": "u", "name": "n", "value": NaN}]}',
            "events[0].value",
        ),
        ("/v1/feedback", b'{"items": [{"request_id": "r", "label": Infinity}]}', "items[0].label"),
        ("/v1/rollouts/fraud/weights", b'{"weight": 1' + b"0" * 400 + b"}", "weight"),
    ],
)
def test_huge_numbers_nan_and_infinity_are_422_naming_the_field(live, client, path, body, field):
    r = post(client, path, body, live)
    assert r.status_code == 422, r.text[:300]
    assert assert_json_error(r, 422)["field"] == field


def test_an_integer_of_5000_digits_is_400_invalid_json(live, client):
    for path in JSON_POSTS:
        body = b'{"row": {"amount": ' + b"9" * 5000 + b"}}"
        assert_json_error(post(client, path, body, live), 400, "invalid_json")


def test_refused_requests_write_nothing(live, client):
    before = counts(live.engine)
    bad = [
        b"[" * 3000 + b"]" * 3000,
        b'{"rows": ['
        + b",".join([b'{"amount": 1, "age": 1, "country": "us"}'] * 3)
        + b', {"amount": "x", "age": 1, "country": "us"}]}',
        b'{"events": [{"unit_id": "u", "name": "n", "value": 1}, {"unit_id": "u"}]}',
        b'{"items": [{"request_id": "r", "label": 1}, {"request_id": 5, "label": 1}]}',
        b"\xff",
    ]
    for path in ("/v1/deployments/fraud/predict", "/v1/feedback", "/v1/events"):
        for body in bad:
            assert 400 <= post(client, path, body).status_code < 500
    # a good request afterwards is stored: once it is, the refused ones would be too
    rid = uuid.uuid4().hex
    good = httpx.Request("POST", "/", json={"row": ROW}).content
    ok = client.post(
        "/v1/deployments/fraud/predict",
        content=good,
        headers={"content-type": "application/json", "x-request-id": rid},
    )
    assert ok.status_code == 200
    deadline = time.monotonic() + 30
    while counts(live.engine)[0] == before[0] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert counts(live.engine) == (before[0] + 1, before[1], before[2])


# -- admin routes ----------------------------------------------------------------------


def mounted(app) -> list[tuple[str, str]]:
    """(method, path) of every route the app mounts (HEAD left out)."""
    out = []
    for route in app.routes:
        if isinstance(route, Route):
            out += [(m, route.path) for m in sorted(route.methods or ()) if m != "HEAD"]
        elif isinstance(route, Mount):
            out.append(("GET", f"{route.path}/{{path}}"))
    return out


def guarded(app) -> list[tuple[str, str, str]]:
    """(method, path, role) of every mounted route that is neither public nor the
    dashboard; the role comes from the OpenAPI document (a route missing there fails)."""
    paths = openapi_document()["paths"]
    out = []
    for method, path in mounted(app):
        if path in PUBLIC or path == DASHBOARD or path.startswith(DASHBOARD + "/"):
            continue
        op = paths.get(path, {}).get(method.lower())
        assert op is not None, f"{method} {path} is mounted but not in the OpenAPI document"
        out.append((method, path, op.get("x-required-role", "none")))
    return out


def call(client, method, path, token=None):
    url = path.replace("{deployment}", "fraud").replace("{hook}", "rollout")
    headers = {"authorization": f"Bearer {token}"} if token else {}
    body = {
        "name": "fraud",
        "reason": "x",
        "weight": 0.1,
        "challenger": "models:/fraud/2",
        "plan": "steps: [{name: s, mode: shadow}]",
        "metadata": {},
    }
    return client.request(method, url, json=body if method == "POST" else None, headers=headers)


def test_every_route_is_public_or_guarded_by_a_role(live):
    routes = guarded(live.app)
    assert {r for _, _, r in routes} <= {"viewer", "operator", "bootstrap-admin"}, routes
    # the admin API as documented: a new admin route shows up here
    assert len(routes) == 11
    assert ("POST", "/v1/admin/reload", "bootstrap-admin") in routes


@pytest.mark.parametrize("who", ["nobody", "revoked", "garbage", "basic"])
def test_admin_routes_refuse_a_missing_or_revoked_token(live, client, who):
    token = {"nobody": None, "revoked": live.tokens["revoked"], "garbage": "agt_x"}.get(who)
    for method, path, _ in guarded(live.app):
        if who == "basic":
            url = path.replace("{deployment}", "fraud").replace("{hook}", "rollout")
            r = client.request(
                method,
                url,
                headers={"authorization": "Basic dTpw"},
                json={"name": "fraud"} if method == "POST" else None,
            )
        else:
            r = call(client, method, path, token)
        expected = {401} if path != "/v1/admin/reload" or who in ("nobody", "basic") else {403}
        assert r.status_code in expected, (method, path, r.status_code, r.text[:200])
        assert_json_error(r, r.status_code)


def test_admin_routes_refuse_a_token_whose_role_is_too_low(live, client):
    rank = {"viewer": 0, "operator": 1, "admin": 2, "bootstrap-admin": 3}
    for method, path, role in guarded(live.app):
        for holder in ("viewer", "operator", "admin"):
            r = call(client, method, path, live.tokens[holder])
            if role == "bootstrap-admin" or rank[holder] < rank[role]:
                assert_json_error(r, 403)
            else:  # let through: whatever it answers, it is not an auth refusal
                assert r.status_code not in (401, 403), (method, path, holder, r.text[:200])
                assert r.status_code < 500, (method, path, holder, r.text[:300])
    r = client.post(
        "/v1/admin/reload", headers={"authorization": f"Bearer {live.tokens['bootstrap']}"}
    )
    assert r.status_code == 200, r.text


def test_unknown_routes_and_methods_get_json_errors(client):
    r = client.get("/v1/no/such/route")
    assert assert_json_error(r, 404, "not_found")["message"].startswith("no route")
    r = client.post("/v1/deployments/fraud/predict/extra", json={})
    assert_json_error(r, 404, "not_found")
    r = client.get("/v1/deployments/fraud/predict")
    assert_json_error(r, 405, "method_not_allowed")
    assert r.headers["allow"] == "POST"
    assert_json_error(client.delete("/v1/rollouts"), 405, "method_not_allowed")
