"""API tokens with roles: ``viewer`` < ``operator`` < ``admin``.

A token is ``agt_`` followed by 32 random bytes in URL-safe base64
(``secrets.token_urlsafe(32)``, 256 bits). It is shown once, when created; the
database keeps only its SHA-256 (``api_tokens.token_hash``), so a copy of the
database does not give anyone a working token. A fast unsalted hash is enough for
256-bit random secrets (nobody can guess candidates to hash); slow password hashes
are for low-entropy passwords.

:meth:`TokenStore.authenticate` hashes the presented token, finds the row by that
hash and compares the digests with :func:`hmac.compare_digest`. The lookup itself
works on the digest of the attacker's input, whose bytes the attacker cannot steer,
so its timing reveals nothing about stored tokens. The bootstrap admin token (the
``ACCUGUARD_ADMIN_TOKEN`` environment variable, passed in by the caller) is compared
the same way, digest against digest, and is never stored.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, get_args

from sqlalchemy import Table, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from accuguard.errors import InputError
from accuguard.store.models import ApiToken

Role = Literal["viewer", "operator", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
_RANK = {role: rank for rank, role in enumerate(ROLES)}
TOKEN_PREFIX = "agt_"  # noqa: S105 (a prefix, not a secret)
BOOTSTRAP_NAME = "bootstrap-admin"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_TABLE: Table = ApiToken.__table__  # type: ignore[assignment]


def check_role(role: str) -> Role:
    """``role`` if it is one of ``viewer``, ``operator``, ``admin``; InputError otherwise."""
    if role not in _RANK:
        raise InputError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    return role


def role_allows(have: Role, needed: Role) -> bool:
    """Whether role ``have`` may do what needs ``needed`` (admin > operator > viewer).

    >>> role_allows("admin", "operator"), role_allows("viewer", "operator")
    (True, False)
    """
    return _RANK[check_role(have)] >= _RANK[check_role(needed)]


def hash_token(token: str) -> str:
    """The stored form of a token: hex SHA-256 of its UTF-8 bytes."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who called: the token's name and role."""

    name: str
    role: Role

    def can(self, needed: Role) -> bool:
        """Whether this principal's role is ``needed`` or higher."""
        return role_allows(self.role, needed)


class TokenStore:
    """Named API tokens in the ``api_tokens`` table of the event-log database.

    ``bootstrap_admin_token``: a token that authenticates as ``bootstrap-admin`` with
    role ``admin`` without being stored (the caller passes the value of
    ``ACCUGUARD_ADMIN_TOKEN``); None or empty disables it.

    >>> from accuguard.store import make_engine, upgrade
    >>> engine = make_engine("sqlite://")
    >>> upgrade(engine)
    >>> store = TokenStore(engine)
    >>> token = store.create("ci", "operator")
    >>> token.startswith("agt_"), store.authenticate(token)
    (True, Principal(name='ci', role='operator'))
    >>> store.revoke("ci"), store.authenticate(token)
    (True, None)
    """

    def __init__(
        self,
        engine: Engine,
        *,
        bootstrap_admin_token: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self._bootstrap = hash_token(bootstrap_admin_token) if bootstrap_admin_token else None
        self._clock = clock

    def create(self, name: str, role: Role) -> str:
        """Create a token named ``name`` with ``role`` and return it (shown only once).

        A name is 1-64 letters, digits, ``.``, ``_`` or ``-``. A revoked name can be
        reused; an active one cannot (:class:`~accuguard.errors.InputError`).
        """
        if not isinstance(name, str) or not _NAME.match(name):
            raise InputError(
                f"token name {name!r} is invalid; use 1-64 letters, digits, '.', '_' or '-'"
            )
        if name == BOOTSTRAP_NAME:
            raise InputError(f"token name {name!r} is reserved for ACCUGUARD_ADMIN_TOKEN")
        role = check_role(role)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        values = {
            "role": role,
            "token_hash": hash_token(token),
            "created_at": float(self._clock()),
            "revoked_at": None,
        }
        try:
            with self.engine.begin() as conn:
                existing = conn.execute(
                    select(_TABLE.c.revoked_at).where(_TABLE.c.name == name)
                ).first()
                if existing is None:
                    conn.execute(insert(_TABLE).values(name=name, **values))
                elif existing.revoked_at is None:
                    raise InputError(f"a token named {name!r} exists; revoke it first")
                else:
                    conn.execute(update(_TABLE).where(_TABLE.c.name == name).values(**values))
        except IntegrityError:  # created by someone else at the same moment
            raise InputError(f"a token named {name!r} exists; revoke it first") from None
        return token

    def authenticate(self, token: str) -> Principal | None:
        """The principal of ``token``, or None for an unknown, revoked or empty token."""
        if not isinstance(token, str) or not token:
            return None
        digest = hash_token(token)
        if self._bootstrap is not None and hmac.compare_digest(digest, self._bootstrap):
            return Principal(BOOTSTRAP_NAME, "admin")
        with self.engine.connect() as conn:
            row = conn.execute(
                select(_TABLE.c.name, _TABLE.c.role, _TABLE.c.token_hash).where(
                    _TABLE.c.token_hash == digest, _TABLE.c.revoked_at.is_(None)
                )
            ).first()
        if row is None or not hmac.compare_digest(row.token_hash, digest):
            return None
        if row.role not in _RANK:  # a row edited by hand: grant nothing
            return None
        return Principal(row.name, row.role)

    def revoke(self, name: str) -> bool:
        """Revoke the active token ``name``; False when there is none."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(_TABLE)
                .where(_TABLE.c.name == name, _TABLE.c.revoked_at.is_(None))
                .values(revoked_at=float(self._clock()))
            )
        return bool(result.rowcount)

    def list(self) -> list[dict[str, Any]]:
        """Every token by name: ``name``, ``role``, ``created_at``, ``revoked_at``, ``active``.

        No token material (not even the hash) is returned.
        """
        query = select(
            _TABLE.c.name, _TABLE.c.role, _TABLE.c.created_at, _TABLE.c.revoked_at
        ).order_by(_TABLE.c.name)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [{**row, "active": row["revoked_at"] is None} for row in rows]
