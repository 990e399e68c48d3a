"""Shadows never change the champion's answer: slow, raising and hanging shadow models."""

from __future__ import annotations

import json
import re
import time

import numpy as np
import pytest

from tests.gateway.conftest import ROW, make_config, percentile, serving

FRAUD = {"model": "fraud"}


def with_shadow(**shadow):
    return {"model": "fraud", "challengers": [{"mode": "shadow", **shadow}]}


@pytest.fixture(scope="module")
def app(registry):
    uri, frame = registry
    config = make_config(
        uri,
        {
            "plain": FRAUD,
            "sleepy": with_shadow(name="sleepy", model="sleepy", version=1, timeout_ms=1000),
            "raising": with_shadow(name="broken", model="sleepy", version=2),
            "hanging": with_shadow(name="hangs", model="sleepy", version=3, timeout_ms=50),
            "disagree": with_shadow(name="v2", alias="challenger"),
        },
        shadow_max_in_flight=4,
    )
    with serving(config) as (client, sink):
        yield client, sink, frame


def predict(client, deployment, payload):
    t0 = time.perf_counter()
    r = client.post(f"/v1/deployments/{deployment}/predict", json=payload)
    return r, time.perf_counter() - t0


def metric(client, name, **labels):
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    total = 0.0
    for line in client.get("/metrics").text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def test_a_sleeping_shadow_changes_neither_the_answer_nor_its_latency(app, capsys):
    client, sink, frame = app
    rows = json.loads(frame.head(150).to_json(orient="records"))
    plain, shadowed = [], []
    for row in rows:  # interleaved, so both see the same machine load
        a, t_a = predict(client, "plain", {"row": row})
        b, t_b = predict(client, "sleepy", {"row": row})
        assert a.status_code == b.status_code == 200
        assert (a.json()["predictions"], a.json()["scores"]) == (
            b.json()["predictions"],
            b.json()["scores"],
        )
        plain.append(t_a * 1000)
        shadowed.append(t_b * 1000)
    p50 = (percentile(plain, 50), percentile(shadowed, 50))
    p99 = (percentile(plain, 99), percentile(shadowed, 99))
    with capsys.disabled():
        print(
            f"\n[shadow overhead] champion alone p50 {p50[0]:.2f} ms p99 {p99[0]:.2f} ms; "
            f"with a 200 ms sleeping shadow p50 {p50[1]:.2f} ms p99 {p99[1]:.2f} ms "
            f"(+{p50[1] - p50[0]:.2f} / +{p99[1] - p99[0]:.2f} ms, n={len(rows)} each, in-process)"
        )
    # the shadow is bounded: beyond 4 unfinished calls, mirrors are dropped, not queued
    dropped = metric(client, "accuguard_shadow_dropped_total", deployment="sleepy")
    assert dropped > 0
    wait_for(lambda: len(sink.by_variant("sleepy")) == len(rows) - dropped)
    # every mirrored row is either scored or (a machine under load) timed out: none lost
    scored = metric(client, "accuguard_shadow_rows_total", deployment="sleepy")
    failed = metric(client, "accuguard_shadow_errors_total", deployment="sleepy", reason="timeout")
    assert scored + failed == len(rows) - dropped
    assert scored > 0


def test_shadow_records_share_the_request_id_and_come_after_the_champion(app):
    client, sink, _ = app
    time.sleep(0.5)  # let earlier shadow calls finish so this one is not dropped
    r, _ = predict(client, "sleepy", {"row": ROW, "unit_id": "u-7"})
    rid = r.json()["request_id"]
    wait_for(lambda: any(p.request_id == rid for p in sink.by_variant("sleepy")))
    champion = next(p for p in sink.by_variant("champion") if p.request_id == rid)
    shadow = next(p for p in sink.by_variant("sleepy") if p.request_id == rid)
    assert (shadow.mode, shadow.model_version, shadow.output) == ("shadow", "1", 1)
    assert shadow.unit_hash == champion.unit_hash and shadow.features == champion.features
    assert shadow.created_at >= champion.created_at
    assert shadow.latency_ms >= 200  # it really slept; the caller did not wait for it


def test_a_raising_shadow_is_counted_and_logged_never_returned(app):
    client, sink, _ = app
    answers = [predict(client, "raising", {"row": ROW})[0] for _ in range(10)]
    assert {a.status_code for a in answers} == {200}
    assert {a.json()["variant"] for a in answers} == {"champion"}
    wait_for(lambda: metric(client, "accuguard_shadow_errors_total", deployment="raising") == 10)
    errors = {p.error for p in sink.by_variant("broken")}
    assert errors == {"RuntimeError: this shadow model is broken"}
    assert all(p.output is None for p in sink.by_variant("broken"))
    ids = {a.json()["request_id"] for a in answers}
    assert all(p.error is None for p in sink.by_variant("champion") if p.request_id in ids)


def test_a_hanging_shadow_times_out_and_its_calls_stay_bounded(app, capsys):
    client, sink, _ = app
    took = []
    for _ in range(10):
        r, t = predict(client, "hanging", {"row": ROW})
        assert r.status_code == 200 and r.json()["predictions"] == [1]
        took.append(t * 1000)
    with capsys.disabled():
        print(f"\n[hanging shadow] champion max latency {max(took):.2f} ms over 10 requests")

    def settled():
        timeouts = metric(
            client, "accuguard_shadow_errors_total", deployment="hanging", reason="timeout"
        )
        dropped = metric(client, "accuguard_shadow_dropped_total", deployment="hanging")
        return timeouts + dropped == 10

    wait_for(settled)
    assert metric(client, "accuguard_shadow_dropped_total", deployment="hanging") >= 1
    assert {p.error for p in sink.by_variant("hangs")} == {"timeout after 50 ms"}


def test_disagreement_rate_is_the_share_of_rows_where_labels_differ(app):
    client, sink, frame = app
    from accuguard.gateway.models import load_version

    sample = frame.sample(200, random_state=5)
    rows = json.loads(sample.to_json(orient="records"))
    r, _ = predict(client, "disagree", {"rows": rows})
    assert r.status_code == 200
    v1 = np.asarray(load_version("fraud", "1").model.predict(sample))
    v2 = np.asarray(load_version("fraud", "2").model.predict(sample))
    expected = float(np.mean(v1 != v2))
    assert 0 < expected < 1
    wait_for(lambda: metric(client, "accuguard_shadow_rows_total", deployment="disagree") == 200)
    ratio = metric(client, "accuguard_shadow_disagreement_ratio", deployment="disagree")
    assert ratio == pytest.approx(expected, abs=1e-12)
    shadow = sorted(sink.by_variant("v2"), key=lambda p: int(p.request_id.split(":")[1]))
    assert [p.output for p in shadow] == v2.tolist()
