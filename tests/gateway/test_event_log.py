"""The app with the real EventWriter on SQLite: every event lands in the event log."""

from __future__ import annotations

import json
import sqlite3

import pytest

from accuguard.gateway import create_app
from accuguard.privacy import hash_unit
from tests.gateway.conftest import ROW, SALT, client_for, make_config, wait_ready

pytest.importorskip("accuguard.store.writer")


def test_predictions_feedback_and_events_are_written_at_shutdown(registry, tmp_path):
    db = tmp_path / "events.db"
    config = make_config(
        registry[0],
        {
            "fraud": {
                "model": "fraud",
                "challengers": [{"name": "v2", "alias": "challenger", "mode": "shadow"}],
            }
        },
        store_url=f"sqlite:///{db}",
        spool_dir=str(tmp_path / "spool"),
    )
    app = create_app(config, privacy_salt=SALT)
    with client_for(app) as client:
        wait_ready(client)
        ids = []
        for i in range(20):
            r = client.post(
                "/v1/deployments/fraud/predict", json={"row": ROW, "unit_id": f"user-{i}"}
            )
            assert r.status_code == 200
            ids.append(r.json()["request_id"])
        r = client.post("/v1/feedback", json={"items": [{"request_id": ids[0], "label": 0}]})
        assert r.status_code == 202
        r = client.post(
            "/v1/events",
            json={"events": [{"unit_id": "user-3", "name": "conversion", "value": 1}]},
        )
        assert r.status_code == 202
        assert 'accuguard_event_log{stat="accepted"}' in client.get("/metrics").text
    # the lifespan closed the writer: everything accepted is in the database now
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT request_id, variant, mode, model_version, unit_hash, features, output "
            "FROM predictions ORDER BY created_at"
        ).fetchall()
        feedback = conn.execute("SELECT request_id, label FROM feedback").fetchall()
        events = conn.execute("SELECT unit_hash, name, value FROM business_events").fetchall()
    champion = [r for r in rows if r[1] == "champion"]
    shadow = [r for r in rows if r[1] == "v2"]
    assert [r[0] for r in champion] == ids
    assert {r[0] for r in shadow} == set(ids)  # one shadow row per request, same request id
    assert {(r[2], r[3]) for r in shadow} == {("shadow", "2")}
    assert champion[3][4] == hash_unit("user-3", SALT)
    assert json.loads(champion[0][5]) == {"amount": 1.5, "age": 40, "country": "us"}
    assert [(rid, json.loads(str(label))) for rid, label in feedback] == [(ids[0], 0)]
    assert events == [(hash_unit("user-3", SALT), "conversion", 1.0)]
