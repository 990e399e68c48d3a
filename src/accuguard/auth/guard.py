"""Authorise an HTTP call by its bearer token and role; audit every denial.

:func:`authorize` returns the caller's :class:`Principal` or a JSON error response:

- **401** ``unauthorized``: no ``Authorization: Bearer <token>`` header;
- **401** ``invalid_token``: the token is unknown or revoked;
- **403** ``forbidden``: the token is valid but its role is below the one needed;
- **503** ``auth_unavailable``: the token store cannot be reached.

Each 401/403 is appended to the audit log as action ``auth.denied`` with the action
that was attempted, the role needed, the method, path and client address, and the
token's name when it is known. No token material (token, hash or prefix) is
written. If the audit log itself cannot be written, the call is still denied and a
warning is logged.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import Response

from accuguard.audit.log import AuditLog
from accuguard.auth.tokens import Principal, Role, TokenStore, check_role
from accuguard.errors import AccuguardError
from accuguard.gateway._http import error_response
from accuguard.gateway.validation import RequestError

log = logging.getLogger(__name__)
DENIED = "auth.denied"


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def _deny(
    request: Request,
    audit: AuditLog,
    error: RequestError,
    *,
    action: str,
    needed: Role,
    deployment: str | None,
    principal: Principal | None,
) -> Response:
    evidence: dict[str, Any] = {
        "attempted_action": action,
        "needed_role": needed,
        "role": principal.role if principal else None,
        "status": error.status,
        "code": error.code,
        "method": request.method,
        "path": request.url.path,
        "client": request.client.host if request.client else None,
    }
    try:
        audit.append(
            action=DENIED,
            actor=principal.name if principal else "anonymous",
            deployment=deployment,
            decision="denied",
            reason=error.message,
            evidence=evidence,
        )
    except (SQLAlchemyError, AccuguardError) as exc:
        log.warning("could not audit a denied %s call (%s)", action, type(exc).__name__)
    headers = None
    if error.status == 401:
        detail = ' error="invalid_token"' if error.code == "invalid_token" else ""
        headers = {"WWW-Authenticate": f"Bearer{detail}"}
    return error_response(error, headers=headers)


def authorize(
    request: Request,
    tokens: TokenStore,
    audit: AuditLog,
    needed: Role,
    action: str,
    deployment: str | None = None,
) -> Principal | Response:
    """The caller's principal when its token has role ``needed`` or higher.

    Otherwise a JSON error response (401 no or unknown token, 403 role too low, 503
    token store unreachable) to return as is; 401 and 403 are audited as
    ``auth.denied``. ``action`` names what was attempted (e.g. ``rollout.promote``).
    This function queries the database: call it from a thread (Starlette's
    ``run_in_threadpool``) in an async handler under load.
    """
    needed = check_role(needed)
    context: dict[str, Any] = {"action": action, "needed": needed, "deployment": deployment}
    token = bearer_token(request)
    if token is None:
        error = RequestError(
            401, "unauthorized", "send Authorization: Bearer <token>", "Authorization"
        )
        return _deny(request, audit, error, principal=None, **context)
    try:
        principal = tokens.authenticate(token)
    except SQLAlchemyError as exc:
        log.warning("token store unreachable (%s)", type(exc).__name__)
        return error_response(
            RequestError(
                503, "auth_unavailable", "the token store cannot be reached; try again later"
            )
        )
    if principal is None:
        error = RequestError(
            401, "invalid_token", "the token is unknown or revoked", "Authorization"
        )
        return _deny(request, audit, error, principal=None, **context)
    if not principal.can(needed):
        error = RequestError(
            403,
            "forbidden",
            f"token {principal.name!r} has role {principal.role}; {action} needs "
            f"role {needed} or higher",
            "Authorization",
        )
        return _deny(request, audit, error, principal=principal, **context)
    return principal
