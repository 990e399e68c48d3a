"""What the tasks of ``accuracy_validation_dag`` do, without Airflow.

The DAG file only wires these functions into tasks, so they run (and are tested) in
any Python with accuguard and MLflow. Each takes the validated conf
(:class:`~accuguard.integrations.airflow.conf.ValidationRunConf`) or the previous
task's result, a JSON-safe dict that Airflow keeps as an XCom.

Tags written on the validated MLflow model version:

- ``accuguard.validation`` = ``passed`` | ``failed`` and ``accuguard.validation_run``
  (the MLflow run holding the reports), as ``accuguard validate --mlflow`` writes;
- ``accuguard.airflow.dag_run`` = the Airflow run id that validated it;
- ``accuguard.airflow.decision`` = ``promoted`` | ``rollout_started`` |
  ``rollout_dry_run`` | ``tagged`` | ``rejected``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from accuguard.errors import ConfigError, InputError
from accuguard.integrations.airflow.conf import ValidationRunConf

__all__ = [
    "BRANCHES",
    "choose_branch",
    "promote",
    "reject",
    "resolve_version",
    "run_validation",
    "start_rollout",
    "tag_only",
]

DECISION_TAG = "accuguard.airflow.decision"
RUN_TAG = "accuguard.airflow.dag_run"
#: the task ids the verdict branches to, per ``action`` (and ``reject`` on a failure)
BRANCHES = {"promote": "promote", "rollout": "start_rollout", "tag": "tag_only"}


def _client(client: Any | None) -> Any:
    if client is not None:
        return client
    from mlflow import MlflowClient

    return MlflowClient()


def resolve_version(conf: ValidationRunConf, client: Any | None = None) -> str:
    """The model version the conf names: ``model_version``, or where ``alias`` points now.

    The version is pinned here, so an alias that moves during the run cannot change
    which version is validated, tagged or promoted.
    """
    if conf.model_version is not None:
        version = conf.model_version
        try:
            _client(client).get_model_version(conf.model_name, version)
        except Exception as exc:
            raise InputError(
                f"conf.model_version: {conf.model_name} version {version} not found ({exc})"
            ) from None
        return version
    try:
        found = _client(client).get_model_version_by_alias(conf.model_name, str(conf.alias))
    except Exception as exc:
        raise InputError(
            f"conf.alias: {conf.model_name}@{conf.alias} not found in the registry ({exc})"
        ) from None
    return str(found.version)


def _config(conf: ValidationRunConf) -> Any:
    from accuguard.validate.config import GateConfig, load_config

    cfg = load_config(conf.config_path)
    extra = [
        GateConfig(check=g) if isinstance(g, str) else GateConfig(name=g.name, check=g.check)
        for g in conf.gates
    ]
    cfg = cfg.model_copy(update={"gates": [*cfg.gates, *extra]})
    if not cfg.gates:
        raise ConfigError(f"conf.config_path: {conf.config_path} has no gates")
    return cfg


def run_validation(
    conf: ValidationRunConf, version: str, report_dir: str | Path, dag_run_id: str = ""
) -> dict[str, Any]:
    """Score both files with the pinned version, apply the gates, log and tag the verdict.

    Writes ``report.json`` and ``report.html`` in ``report_dir``, logs them as an MLflow
    run (``accuguard.registry.tracking.log_validation``, which tags the version
    ``accuguard.validation``) and returns the verdict with the gates' outcomes.
    """
    from accuguard.registry.tracking import log_validation
    from accuguard.report.html import write_validation_html
    from accuguard.validate.pipeline import validate  # what accuguard.validate(...) calls

    model_uri = f"models:/{conf.model_name}/{version}"
    report = validate(
        conf.reference_path,
        conf.dataset_path,
        target=conf.target,
        model=model_uri,
        config=_config(conf),
    )
    out = Path(report_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path, html_path = out / "report.json", out / "report.html"
    report.write_json(json_path)
    write_validation_html(report, html_path)
    run_id = log_validation(report, json_path, html_path, model_uri)
    if dag_run_id:
        _client(None).set_model_version_tag(conf.model_name, version, RUN_TAG, dag_run_id)
    return {
        "passed": bool(report.passed),
        "model_name": conf.model_name,
        "model_version": version,
        "model_uri": model_uri,
        "mlflow_run_id": run_id,
        "report": str(json_path),
        "gates": [
            {"name": g.name, "passed": g.passed, "value": g.left, "message": g.message}
            for g in report.gates
        ],
    }


def choose_branch(result: dict[str, Any], action: str) -> str:
    """The task id to run next: the ``action``'s task on a pass, ``reject`` on a failure."""
    return BRANCHES[action] if result.get("passed") else "reject"


def _decide(result: dict[str, Any], decision: str, client: Any | None) -> None:
    _client(client).set_model_version_tag(
        result["model_name"], result["model_version"], DECISION_TAG, decision
    )


def promote(result: dict[str, Any], alias: str, client: Any | None = None) -> dict[str, Any]:
    """Move ``alias`` to the validated version; its old target becomes ``previous``.

    This is the registry half of a promotion (the rollout controller does the same on
    its last step), for models that are not served through a rollout.
    """
    mlflow = _client(client)
    name, version = result["model_name"], result["model_version"]
    try:
        old: str | None = str(mlflow.get_model_version_by_alias(name, alias).version)
    except Exception:  # the alias does not exist yet
        old = None
    if old is not None and old != version:
        mlflow.set_registered_model_alias(name, "previous", old)
    mlflow.set_registered_model_alias(name, alias, version)
    _decide(result, "promoted", mlflow)
    return {"decision": "promoted", "alias": alias, "version": version, "previous": old}


def tag_only(result: dict[str, Any], client: Any | None = None) -> dict[str, Any]:
    """Record the pass without moving anything (``action: tag``)."""
    _decide(result, "tagged", client)
    return {"decision": "tagged", "version": result["model_version"]}


def reject(result: dict[str, Any], client: Any | None = None) -> dict[str, Any]:
    """Record the failure: decision ``rejected`` and the names of the failed gates."""
    _decide(result, "rejected", client)
    failed = [g["name"] for g in result.get("gates", []) if not g.get("passed")]
    return {"decision": "rejected", "version": result["model_version"], "failed_gates": failed}


def rollout_request(
    result: dict[str, Any], deployment: str, plan_path: str, gateway_url: str
) -> tuple[str, dict[str, Any]]:
    """The URL and JSON body of ``POST /v1/rollouts/{deployment}/start`` (docs/rollout.md)."""
    parts = urlsplit(gateway_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"accuguard gateway URL: expected http(s)://host[:port], got {gateway_url!r}"
        )
    url = f"{gateway_url.rstrip('/')}/v1/rollouts/{quote(deployment, safe='')}/start"
    body = {"challenger": result["model_uri"], "plan": Path(plan_path).read_text()}
    return url, body


def start_rollout(
    result: dict[str, Any],
    deployment: str,
    plan_path: str,
    gateway_url: str,
    token: str | None,
    *,
    dry_run: bool = False,
    http: Any | None = None,
    client: Any | None = None,
) -> dict[str, Any]:
    """Open a rollout of the validated version through the gateway's admin API.

    ``POST {gateway_url}/v1/rollouts/{deployment}/start`` with ``Authorization: Bearer
    <token>`` (an ``operator`` token). With ``dry_run`` nothing is sent: the request
    that would be made is returned (without the token) and the decision is
    ``rollout_dry_run``. A refusal (4xx/5xx) raises :class:`InputError` with the
    gateway's answer, so the task fails and Airflow's retries apply.
    """
    url, body = rollout_request(result, deployment, plan_path, gateway_url)
    if dry_run:
        _decide(result, "rollout_dry_run", client)
        return {"decision": "rollout_dry_run", "url": url, "challenger": body["challenger"]}
    if not token:
        raise ConfigError("accuguard admin token: empty; store an operator token (docs/airflow.md)")
    headers = {"Authorization": f"Bearer {token}"}
    if http is None:
        import httpx

        response = httpx.post(url, json=body, headers=headers, timeout=30.0)
    else:  # an httpx.Client (it has its own timeout)
        response = http.post(url, json=body, headers=headers)
    if response.status_code >= 400:
        raise InputError(f"POST {url}: HTTP {response.status_code}: {response.text[:500]}")
    _decide(result, "rollout_started", client)
    answer = response.json()
    return {"decision": "rollout_started", "url": url, "rollout": answer}
