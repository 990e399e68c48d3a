"""The predict route answered straight from ASGI: the gateway's hot path.

A prediction through Starlette builds a ``Request``, goes through two exception
layers, the router's regex matching over every route and a ``Response`` with a
background task: tens of microseconds per request that the gateway's own work
(validation, batching, event log) does not need. :class:`GatewayApp` is the Starlette
app with one shortcut: ``POST /v1/deployments/{name}/predict`` goes to
:meth:`Gateway.answer_predict <accuguard.gateway.app.Gateway.answer_predict>` directly
and the answer (same status, body and headers as the Starlette route) is sent as two
ASGI messages; the shadows are started after it is sent.

Everything else, and every request once a middleware is added to the app
(``add_middleware``) or under a ``root_path``, takes the normal Starlette route,
which serves the same answers.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette

from accuguard.gateway._http import ClientGone, read_asgi_body

if TYPE_CHECKING:
    from accuguard.gateway.app import Gateway

log = logging.getLogger("accuguard.gateway")

PREFIX = "/v1/deployments/"
SUFFIX = "/predict"
_JSON = (b"content-type", b"application/json")
_ERROR_500 = b"Internal Server Error"


class GatewayApp(Starlette):
    """Starlette with the predict route short-cut (see the module docstring)."""

    gateway: Gateway | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """ASGI entry point."""
        gateway = self.gateway
        if (
            gateway is not None
            and scope["type"] == "http"
            and scope["method"] == "POST"
            and not self.user_middleware
            and not scope.get("root_path")
        ):
            path: str = scope["path"]
            if path.startswith(PREFIX) and path.endswith(SUFFIX):
                name = path[len(PREFIX) : -len(SUFFIX)]
                if name and "/" not in name:
                    scope["app"] = self
                    await _predict(gateway, name, scope, receive, send)
                    return
        await super().__call__(scope, receive, send)


async def _predict(gateway: Gateway, name: str, scope: Any, receive: Any, send: Any) -> None:
    declared = unit = rid = ctype = None
    for key, value in scope["headers"]:
        if key == b"content-length":
            declared = value.decode("latin-1")
        elif key == b"content-type":
            ctype = value.decode("latin-1")
        elif key == b"x-unit-id":
            unit = value.decode("latin-1")
        elif key == b"x-request-id":
            rid = value.decode("latin-1")
    limit = gateway.config.limits.max_body_bytes
    started = False
    try:
        status, body, extra, mirror = await gateway.answer_predict(
            name, lambda: read_asgi_body(receive, declared, limit, ctype), unit, rid
        )
        headers = (
            [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in extra.items()]
            if extra
            else []
        )
        headers.append((b"content-length", str(len(body)).encode()))
        headers.append(_JSON)
        started = True
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
    except ClientGone:
        return
    except Exception:
        if not started:  # what Starlette's ServerErrorMiddleware answers
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-length", str(len(_ERROR_500)).encode()),
                        (b"content-type", b"text/plain; charset=utf-8"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": _ERROR_500})
        raise
    if mirror is not None:
        gateway.mirror_now(mirror)
