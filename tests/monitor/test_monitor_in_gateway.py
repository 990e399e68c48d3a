"""`accuguard serve` runs the monitor files of its config: a breach rolls the champion back."""

from __future__ import annotations

import time

import numpy as np

from accuguard.audit import AuditLog
from tests.gateway.conftest import (  # noqa: F401 (session fixture)
    SALT,
    _registry_uri,
    client_for,
    make_config,
    wait_ready,
)
from tests.monitor.conftest import log_predictions
from tests.rollout.support_controller import copy_registry, mlflow_client, store


def test_an_accuracy_breach_seen_by_the_gateway_moves_the_champion_back(_registry_uri, tmp_path):  # noqa: F811
    import mlflow

    from accuguard.gateway import create_app

    uri = copy_registry(_registry_uri, tmp_path)
    client = mlflow_client(uri)
    client.set_registered_model_alias("fraud", "previous", "1")
    client.set_registered_model_alias("fraud", "champion", "2")
    engine = store(tmp_path)
    rng = np.random.default_rng(0)
    y = (rng.random(600) < 0.3).astype(int)
    pred = np.where(rng.random(600) < 0.55, y, 1 - y)  # accuracy ~0.55, floor 0.8
    log_predictions(
        engine,
        [{}] * 600,
        t0=time.time() - 60,
        dt=0.05,
        outputs=[int(p) for p in pred],
        labels=[int(v) for v in y],
        version="2",
    )
    monitor = tmp_path / "fraud-monitor.yaml"
    monitor.write_text(
        "deployment: fraud\nwindow_s: 600\nmin_rows: 100\n"
        "drift: {enabled: false}\nprediction_drift: {enabled: false}\n"
        "accuracy: {floor: 0.8, rollback: true}\n"
    )
    config = make_config(
        uri,
        {"fraud": {"model": "fraud"}},
        store_url=f"sqlite:///{tmp_path / 'events.db'}",
        spool_dir=str(tmp_path / "spool"),
        controller={"enabled": False, "traffic_poll_s": 0.2},
        monitoring={"files": [str(monitor)], "interval_s": 0.2},
    )
    app = create_app(config, privacy_salt=SALT, registry_client=client, store_engine=engine)
    try:
        with client_for(app) as http:
            wait_ready(http)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if client.get_model_version_by_alias("fraud", "champion").version == "1":
                    break
                time.sleep(0.1)
            runner = app.state.gateway.rollouts.monitors
            report = runner.last_reports["fraud"]
    finally:
        mlflow.set_tracking_uri(None)
    assert str(client.get_model_version_by_alias("fraud", "champion").version) == "1"
    assert report.result("accuracy").alert
    actions = [(e.actor, e.action) for e in AuditLog(engine).entries()]
    assert ("monitor", "monitor.accuracy") in actions
    assert ("monitor", "rollout.rollback_to_previous") in actions
    assert AuditLog(engine).verify().ok
