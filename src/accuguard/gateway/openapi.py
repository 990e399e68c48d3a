"""The gateway's OpenAPI 3.1 document, served at ``GET /openapi.json`` (docs/gateway.md).

The request bodies are checked by hand in :mod:`accuguard.gateway.validation`,
:mod:`accuguard.rollout.api` and :mod:`accuguard.integrations.kubernetes` (fast, and
the messages name the field); the schemas here state the same rules. The rollout
plan's schema is generated from the pydantic model that validates it
(:class:`accuguard.rollout.plan.Plan`). ``tests/hostile/test_openapi.py`` checks that
every route the app mounts is listed and that the document is valid OpenAPI 3.1;
``tests/hostile/test_http_fuzz.py`` fuzzes every operation from it (schemathesis).
The component schemas are in :mod:`accuguard.gateway.openapi_schemas`.

Admin operations carry ``x-required-role`` (``viewer``, ``operator`` or
``bootstrap-admin``: the ``ACCUGUARD_ADMIN_TOKEN`` value itself).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from accuguard import __version__
from accuguard.gateway._http import json_response
from accuguard.gateway.openapi_schemas import TEXT, obj, schemas

JSON = "application/json"
HTML = "text/html"
_ERROR_REF = {"$ref": "#/components/schemas/Error"}
_ROLLOUT_REF = {"$ref": "#/components/schemas/Rollout"}

#: what each error status means, once for the whole document
_ERRORS = {
    400: "the body is not JSON (empty, invalid UTF-8, nested too deep) or a bad header",
    401: "no bearer token, or an unknown or revoked one",
    403: "the token's role is too low (or, for /v1/admin/reload, not the admin token)",
    404: "unknown deployment, rollout or hook",
    409: "a conflicting or impossible rollout transition",
    412: "Flagger must not proceed (the reason is in the body)",
    413: "the body is over the size limit, or too many rows or items",
    415: "the Content-Type is not JSON",
    422: "a field is missing, unknown or of the wrong type (named in 'field')",
    500: "the champion model raised (code model_error)",
    502: "a reload could not load some model (the deployment keeps serving)",
    503: "not ready, shutting down, overloaded, or the database is unreachable",
    504: "the champion model did not answer in time",
}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {JSON: {"schema": schema}}}


def _responses(ok: dict[int, tuple[str, dict[str, Any]]], *errors: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        str(status): {"description": text, **_json(schema)} for status, (text, schema) in ok.items()
    }
    for status in errors:
        out[str(status)] = {"description": _ERRORS[status], **_json(_ERROR_REF)}
    return out


def _body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"required": required, **_json(schema)}


def _path(name: str, text: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": text,
        "schema": schema or {"type": "string", "pattern": "^[^/]+$"},
    }


def _query(name: str, text: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": text, "schema": schema}


def _html(summary: str, *params: dict[str, Any]) -> dict[str, Any]:
    return {
        "get": {
            "tags": ["dashboard"],
            "summary": summary,
            "parameters": list(params),
            "responses": {
                "200": {"description": "an HTML page", "content": {HTML: {"schema": {}}}},
                "404": {"description": "not found", "content": {HTML: {"schema": {}}}},
            },
        }
    }


def _gateway_paths() -> dict[str, Any]:
    deployment = _path("name", "the deployment (deployments.<name> of the config)")
    headers = [
        {"name": "X-Unit-Id", "in": "header", "required": False, "schema": TEXT},
        {
            "name": "X-Request-Id",
            "in": "header",
            "required": False,
            "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,128}$"},
        },
    ]
    ingest = (400, 413, 415, 422, 503)
    reload_body = obj(
        {"changes": {"type": "array"}, "errors": {"type": "object"}, "deployments": {}},
        ("changes", "errors"),
        extra=True,
    )
    return {
        "/v1/deployments/{name}/predict": {
            "post": {
                "tags": ["predict"],
                "summary": "Score rows with the deployment's champion (or its challenger)",
                "parameters": [deployment, *headers],
                "requestBody": _body({"$ref": "#/components/schemas/PredictRequest"}),
                "responses": _responses(
                    {200: ("the predictions", {"$ref": "#/components/schemas/PredictResponse"})},
                    *ingest,
                    404,
                    500,
                    504,
                ),
            }
        },
        "/v1/feedback": {
            "post": {
                "tags": ["ingest"],
                "summary": "Ground-truth labels of earlier requests",
                "requestBody": _body({"$ref": "#/components/schemas/FeedbackRequest"}),
                "responses": _responses(
                    {202: ("accepted", {"$ref": "#/components/schemas/Accepted"})}, *ingest
                ),
            }
        },
        "/v1/events": {
            "post": {
                "tags": ["ingest"],
                "summary": "Business events of units (clicks, conversions, revenue)",
                "requestBody": _body({"$ref": "#/components/schemas/EventsRequest"}),
                "responses": _responses(
                    {202: ("accepted", {"$ref": "#/components/schemas/Accepted"})}, *ingest
                ),
            }
        },
        "/v1/admin/reload": {
            "post": {
                "tags": ["admin"],
                "summary": "Re-resolve aliases and re-read the config now",
                "security": [{"bearer": []}],
                "x-required-role": "bootstrap-admin",
                "responses": _responses(
                    {200: ("the changes", reload_body), 502: (_ERRORS[502], reload_body)},
                    401,
                    403,
                ),
            }
        },
        "/healthz": {
            "get": {
                "tags": ["health"],
                "summary": "Liveness",
                "responses": _responses({200: ("alive", obj({"status": {"const": "alive"}}))}),
            }
        },
        "/readyz": {
            "get": {
                "tags": ["health"],
                "summary": "Readiness: models loaded and event log ready",
                "responses": _responses(
                    {
                        200: ("ready", {"type": "object"}),
                        503: ("not ready: see 'reasons'", {"type": "object"}),
                    }
                ),
            }
        },
        "/metrics": {
            "get": {
                "tags": ["health"],
                "summary": "Prometheus metrics (text format)",
                "responses": {
                    "200": {
                        "description": "the metrics",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/openapi.json": {
            "get": {
                "tags": ["health"],
                "summary": "This document",
                "responses": _responses({200: ("the OpenAPI document", {"type": "object"})}),
            }
        },
    }


def _rollout_paths() -> dict[str, Any]:
    deployment = _path("deployment", "the deployment")
    admin = (400, 401, 403, 404, 409, 413, 415, 422, 503)
    reason = {"reason": {"type": "string"}}
    start = obj(
        {
            "challenger": {"type": "string", "minLength": 1},
            "plan": {"oneOf": [{"type": "string"}, {"$ref": "#/components/schemas/Plan"}]},
        },
        ("challenger", "plan"),
        extra=True,
    )
    bodies = {
        "pause": obj(reason, extra=True),
        "resume": obj(reason, extra=True),
        "rollback": obj(reason, extra=True),
        "promote": obj({**reason, "force": {"type": "boolean"}}, extra=True),
        "weights": obj({**reason, "weight": {"type": "number"}}, ("weight",), extra=True),
    }

    def op(summary: str, role: str, ok: dict[int, Any], **more: Any) -> dict[str, Any]:
        return {
            "tags": ["rollouts"],
            "summary": summary,
            "security": [{"bearer": []}],
            "x-required-role": role,
            "responses": _responses(ok, *admin),
            **more,
        }

    paths: dict[str, Any] = {
        "/v1/rollouts": {
            "get": op(
                "Every rollout (active ones only with ?active=true)",
                "viewer",
                {200: ("the rollouts", obj({"rollouts": {"type": "array"}}, ("rollouts",)))},
                parameters=[_query("active", "true: active rollouts only", {"type": "string"})],
            )
        },
        "/v1/rollouts/{deployment}": {
            "get": op(
                "The latest rollout of a deployment",
                "viewer",
                {200: ("the rollout", _ROLLOUT_REF)},
                parameters=[deployment],
            )
        },
        "/v1/rollouts/{deployment}/start": {
            "post": op(
                "Start rolling a challenger out following a plan",
                "operator",
                {201: ("the rollout", _ROLLOUT_REF)},
                parameters=[deployment],
                requestBody=_body(start),
            )
        },
    }
    for action, schema in bodies.items():
        ok = {200: ("the rollout", _ROLLOUT_REF)}
        if action == "rollback":  # with no active rollout: the alias moves back
            ok = {200: ("the rollout, or {rolled_back_to_previous}", {"type": "object"})}
        paths[f"/v1/rollouts/{{deployment}}/{action}"] = {
            "post": op(
                f"{action.capitalize()} the deployment's rollout",
                "operator",
                ok,
                parameters=[deployment],
                requestBody=_body(schema, required=False),  # an empty body is {}
            )
        }
    return paths


def _kubernetes_paths() -> dict[str, Any]:
    from accuguard.integrations.kubernetes import FLAGGER_HOOKS

    flagger = obj(
        {
            "name": {"type": "string", "minLength": 1},
            "namespace": {"type": "string"},
            "phase": {"type": "string"},
            "checksum": {"type": "string"},
            "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
        },
        ("name",),
        extra=True,
    )
    return {
        "/v1/analysis/{deployment}": {
            "get": {
                "tags": ["kubernetes"],
                "summary": "The gate verdict, for an Argo Rollouts AnalysisTemplate",
                "security": [{"bearer": []}],
                "x-required-role": "viewer",
                "parameters": [
                    _path("deployment", "the deployment"),
                    _query("version", "the challenger version expected", {"type": "string"}),
                    _query("step", "a plan step that must have passed", {"type": "string"}),
                    _query("final", "true: the last step", {"type": "string"}),
                    _query("max_age_s", "oldest gate result used (s)", {"type": "string"}),
                ],
                "responses": _responses(
                    {200: ("the verdict", {"$ref": "#/components/schemas/Verdict"})},
                    401,
                    403,
                    404,
                    422,
                    503,
                ),
            }
        },
        "/v1/flagger/{hook}": {
            "post": {
                "tags": ["kubernetes"],
                "summary": "A Flagger webhook (token in Authorization or metadata.token)",
                "security": [{"bearer": []}],
                "x-required-role": "viewer",
                "parameters": [
                    _path("hook", "the Flagger hook", {"type": "string", "pattern": "^[^/]+$"})
                ],
                "requestBody": _body(flagger),
                "responses": _responses(
                    {
                        200: ("Flagger may proceed", {"type": "object"}),
                        412: (_ERRORS[412], {"type": "object"}),
                    },
                    400,
                    401,
                    403,
                    404,
                    413,
                    415,
                    422,
                    503,
                ),
                "x-hooks": sorted(FLAGGER_HOOKS),
            }
        },
    }


def _dashboard_paths() -> dict[str, Any]:
    name = _path("name", "the deployment")
    return {
        "/ui": _html("Deployments"),
        "/ui/": {
            "get": {
                "tags": ["dashboard"],
                "summary": "Redirect to /ui",
                "responses": {"308": {"description": "to /ui"}},
            }
        },
        "/ui/deployments/{name}/rollout": _html("A deployment's rollout", name),
        "/ui/deployments/{name}/quality": _html("A deployment's quality", name),
        "/ui/deployments/{name}/experiment": _html("A deployment's A/B experiment", name),
        "/ui/validation": _html("Validation runs"),
        "/ui/validation/{run_id}/report": _html(
            "A validation run's HTML report", _path("run_id", "the MLflow run id")
        ),
        "/ui/static/{path}": {
            "get": {
                "tags": ["dashboard"],
                "summary": "The dashboard's CSS and script",
                "parameters": [_path("path", "a file name", {"type": "string"})],
                "responses": {
                    "200": {"description": "the file"},
                    "404": {"description": "no such file"},
                },
            }
        },
    }


@cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route :func:`~accuguard.gateway.create_app` mounts."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "accuguard gateway",
            "version": __version__,
            "description": "Predict, feedback, events, health, the rollout admin API, "
            "Kubernetes hooks and the dashboard (docs/gateway.md). Errors are JSON: "
            '{"error": {"status", "code", "field", "message"}}.',
        },
        "paths": {
            **_gateway_paths(),
            **_rollout_paths(),
            **_kubernetes_paths(),
            **_dashboard_paths(),
        },
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "accuguard token create (viewer < operator < admin), "
                    "or ACCUGUARD_ADMIN_TOKEN",
                }
            },
        },
    }


async def openapi_endpoint(request: Request) -> Response:
    """``GET /openapi.json``: :func:`openapi_document` as JSON."""
    return json_response(openapi_document())
