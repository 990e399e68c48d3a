"""The rollout admin API, mounted in the gateway app (docs/rollout.md, "Admin API and CLI").

=======  ======================================  ========  ==================================
method   path                                    role      body (JSON)
=======  ======================================  ========  ==================================
GET      ``/v1/rollouts``                        viewer    (``?active=true``: active only)
GET      ``/v1/rollouts/{deployment}``           viewer
POST     ``/v1/rollouts/{deployment}/start``     operator  ``{"challenger": "models:/fraud/7",
                                                           "plan": <YAML/JSON text or object>}``
POST     ``/v1/rollouts/{deployment}/pause``     operator  ``{"reason"?}``
POST     ``/v1/rollouts/{deployment}/resume``    operator  ``{"reason"?}``
POST     ``/v1/rollouts/{deployment}/promote``   operator  ``{"reason"?, "force"?: bool}``
POST     ``/v1/rollouts/{deployment}/rollback``  operator  ``{"reason"?}``
POST     ``/v1/rollouts/{deployment}/weights``   operator  ``{"weight": 0.1, "reason"?}``
=======  ======================================  ========  ==================================

Tokens: ``Authorization: Bearer <token>`` (``accuguard token create``, or the
``ACCUGUARD_ADMIN_TOKEN`` bootstrap admin). Missing/unknown token: 401; role too
low: 403 (both audited). ``rollback`` with no active rollout moves the champion alias
back to ``previous`` (after a promotion). Errors are JSON ``{"error": {...}}``: 404
unknown deployment or no rollout, 409 a conflicting or impossible transition, 422 a
bad plan or challenger, 503 the database is unreachable.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from accuguard.auth import Principal, Role, authorize
from accuguard.errors import InputError
from accuguard.gateway._http import error_response, json_response, read_body
from accuguard.gateway.validation import RequestError, parse_json
from accuguard.rollout import machine
from accuguard.rollout.controller import RolloutNotFound
from accuguard.rollout.machine import TransitionError
from accuguard.rollout.state import (
    RolloutConflict,
    RolloutRecord,
    latest_rollout,
    list_rollouts,
)

if TYPE_CHECKING:
    from accuguard.gateway.app import Gateway
    from accuguard.rollout.runtime import RolloutService

log = logging.getLogger("accuguard.rollout")
Handler = Callable[[Request], Awaitable[Response]]


def describe(record: RolloutRecord, now: float | None = None) -> dict[str, Any]:
    """The status of a rollout: the row, its current step, traffic, evidence, next action."""
    now = time.time() if now is None else now
    steps = record.plan.get("steps", [])
    step = steps[record.step_index] if record.step_index < len(steps) else {}
    pos = record.position
    mode_weight = None
    if record.active:
        mode = str(step.get("mode", "shadow"))
        default = 1.0 if mode == "shadow" else float(step.get("weight", 0.0))
        weight = record.weight_override if record.weight_override is not None else default
        mode_weight = {"variant": record.variant, "mode": mode, "weight": weight}
    out = record.to_dict()
    out["step"] = {
        "index": record.step_index,
        "of": len(steps),
        "name": step.get("name"),
        "mode": step.get("mode"),
        "weight": step.get("weight"),
        "elapsed_s": machine.elapsed(pos, now) if record.active else None,
        "min_duration_s": step.get("min_duration_s"),
        "max_duration_s": step.get("max_duration_s"),
    }
    out["steps"] = [
        {"name": s.get("name"), "mode": s.get("mode"), "weight": s.get("weight")} for s in steps
    ]
    out["traffic"] = mode_weight
    out["next"] = next_action(record)
    return out


def next_action(record: RolloutRecord) -> str:
    """What happens next, in one sentence."""
    steps = record.plan.get("steps", [])
    on_inconclusive = record.plan.get("on_inconclusive", "rollback")
    if record.state == machine.PROMOTED:
        return (
            f"done: version {record.challenger_version} is the champion; "
            f"'rollback' moves the champion back to version {record.champion_version}"
        )
    if record.state == machine.ROLLED_BACK:
        return "done: rolled back; the champion serves all traffic"
    if record.state == machine.PAUSED:
        return "paused: resume, promote or roll back"
    if record.last_decision == machine.HOLD_LIMIT:
        return "inconclusive past the step's limit and the plan says hold: promote or roll back"
    step = steps[record.step_index] if record.step_index < len(steps) else {}
    if record.step_index + 1 < len(steps):
        then = f"advance to {steps[record.step_index + 1].get('name')!r}"
    else:
        then = "promote (the champion alias moves to the challenger)"
    limit = step.get("max_duration_s")
    tail = f"; still inconclusive after {limit:g} s: {on_inconclusive}" if limit else ""
    return f"gate of {step.get('name')!r} passes: {then}; fails: roll back{tail}"


class RolloutRoutes:
    """The handlers, bound to a gateway (its config and its rollout service)."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    @property
    def limit(self) -> int:
        """Bodies past the gateway's ``limits.max_body_bytes`` (default 1 MiB) get a 413."""
        return self.gateway.config.limits.max_body_bytes

    @property
    def service(self) -> RolloutService:
        service = cast("RolloutService | None", self.gateway.rollouts)
        if service is None:
            raise RequestError(
                503, "rollouts_disabled", "rollouts need the event-log database (store_url)"
            )
        return service

    async def _guard(self, request: Request, role: Role, action: str) -> Principal:
        deployment = request.path_params.get("deployment")
        service = self.service
        result = await run_in_threadpool(
            authorize, request, service.tokens, service.audit, role, action, deployment
        )
        if isinstance(result, Response):
            raise Denied(result)
        return result

    def _deployment(self, request: Request) -> tuple[str, Any]:
        name = str(request.path_params["deployment"])
        dep = self.gateway.reloader.config.deployments.get(name)
        if dep is None:
            known = ", ".join(sorted(self.gateway.reloader.config.deployments)) or "none"
            raise RequestError(
                404, "unknown_deployment", f"no deployment {name!r}; known: {known}", "deployment"
            )
        return name, dep

    async def list(self, request: Request) -> Response:
        """``GET /v1/rollouts``."""
        await self._guard(request, "viewer", "rollout.list")
        active = request.query_params.get("active", "").lower() in ("1", "true", "yes")
        rows = await run_in_threadpool(list_rollouts, self.service.engine, active_only=active)
        return json_response({"rollouts": [describe(r) for r in rows]})

    async def status(self, request: Request) -> Response:
        """``GET /v1/rollouts/{deployment}``."""
        await self._guard(request, "viewer", "rollout.status")
        name, _ = self._deployment(request)
        record = await run_in_threadpool(latest_rollout, self.service.engine, name)
        if record is None:
            raise RolloutNotFound(f"deployment {name!r} has had no rollout")
        return json_response(describe(record))

    async def start(self, request: Request) -> Response:
        """``POST /v1/rollouts/{deployment}/start``."""
        who = await self._guard(request, "operator", "rollout.start")
        name, dep = self._deployment(request)
        body = await _body(request, self.limit)
        challenger = body.get("challenger")
        if not isinstance(challenger, str) or not challenger:
            raise RequestError(
                422,
                "invalid_request",
                "give 'challenger': a URI such as models:/fraud/7",
                "challenger",
            )
        plan = body.get("plan")
        if not isinstance(plan, str | dict):
            raise RequestError(
                422,
                "invalid_request",
                "give 'plan': the plan as YAML/JSON text or an object",
                "plan",
            )
        record = await run_in_threadpool(
            self.service.controller.start_rollout,
            name,
            challenger,
            plan,
            actor=who.name,
            model=dep.model,
            champion_alias=dep.champion_alias,
        )
        return json_response(describe(record), 201)

    def _action(self, action: str) -> Handler:
        async def handler(request: Request) -> Response:
            who = await self._guard(request, "operator", f"rollout.{action}")
            name, dep = self._deployment(request)
            body = await _body(request, self.limit, optional=True)
            reason = body.get("reason", "")
            if not isinstance(reason, str):
                raise RequestError(422, "invalid_request", "'reason' must be text", "reason")
            ctl = self.service.controller
            if action == "weights":
                weight = _weight(body.get("weight"))
                record = await run_in_threadpool(
                    ctl.set_weight, name, weight, actor=who.name, reason=reason
                )
            elif action == "promote":
                force = body.get("force", False) is True
                record = await run_in_threadpool(
                    ctl.promote, name, actor=who.name, reason=reason, force=force
                )
            elif action == "rollback":
                active = await run_in_threadpool(latest_rollout, self.service.engine, name)
                if active is None or not active.active:
                    done = await run_in_threadpool(
                        ctl.rollback_to_previous,
                        name,
                        reason or f"rolled back by {who.name}",
                        who.name,
                        model=dep.model,
                        champion_alias=dep.champion_alias,
                    )
                    return json_response({"rolled_back_to_previous": done})
                record = await run_in_threadpool(ctl.rollback, name, actor=who.name, reason=reason)
            else:
                method = ctl.pause if action == "pause" else ctl.resume
                record = await run_in_threadpool(method, name, actor=who.name, reason=reason)
            return json_response(describe(record))

        return api_errors(handler)


class Denied(Exception):
    """Raised by a handler with the 401/403 answer :func:`api_errors` returns."""

    def __init__(self, response: Response) -> None:
        super().__init__("denied")
        self.response = response


def _weight(value: Any) -> float:
    """``value`` as a float when it is a JSON number (range checked by the controller)."""
    if not isinstance(value, bool) and isinstance(value, int | float):
        try:
            return float(value)
        except OverflowError:  # an integer too large for a float: out of range anyway
            pass
    raise RequestError(422, "invalid_request", "give 'weight': a number in [0, 1]", "weight")


async def _body(request: Request, limit: int, *, optional: bool = False) -> dict[str, Any]:
    raw = await read_body(request, limit)
    if not raw and optional:
        return {}
    payload = parse_json(raw)
    if not isinstance(payload, dict):
        raise RequestError(400, "invalid_body", "the body must be a JSON object")
    return payload


def api_errors(handler: Handler) -> Handler:
    """Wrap an admin-API handler: known errors become JSON 4xx/503 answers, no tracebacks."""

    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except Denied as denied:
            return denied.response
        except RequestError as exc:
            return error_response(exc)
        except RolloutNotFound as exc:
            return error_response(RequestError(404, "no_rollout", str(exc)))
        except (RolloutConflict, TransitionError) as exc:
            return error_response(RequestError(409, "conflict", str(exc)))
        except InputError as exc:
            return error_response(RequestError(422, "invalid_request", str(exc)))
        except SQLAlchemyError as exc:
            log.warning("rollout API: database error (%s)", type(exc).__name__)
            return error_response(
                RequestError(503, "store_unavailable", "the database cannot be reached; retry")
            )

    return wrapped


def rollout_routes(gateway: Gateway) -> list[Route]:
    """The ``/v1/rollouts`` routes of ``gateway``."""
    r = RolloutRoutes(gateway)
    base = "/v1/rollouts/{deployment}"
    routes = [
        Route("/v1/rollouts", api_errors(r.list), methods=["GET"]),
        Route(base, api_errors(r.status), methods=["GET"]),
        Route(f"{base}/start", api_errors(r.start), methods=["POST"]),
    ]
    for action in ("pause", "resume", "promote", "rollback", "weights"):
        routes.append(Route(f"{base}/{action}", r._action(action), methods=["POST"]))
    return routes
