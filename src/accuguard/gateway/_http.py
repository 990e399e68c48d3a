"""Small HTTP helpers: bounded body reading and JSON responses."""

from __future__ import annotations

import json
import math
from typing import Any

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response

from accuguard.gateway.validation import RequestError

JSON = "application/json"
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)  # reused: no per-call setup


class ClientGone(Exception):
    """The client disconnected before its request body was read."""


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with a 413 past ``limit`` bytes.

    Checked twice: against ``Content-Length`` before reading anything, and while
    reading (a chunked body or a lying header cannot get past the limit). A declared
    ``Content-Type`` that is not JSON is refused first (415, :func:`check_content_type`).
    """
    check_content_type(request.headers.get("content-type"))
    check_length(request.headers.get("content-length"), limit)
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise _too_large(total, limit, partial=True)
        chunks.append(chunk)
    return b"".join(chunks)


async def read_asgi_body(
    receive: Any, declared: str | None, limit: int, content_type: str | None = None
) -> bytes:
    """:func:`read_body` on raw ASGI ``receive``; raises :class:`ClientGone` on disconnect."""
    check_content_type(content_type)
    check_length(declared, limit)
    chunks: list[bytes] = []
    total = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientGone()
        chunk = message.get("body", b"")
        total += len(chunk)
        if total > limit:
            raise _too_large(total, limit, partial=True)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def check_content_type(declared: str | None) -> None:
    """Refuse (415) a declared ``Content-Type`` other than JSON; no header is taken as JSON.

    >>> check_content_type("application/json; charset=utf-8")
    >>> check_content_type("application/merge-patch+json")
    >>> try:
    ...     check_content_type("text/plain")
    ... except RequestError as exc:
    ...     print(exc.status, exc.code)
    415 unsupported_media_type
    """
    if declared is None:
        return
    media = declared.partition(";")[0].strip().lower()
    if media == JSON or (media.startswith("application/") and media.endswith("+json")):
        return
    raise RequestError(
        415,
        "unsupported_media_type",
        f"the body must be JSON: send Content-Type: application/json (got {declared[:64]!r})",
        "Content-Type",
    )


def check_length(declared: str | None, limit: int) -> None:
    """Refuse a ``Content-Length`` that is not a number (400) or over ``limit`` (413)."""
    if declared is None:
        return
    try:
        size = int(declared)
    except ValueError:
        raise RequestError(
            400,
            "invalid_header",
            f"Content-Length is not a number: {declared[:32]!r}",
            "Content-Length",
        ) from None
    if size > limit:
        raise _too_large(size, limit)


def _too_large(size: int, limit: int, partial: bool = False) -> RequestError:
    seen = f"more than {limit}" if partial else str(size)
    return RequestError(
        413,
        "body_too_large",
        f"the request body has {seen} bytes; at most {limit} are allowed "
        "(limits.max_body_bytes); send fewer rows per request",
        "body",
    )


def json_response(
    content: Any,
    status: int = 200,
    headers: dict[str, str] | None = None,
    background: BackgroundTask | None = None,
) -> Response:
    """A compact JSON response; NaN and infinities become ``null`` (valid JSON)."""
    body = json_bytes(content)
    return Response(body, status, headers=headers, media_type=JSON, background=background)


def json_bytes(content: Any) -> bytes:
    """Compact JSON (UTF-8) of ``content``; NaN and infinities become ``null``."""
    try:
        return _ENCODER.encode(content).encode()
    except ValueError:
        return _ENCODER.encode(_finite(content)).encode()


def error_response(exc: RequestError, headers: dict[str, str] | None = None) -> Response:
    """The JSON error body of ``exc`` with its status."""
    return json_response(exc.body(), exc.status, headers=headers)


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own errors (no such route 404, wrong method 405) as JSON error bodies."""
    status = int(getattr(exc, "status_code", 500))
    headers = getattr(exc, "headers", None)
    if status == 404:
        message = f"no route {request.url.path!r}; GET /openapi.json lists them"
    elif status == 405:
        message = f"{request.method} is not allowed on {request.url.path!r}"
    else:
        message = str(getattr(exc, "detail", "")) or "error"
    code = _HTTP_CODES.get(status, "http_error")
    return error_response(RequestError(status, code, message), headers=headers)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
