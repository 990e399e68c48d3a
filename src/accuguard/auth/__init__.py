"""API tokens with roles (viewer < operator < admin) and HTTP authorisation (docs/audit.md).

:class:`TokenStore` keeps only the SHA-256 of each token; :func:`authorize` checks a
Starlette request's bearer token and role and audits every denial. Importing
:func:`authorize` loads Starlette, so it is imported lazily here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from accuguard.auth.tokens import ROLES, Principal, Role, TokenStore, role_allows

if TYPE_CHECKING:
    from accuguard.auth.guard import authorize

__all__ = ["ROLES", "Principal", "Role", "TokenStore", "authorize", "role_allows"]


def __getattr__(name: str) -> Any:
    if name == "authorize":
        from accuguard.auth.guard import authorize

        return authorize
    raise AttributeError(f"module 'accuguard.auth' has no attribute {name!r}")
