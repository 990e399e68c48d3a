"""HTTP endpoints for Kubernetes progressive-delivery controllers (docs/kubernetes.md).

- ``GET /v1/analysis/{deployment}``: the gate verdict of the deployment's rollout for
  an Argo Rollouts ``AnalysisTemplate`` (Web metric provider). Query parameters:
  ``version`` (the challenger version expected; another rollout is inconclusive),
  ``step`` (a plan step that must have passed), ``final`` (``true``: the last step),
  ``max_age_s`` (an older gate result is inconclusive; default 300). Answers 200 with
  ``{"deployment", "verdict": "pass"|"fail"|"inconclusive", "reason", "rollout",
  "gate"}``; a template reads it with ``jsonPath: "{$.verdict}"``. Bad parameters:
  422, unknown deployment: 404, no or bad token: 401/403 (Argo counts these as
  measurement errors, never as a success).
- ``POST /v1/flagger/{hook}``: Flagger webhooks. Body ``{"name", "namespace",
  "phase", "checksum"?, "metadata": {...}}``; the accuguard deployment is
  ``metadata.deployment`` or the canary's name; ``metadata.version``,
  ``metadata.step`` and ``metadata.max_age_s`` as above. Flagger proceeds on 200-202
  and halts on anything else, so each hook answers 200 when Flagger may go on and
  412 (with the reason in the body, which Flagger puts in its events) when it must
  not; for ``rollback`` a 200 means "roll back now".

Both need a token with role ``viewer`` or higher: ``Authorization: Bearer <token>``
(Argo sends it from a Secret), or for Flagger, whose webhooks cannot send headers,
``metadata.token``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from accuguard.auth import Principal, authorize
from accuguard.errors import InputError
from accuguard.gateway._http import json_response, read_body
from accuguard.gateway.validation import RequestError, parse_json
from accuguard.integrations.verdict import (
    Verdict,
    check_max_age,
    check_version,
    rollout_verdict,
)
from accuguard.rollout.api import Denied, api_errors
from accuguard.rollout.state import latest_rollout

if TYPE_CHECKING:
    from accuguard.gateway.app import Gateway
    from accuguard.rollout.runtime import RolloutService

MAX_BODY = 65_536
PROCEED, HALT = 200, 412

#: hook -> (when Flagger may go on, what it means); see FLAGGER_HOOKS in docs/kubernetes.md
FLAGGER_HOOKS: dict[str, str] = {
    "confirm-rollout": "a rollout of the deployment exists and has not failed",
    "pre-rollout": "a rollout of the deployment exists and has not failed",
    "rollout": "a rollout of the deployment exists and has not failed",
    "confirm-traffic-increase": "the verdict is pass",
    "confirm-promotion": "the rollout passed its last step (or was promoted)",
    "rollback": "the verdict is fail (200 = roll back)",
    "post-rollout": "always (acknowledged)",
    "event": "always (acknowledged)",
}


class KubernetesRoutes:
    """The handlers, bound to a gateway (its deployments and rollout service)."""

    def __init__(self, gateway: Gateway, clock: Callable[[], float] = time.time) -> None:
        self.gateway = gateway
        self.clock = clock

    @property
    def service(self) -> RolloutService:
        service: RolloutService | None = self.gateway.rollouts
        if service is None:
            raise RequestError(
                503, "rollouts_disabled", "verdicts need the event-log database (store_url)"
            )
        return service

    def _known(self, name: str, field: str) -> str:
        deployments = self.gateway.reloader.config.deployments
        if name not in deployments:
            known = ", ".join(sorted(deployments)) or "none"
            raise RequestError(
                404, "unknown_deployment", f"no deployment {name!r}; known: {known}", field
            )
        return name

    async def _guard(self, request: Request, action: str, deployment: str | None) -> Principal:
        service = self.service
        result = await run_in_threadpool(
            authorize, request, service.tokens, service.audit, "viewer", action, deployment
        )
        if isinstance(result, Response):
            raise Denied(result)
        return result

    async def _verdict(self, deployment: str, **params: Any) -> Verdict:
        record = await run_in_threadpool(latest_rollout, self.service.engine, deployment)
        return rollout_verdict(deployment, record, now=self.clock(), **params)

    async def analysis(self, request: Request) -> Response:
        """``GET /v1/analysis/{deployment}``: the verdict for Argo Rollouts."""
        name = str(request.path_params["deployment"])
        await self._guard(request, "analysis.read", name)
        self._known(name, "deployment")
        q = request.query_params
        final = q.get("final", "").lower()
        if final not in ("", "true", "false", "1", "0"):
            raise InputError(f"final must be true or false, got {q.get('final')!r}")
        verdict = await self._verdict(
            name,
            version=check_version(q.get("version")),
            step=q.get("step") or None,
            final=final in ("true", "1"),
            max_age_s=check_max_age(q.get("max_age_s")),
        )
        return json_response(verdict.to_dict())

    async def flagger(self, request: Request) -> Response:
        """``POST /v1/flagger/{hook}``: a Flagger webhook, answered from the verdict."""
        hook = str(request.path_params["hook"])
        if hook not in FLAGGER_HOOKS:
            raise RequestError(
                404,
                "unknown_hook",
                f"no Flagger hook {hook!r}; known: {', '.join(FLAGGER_HOOKS)}",
                "hook",
            )
        payload = _flagger_payload(await read_body(request, MAX_BODY))
        metadata: dict[str, str] = payload.get("metadata") or {}
        name = metadata.get("deployment") or str(payload["name"])
        await self._guard(_with_token(request, metadata.get("token")), f"flagger.{hook}", name)
        field = "metadata.deployment" if "deployment" in metadata else "name"
        self._known(name, field)
        verdict = await self._verdict(
            name,
            version=check_version(metadata.get("version"), "metadata.version"),
            step=metadata.get("step") or None,
            final=hook == "confirm-promotion" and not metadata.get("step"),
            max_age_s=check_max_age(metadata.get("max_age_s"), "metadata.max_age_s"),
        )
        proceed = flagger_proceeds(hook, verdict)
        body = {
            "hook": hook,
            "canary": f"{payload.get('namespace', '')}/{payload['name']}",
            "phase": payload.get("phase"),
            "proceed": proceed,
            **verdict.to_dict(),
        }
        return json_response(body, PROCEED if proceed else HALT)


def flagger_proceeds(hook: str, verdict: Verdict) -> bool:
    """Whether Flagger may go on after ``hook`` (for ``rollback``: whether to roll back).

    >>> v = Verdict("fraud", "inconclusive", "collecting evidence")
    >>> flagger_proceeds("rollout", v), flagger_proceeds("confirm-promotion", v)
    (False, False)
    """
    status = verdict.status
    if hook in ("post-rollout", "event"):
        return True
    if hook == "rollback":
        return status == "fail"
    if hook in ("confirm-traffic-increase", "confirm-promotion"):
        return status == "pass"
    return verdict.record is not None and verdict.matched and status != "fail"


def _flagger_payload(raw: bytes) -> dict[str, Any]:
    payload = parse_json(raw)
    if not isinstance(payload, dict):
        raise RequestError(400, "invalid_body", "the body must be a JSON object")
    name = payload.get("name")
    if not isinstance(name, str) or not name:
        raise RequestError(422, "missing_field", "give 'name': the canary's name", "name")
    metadata = payload.get("metadata")
    if metadata is not None and not (
        isinstance(metadata, dict) and all(isinstance(v, str) for v in metadata.values())
    ):
        raise RequestError(422, "invalid_body", "'metadata' must map names to strings", "metadata")
    return payload


def _with_token(request: Request, token: str | None) -> Request:
    """``request``, with ``Authorization: Bearer <token>`` when it has no such header."""
    if not token or "authorization" in request.headers:
        return request
    scope = dict(request.scope)
    scope["headers"] = [
        *request.scope["headers"],
        (b"authorization", f"Bearer {token}".encode("latin-1", "replace")),
    ]
    return Request(scope)


def routes(gateway: Gateway) -> list[Route]:
    """The Argo Rollouts analysis and Flagger webhook routes of ``gateway``."""
    r = KubernetesRoutes(gateway)
    return [
        Route("/v1/analysis/{deployment}", api_errors(r.analysis), methods=["GET"]),
        Route("/v1/flagger/{hook}", api_errors(r.flagger), methods=["POST"]),
    ]
