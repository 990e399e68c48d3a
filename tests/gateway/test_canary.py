"""Canary and A/B challengers over the app: who answers, stickiness, fallback on failure."""

from __future__ import annotations

import math

import pytest

from accuguard.assign import bucket
from tests.gateway.conftest import ROW, make_config, serving
from tests.gateway.test_shadow import metric


@pytest.fixture(scope="module")
def app(registry):
    uri, _ = registry
    config = make_config(
        uri,
        {
            "canary": {
                "model": "fraud",
                "challengers": [
                    {"name": "v2", "alias": "challenger", "mode": "canary", "weight": 0.3}
                ],
            },
            "ab": {
                "model": "fraud",
                "challengers": [
                    {
                        "name": "b",
                        "version": 2,
                        "mode": "ab",
                        "salt": "exp-fraud-1",
                        "split": {"champion": 50, "b": 50},
                    }
                ],
            },
            "failing": {
                "model": "fraud",
                "challengers": [
                    {"name": "bad", "model": "sleepy", "version": 2, "mode": "canary", "weight": 1}
                ],
            },
            "stalling": {
                "model": "fraud",
                "challengers": [
                    {
                        "name": "slow",
                        "model": "sleepy",
                        "version": 3,
                        "mode": "canary",
                        "weight": 1,
                        "timeout_ms": 50,
                    }
                ],
            },
            "missing": {
                "model": "fraud",
                "challengers": [{"name": "ghost", "alias": "nope", "mode": "canary", "weight": 1}],
            },
        },
    )
    with serving(config) as (client, sink):
        yield client, sink


def ask(client, deployment, unit):
    r = client.post(f"/v1/deployments/{deployment}/predict", json={"row": ROW, "unit_id": unit})
    assert r.status_code == 200, r.text
    return r.json()


def test_canary_serves_its_share_of_units_with_its_version(app):
    client, sink = app
    n = 200
    answers = {f"u{i}": ask(client, "canary", f"u{i}") for i in range(n)}
    in_canary = {u for u, a in answers.items() if a["variant"] == "v2"}
    assert {answers[u]["model_version"] for u in in_canary} == {"2"}
    assert {a["model_version"] for u, a in answers.items() if u not in in_canary} == {"1"}
    expected = {u for u in answers if bucket("canary/v2", u) < 3000}
    assert in_canary == expected
    assert abs(len(in_canary) - 0.3 * n) <= 4 * math.sqrt(n * 0.3 * 0.7)
    again = {u: ask(client, "canary", u)["variant"] for u in list(answers)[:40]}
    assert again == {u: answers[u]["variant"] for u in again}  # sticky
    ids = {a["request_id"]: a for a in answers.values()}
    for record in sink.predictions:
        if record.request_id in ids and record.variant == "v2":
            assert (record.mode, record.model_version) == ("canary", "2")


def test_ab_arms_follow_the_experiment_salt(app):
    client, sink = app
    answers = {f"user-{i}": ask(client, "ab", f"user-{i}") for i in range(100)}
    for unit, answer in answers.items():
        arm = "champion" if bucket("exp-fraud-1", unit) < 5000 else "b"
        assert answer["variant"] == arm
    modes = {p.mode for p in sink.predictions if p.deployment == "ab" and p.variant == "b"}
    assert modes == {"ab"}


def test_a_failing_canary_falls_back_to_the_champion_and_is_counted(app):
    client, sink = app
    answers = [ask(client, "failing", f"x{i}") for i in range(5)]
    assert {(a["variant"], a["model_version"]) for a in answers} == {("champion", "1")}
    assert metric(client, "accuguard_fallbacks_total", deployment="failing", reason="error") == 5
    ids = {a["request_id"] for a in answers}
    records = [p for p in sink.predictions if p.request_id in ids]
    assert len(records) == 5
    for record in records:
        assert (record.variant, record.mode, record.model_version) == ("bad", "canary", "1")
        assert record.error.startswith("canary bad (version 2) failed: RuntimeError")
        assert record.output == 1  # the champion's answer


def test_a_canary_that_times_out_falls_back_too(app):
    client, _ = app
    answer = ask(client, "stalling", "y1")
    assert answer["variant"] == "champion"
    assert metric(client, "accuguard_fallbacks_total", deployment="stalling", reason="timeout") == 1


def test_a_challenger_that_cannot_load_leaves_the_champion_serving(app):
    client, sink = app
    ready = client.get("/readyz").json()
    assert ready["ready"] is True
    assert "cannot resolve models:/fraud@nope" in ready["reload_errors"]["missing/ghost"]
    answer = ask(client, "missing", "z1")
    assert (answer["variant"], answer["model_version"]) == ("champion", "1")
    assert (
        metric(client, "accuguard_fallbacks_total", deployment="missing", reason="unavailable") == 1
    )
    (record,) = [p for p in sink.predictions if p.request_id == answer["request_id"]]
    assert (record.variant, record.mode, record.error) == (
        "ghost",
        "canary",
        "canary ghost is not loaded",
    )
