"""Trigger a retraining DAG run through Airflow's stable REST API.

Airflow 3 (REST API v2)::

    POST {base_url}/api/v2/dags/{dag_id}/dagRuns
    Authorization: Bearer <token>
    {"logical_date": null, "dag_run_id": "...", "conf": {...}, "note": "..."}

``logical_date`` is required by the v2 body model (``TriggerDAGRunPostBody``) and
``null`` means "now, no data interval". The body model forbids unknown fields, so only
those four are sent. The API answers 200 with the DAG run, 404 for an unknown DAG, 400
for a bad body and 409 when the ``dag_run_id`` already exists. The hook derives the run
id from the alert's delivery id, so a retry after a lost answer cannot start a second
run: a 409 on a retry means the first attempt did start it, and counts as success.

The token is read from ``token_env`` (an Airflow 3 JWT from ``POST /auth/token``, or
whatever bearer token your auth manager issues) on each call and never logged.
``conf`` must be a JSON object of plain JSON values, at most ``max_conf_bytes``.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from accuguard.errors import ConfigError
from accuguard.monitor.config import DAG_ID_PATTERN
from accuguard.monitor.hooks import HookError, HookResult, check_payload, post_with_retries

__all__ = ["AirflowHook", "dag_run_id_for"]

_RUN_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_.:+-]")
MAX_NOTE_CHARS = 1000  # Airflow's DAGRunPatchBody.note max_length


def dag_run_id_for(event: str, delivery: str) -> str:
    """A DAG run id that is safe in a URL path and unique per delivery.

    >>> dag_run_id_for("input drift", "1234")
    'accuguard__input_drift__1234'
    """
    return _RUN_ID_UNSAFE.sub("_", f"accuguard__{event}__{delivery}")[:250]


class AirflowHook:
    """Start ``dag_id`` with the alert as ``conf`` through Airflow's REST API v2."""

    name = "airflow"

    def __init__(
        self,
        base_url: str,
        dag_id: str,
        *,
        token_env: str | None = "AIRFLOW_TOKEN",  # noqa: S107 - a variable name
        timeout_s: float = 10.0,
        retries: int = 3,
        backoff_s: float = 1.0,
        max_conf_bytes: int = 65_536,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"airflow.base_url: expected an http:// or https:// URL; got "
                f"{parts.scheme}://{parts.hostname or ''}"
            )
        if not DAG_ID_PATTERN.match(dag_id):
            raise ConfigError(
                f"airflow.dag_id: {dag_id!r} is not a valid DAG id (letters, "
                "digits, '_', '.', '-'; at most 250)"
            )
        if token_env is not None and not os.environ.get(token_env):
            raise ConfigError(
                f"airflow.token_env: environment variable {token_env} is not "
                "set (or empty); it must hold the API bearer token"
            )
        self.base_url = base_url.rstrip("/")
        self.dag_id = dag_id
        self.token_env = token_env
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_conf_bytes = max_conf_bytes
        self._client = client or httpx.Client(timeout=timeout_s, follow_redirects=False)
        self._own_client = client is None
        self._sleep = sleep

    @property
    def endpoint(self) -> str:
        """``{base_url}/api/v2/dags/{dag_id}/dagRuns``."""
        return f"{self.base_url}/api/v2/dags/{quote(self.dag_id, safe='')}/dagRuns"

    def _headers(self) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": "accuguard-monitor",
        }
        if self.token_env is not None:
            token = os.environ.get(self.token_env, "")
            if not token:
                raise HookError(f"environment variable {self.token_env} (Airflow token) is not set")
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def trigger(
        self, conf: Mapping[str, Any], *, dag_run_id: str | None = None, note: str | None = None
    ) -> HookResult:
        """Start one DAG run with ``conf``; :class:`HookError` if ``conf`` is invalid.

        Delivery failures (network, 5xx after the retries, 4xx) are returned in the
        result, never raised.
        """
        check_payload(conf, what="conf", max_bytes=self.max_conf_bytes)
        run_id = dag_run_id or dag_run_id_for("run", str(uuid.uuid4()))
        body_obj: dict[str, Any] = {"logical_date": None, "dag_run_id": run_id, "conf": dict(conf)}
        if note:
            body_obj["note"] = note[:MAX_NOTE_CHARS]
        body = check_payload(body_obj, what="request body", max_bytes=self.max_conf_bytes + 2048)
        attempts = {"n": 0}

        def accept(response: httpx.Response) -> bool:
            attempts["n"] += 1
            # 409 after an earlier attempt: that attempt created the run, the answer was lost
            return response.is_success or (response.status_code == 409 and attempts["n"] > 1)

        result, response = post_with_retries(
            self._client,
            self.endpoint,
            body,
            self._headers,
            hook=self.name,
            retries=self.retries,
            backoff_s=self.backoff_s,
            sleep=self._sleep,
            accept=accept,
        )
        detail: dict[str, Any] = {**result.detail, "dag_id": self.dag_id, "dag_run_id": run_id}
        if response is not None and result.ok and response.status_code != 409:
            try:
                answer = response.json()
            except ValueError:
                answer = {}
            if isinstance(answer, dict):
                detail["state"] = answer.get("state")
                detail["dag_run_id"] = answer.get("dag_run_id", run_id)
        elif response is not None and not result.ok:
            detail["response"] = response.text[:500]
        return HookResult(
            result.hook, result.ok, result.status_code, result.attempts, result.error, detail
        )

    def send(
        self, event: str, payload: Mapping[str, Any], *, delivery: str | None = None
    ) -> HookResult:
        """Trigger the DAG with ``{"event": ..., "alert": payload}`` as ``conf``."""
        delivery = delivery or str(uuid.uuid4())
        conf = {"event": event, "delivery": delivery, "alert": dict(payload)}
        return self.trigger(
            conf, dag_run_id=dag_run_id_for(event, delivery), note=f"accuguard: {event}"
        )

    def close(self) -> None:
        """Close the HTTP client if this hook created it."""
        if self._own_client:
            self._client.close()
