"""accuguard: validate a registered model version, then promote, roll out or reject it.

Trigger with a conf such as::

    {"model_name": "fraud", "alias": "challenger", "target": "label",
     "dataset_path": "/data/holdout.parquet", "reference_path": "/data/train.parquet",
     "gates": ["roc_auc >= 0.85", "drift.share <= 0.3"], "action": "promote"}

Tasks: ``check_conf`` (validate the conf: a bad one fails here, naming the field) ->
``validate`` (pin the version an alias points to, score both files with it, apply the
gates, log the reports to MLflow, tag ``accuguard.validation``) -> ``branch_on_verdict``
-> one of ``promote`` (move ``promote_alias``, default ``champion``), ``start_rollout`` (POST to the
accuguard gateway's admin API, with the URL and operator token of the Airflow
Connection ``accuguard_default``), ``tag_only``, or ``reject`` on a failed gate.

Installed by ``accuguard airflow install-dags DIR``; docs/airflow.md has the details.
The tasks call accuguard's Python API; nothing is run through a shell.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from airflow.sdk import dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

CONNECTION_ID = "accuguard_default"


def _conf() -> Any:
    """The run's validated conf; a bad conf fails the task at once (no retries)."""
    from accuguard.errors import InputError
    from accuguard.integrations.airflow.conf import parse_validation_conf

    dag_run = get_current_context()["dag_run"]
    try:
        return parse_validation_conf(dict(dag_run.conf or {}))
    except InputError as exc:
        raise AirflowFailException(str(exc)) from None


def _run_id() -> str:
    return str(get_current_context()["dag_run"].run_id)


def _gateway() -> tuple[str, str | None]:
    """The accuguard gateway's URL and operator token from the Airflow Connection."""
    from airflow.sdk import Connection

    conn = Connection.get(CONNECTION_ID)
    host = conn.host or ""
    if "://" not in host:
        scheme = conn.schema or "http"
        host = f"{scheme}://{host}"
    url = f"{host}:{conn.port}" if conn.port else host
    return url, conn.password


@dag(
    dag_id="accuracy_validation_dag",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["accuguard"],
    doc_md=__doc__,
    default_args={"retries": 0},
)
def accuracy_validation_dag() -> None:
    """Validate -> branch on the verdict -> promote | start_rollout | tag_only | reject."""

    @task
    def check_conf() -> dict[str, Any]:
        return _conf().model_dump(mode="json", exclude_none=True)

    @task
    def validate(checked: dict[str, Any]) -> dict[str, Any]:
        from accuguard.errors import InputError
        from accuguard.integrations.airflow.tasks import resolve_version, run_validation

        conf = _conf()
        safe = re.sub(r"[^\w.-]", "_", _run_id())
        home = Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow"))
        report_dir = Path(conf.report_dir or home / "accuguard-reports") / safe
        try:
            version = resolve_version(conf)  # pinned: the alias may move meanwhile
            return run_validation(conf, version, report_dir, _run_id())
        except InputError as exc:
            raise AirflowFailException(str(exc)) from None

    @task.branch
    def branch_on_verdict(result: dict[str, Any]) -> str:
        from accuguard.integrations.airflow.tasks import choose_branch

        return choose_branch(result, _conf().action)

    @task
    def promote(result: dict[str, Any]) -> dict[str, Any]:
        from accuguard.integrations.airflow import tasks

        return tasks.promote(result, _conf().promote_alias)

    @task
    def start_rollout(result: dict[str, Any]) -> dict[str, Any]:
        from accuguard.errors import InputError
        from accuguard.integrations.airflow import tasks

        conf = _conf()
        try:
            url, token = _gateway()
        except Exception as exc:  # no such Connection: fine for a dry run only
            if not conf.dry_run:
                raise AirflowFailException(
                    f"Airflow Connection {CONNECTION_ID!r} (accuguard gateway URL and operator "
                    f"token) is not usable: {exc}"
                ) from None
            url, token = "http://accuguard-gateway.invalid", None
        try:
            return tasks.start_rollout(
                result, str(conf.deployment), str(conf.plan_path), url, token, dry_run=conf.dry_run
            )
        except InputError as exc:
            raise AirflowFailException(str(exc)) from None

    @task
    def tag_only(result: dict[str, Any]) -> dict[str, Any]:
        from accuguard.integrations.airflow import tasks

        return tasks.tag_only(result)

    @task
    def reject(result: dict[str, Any]) -> dict[str, Any]:
        from accuguard.integrations.airflow import tasks

        outcome = tasks.reject(result)
        if _conf().fail_on_reject:
            raise AirflowFailException(f"validation failed: gates {outcome['failed_gates']}")
        return outcome

    result = validate(check_conf())
    branch_on_verdict(result) >> [
        promote(result),
        start_rollout(result),
        tag_only(result),
        reject(result),
    ]


accuracy_validation_dag()
