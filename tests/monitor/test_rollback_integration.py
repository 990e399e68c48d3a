"""An accuracy floor breach rolls the champion back through the real controller."""

from __future__ import annotations

import functools
import warnings

import numpy as np

from accuguard.audit import AuditLog
from accuguard.monitor import Monitor, MonitorConfig
from accuguard.rollout import effects
from accuguard.rollout.controller import Controller
from tests.monitor.conftest import log_predictions


def registry(tmp_path):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client.create_registered_model("fraud")
        for _ in range(2):
            client.create_model_version("fraud", source=(tmp_path / "model").as_uri())
    client.set_registered_model_alias("fraud", "previous", "1")
    client.set_registered_model_alias("fraud", "champion", "2")
    return client


def test_accuracy_breach_moves_the_champion_back_to_previous_and_audits_both(engine, tmp_path):
    client = registry(tmp_path)
    audit = AuditLog(engine)
    controller = Controller(engine, client, audit)
    rng = np.random.default_rng(0)
    y = (rng.random(600) < 0.3).astype(int)
    pred = np.where(rng.random(600) < 0.55, y, 1 - y)  # accuracy ~0.55
    log_predictions(
        engine,
        [{}] * 600,
        t0=1000.0,
        outputs=[int(p) for p in pred],
        labels=[int(v) for v in y],
        version="2",
    )
    cfg = MonitorConfig.model_validate(
        {
            "deployment": "fraud",
            "window_s": 600,
            "min_rows": 100,
            "drift": {"enabled": False},
            "prediction_drift": {"enabled": False},
            "accuracy": {"floor": 0.8, "rollback": True},
        }
    )
    rollback = functools.partial(controller.rollback_to_previous, model="fraud")
    report = Monitor(engine, cfg, hooks=[], rollback=rollback, audit=audit).run_once(now=1500.0)

    assert report.result("accuracy").alert
    [action] = report.actions
    assert action["action"] == "rollback" and action["ok"]
    assert action["result"] == {"model": "fraud", "champion": "1", "demoted": "2"}
    assert str(client.get_model_version_by_alias("fraud", "champion").version) == "1"
    assert client.get_model_version("fraud", "2").tags[effects.TAG + "decision"] == "rolled_back"
    actions = [(e.actor, e.action) for e in audit.entries()]
    assert actions == [("monitor", "monitor.accuracy"), ("monitor", "rollout.rollback_to_previous")]
    assert audit.verify().ok
