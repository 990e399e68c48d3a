"""accuguard: retrain after a monitor alert, then validate the new version.

A template: a monitor's ``airflow:`` hook (docs/monitoring.md) triggers it with the
conf ``{"event": "input_drift_alert", "delivery": "<uuid>", "alert": {"deployment",
"monitor", "reason", "value", "threshold", "window", "checked_at", "detail"}}``.

Tasks: ``read_alert`` (validate the conf) -> ``retrain`` (call ``TRAINER`` with the
alert) -> ``validate_new_version`` (trigger ``accuracy_validation_dag`` with the conf
the trainer returned). ``TRAINER`` names your function as ``"package.module:function"``
(set it here, or with ``accuguard airflow install-dags DIR --trainer pkg.mod:fn``). It
receives the checked conf as a dict (``event``, ``delivery``, ``alert``), trains and
registers a model version, and returns
``accuracy_validation_dag``'s conf for it (``model_name``, ``model_version``,
``dataset_path``, ``reference_path``, ``target``, ``gates``, ...). While ``TRAINER``
is ``None``, ``retrain`` is skipped (and so is the validation): the alert is recorded.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

TRAINER: str | None = None  # accuguard:trainer
VALIDATION_DAG_ID = "accuracy_validation_dag"


@dag(
    dag_id="accuguard_retrain_dag",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["accuguard"],
    doc_md=__doc__,
    render_template_as_native_obj=True,
    default_args={"retries": 0},
)
def accuguard_retrain_dag() -> None:
    """read_alert -> retrain -> validate_new_version."""

    @task
    def read_alert() -> dict[str, Any]:
        from accuguard.errors import InputError
        from accuguard.integrations.airflow.conf import parse_retrain_conf

        conf = get_current_context()["dag_run"].conf
        try:
            return parse_retrain_conf(dict(conf or {})).model_dump(mode="json")
        except InputError as exc:
            raise AirflowFailException(str(exc)) from None

    @task
    def retrain(alert: dict[str, Any]) -> dict[str, Any]:
        from accuguard.errors import InputError
        from accuguard.integrations.airflow.retrain import run_trainer

        if TRAINER is None:
            raise AirflowSkipException(
                "no trainer configured: set TRAINER in this file "
                "(or install with `accuguard airflow install-dags DIR --trainer pkg.mod:fn`)"
            )
        try:
            return run_trainer(TRAINER, alert)
        except InputError as exc:
            raise AirflowFailException(str(exc)) from None

    validate_new_version = TriggerDagRunOperator(
        task_id="validate_new_version",
        trigger_dag_id=VALIDATION_DAG_ID,
        conf="{{ ti.xcom_pull(task_ids='retrain') }}",
        wait_for_completion=False,
    )
    retrain(read_alert()) >> validate_new_version


accuguard_retrain_dag()
