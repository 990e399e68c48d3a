"""accuguard's DAGs end to end in a real Airflow 3 (``airflow dags test``, SQLite metadata DB).

Each test runs one DAG run in the Airflow venv against the local MLflow registry of
conftest.py and checks the outcome in the registry (aliases and version tags) and in
Airflow's own record of the run (its metadata DB: ``dag_run`` and ``task_instance``).
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.airflow.conftest import client_for

pytestmark = pytest.mark.slow


def _conf(root, **extra):
    conf = {
        "model_name": "fraud",
        "dataset_path": str(root / "cur.parquet"),
        "reference_path": str(root / "ref.parquet"),
        "target": "label",
        "gates": ["roc_auc >= 0.8"],
    }
    return json.dumps({**conf, **extra})


def _runs(airflow_home, dag_id: str) -> list[dict]:
    """The DAG's runs, newest first, from Airflow's metadata DB (SQLite)."""
    with sqlite3.connect(airflow_home.home / "airflow.db") as db:
        rows = db.execute(
            "SELECT run_id, state FROM dag_run WHERE dag_id = ? ORDER BY id DESC", (dag_id,)
        ).fetchall()
    return [{"run_id": run_id, "state": state} for run_id, state in rows]


def _task_states(airflow_home, dag_id: str) -> dict[str, str]:
    """{task id: state} of the latest run of ``dag_id``, as Airflow recorded it."""
    latest = _runs(airflow_home, dag_id)[0]["run_id"]
    with sqlite3.connect(airflow_home.home / "airflow.db") as db:
        rows = db.execute(
            "SELECT task_id, state FROM task_instance WHERE dag_id = ? AND run_id = ?",
            (dag_id, latest),
        ).fetchall()
    return dict(rows)


def test_passing_challenger_is_promoted_and_a_failing_dataset_is_rejected(airflow_home, registry):
    root, uri = registry
    client = client_for(uri)

    passed = airflow_home.run(
        "dags", "test", "accuracy_validation_dag", "2026-01-01",
        "-c", _conf(root, alias="challenger"),
    )  # fmt: skip
    assert passed.returncode == 0, passed.stdout[-3000:] + passed.stderr[-3000:]
    states = _task_states(airflow_home, "accuracy_validation_dag")
    assert states["promote"] == "success"
    assert {states[t] for t in ("reject", "start_rollout", "tag_only")} == {"skipped"}
    aliases = client.get_registered_model("fraud").aliases
    assert aliases["champion"] == 2 and aliases["previous"] == 1
    tags = client.get_model_version("fraud", "2").tags
    assert tags["accuguard.validation"] == "passed"
    assert tags["accuguard.airflow.decision"] == "promoted"
    run = client.get_run(tags["accuguard.validation_run"])
    assert run.data.metrics["roc_auc"] >= 0.8  # the evidence is logged with the verdict

    failed = airflow_home.run(
        "dags", "test", "accuracy_validation_dag", "2026-01-02",
        "-c", _conf(root, model_version=1, dataset_path=str(root / "bad.parquet")),
    )  # fmt: skip
    assert failed.returncode == 0, failed.stdout[-3000:] + failed.stderr[-3000:]
    states = _task_states(airflow_home, "accuracy_validation_dag")
    assert states["reject"] == "success"
    assert {states[t] for t in ("promote", "start_rollout", "tag_only")} == {"skipped"}
    tags = client.get_model_version("fraud", "1").tags
    assert tags["accuguard.validation"] == "failed"
    assert tags["accuguard.airflow.decision"] == "rejected"
    assert client.get_registered_model("fraud").aliases["champion"] == 2  # nothing moved


def test_retrain_dag_hands_the_alert_to_the_trainer_and_triggers_validation(airflow_home, registry):
    root, _ = registry
    # the conf the monitor's airflow: hook sends (accuguard.monitor.airflow.AirflowHook.send)
    conf = {
        "event": "input_drift_alert",
        "delivery": "0b6f6c1e-delivery",
        "alert": {
            "deployment": "fraud",
            "monitor": "input_drift",
            "reason": "2 of 3 columns drifted",
            "value": 0.67,
            "threshold": 0.3,
            "window": {"start": 1700000000, "end": 1700003600},
            "checked_at": 1700003600.5,
            "detail": {"drifted": ["a", "b"]},
        },
    }
    done = airflow_home.run(
        "dags", "test", "accuguard_retrain_dag", "2026-01-03", "-c", json.dumps(conf)
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    states = _task_states(airflow_home, "accuguard_retrain_dag")
    assert states == {
        "read_alert": "success",
        "retrain": "success",
        "validate_new_version": "success",
    }
    assert json.loads((root / "alert.json").read_text()) == conf  # as the hook sent it
    # no scheduler runs here, so the validation run the retrain DAG started stays queued
    runs = _runs(airflow_home, "accuracy_validation_dag")
    assert [r["state"] for r in runs].count("queued") == 1, runs
