"""``accuguard token``: create, list and revoke API tokens (docs/audit.md).

``create`` prints the token once on stdout (store it in a secret manager: only its
SHA-256 is kept). Creating and revoking are written to the audit log
(``token.create``, ``token.revoke``; never the token). Exit codes: 0 done;
1 (``revoke``) no active token has that name; 2 bad input or an unusable store.
"""

from __future__ import annotations

import getpass
import json
import sys
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from accuguard.audit.cli import StoreUrl, fail, open_store
from accuguard.audit.log import AuditLog
from accuguard.auth.tokens import ROLES, TokenStore, check_role
from accuguard.errors import AccuguardError
from accuguard.store.engine import DEFAULT_URL
from accuguard.store.migrate import upgrade

out = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, soft_wrap=True)
Opt = typer.Option
_TABLES = ("api_tokens", "audit_log")

Actor = Annotated[
    str | None, Opt("--actor", help="Who does this, for the audit log (default: your user name).")
]

app = typer.Typer(
    help="API tokens of the admin API, with roles viewer < operator < admin.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no USER variable and no passwd entry (containers)
        return "unknown"


@app.callback()
def _token() -> None:
    """API tokens of the admin API, with roles viewer < operator < admin."""


@app.command("create")
def create_command(
    name: Annotated[str, typer.Argument(help="A name for the token (who or what uses it).")],
    role: Annotated[str, Opt("--role", help=f"One of {', '.join(ROLES)}.")] = "viewer",
    store_url: StoreUrl = DEFAULT_URL,
    actor: Actor = None,
) -> None:
    """Create a token and print it once (only its SHA-256 is stored)."""
    try:
        checked = check_role(role)
    except AccuguardError as exc:
        fail(str(exc))
    with open_store(store_url, tables=_TABLES, prepare=upgrade) as engine:
        token = TokenStore(engine).create(name, checked)
        AuditLog(engine).append(
            action="token.create",
            actor=actor or _user(),
            reason=f"created token {name!r} with role {checked}",
            evidence={"token_name": name, "role": checked},
        )
    err.print(f"token {name!r} ({checked}) created; it is shown only this once:")
    typer.echo(token)


@app.command("list")
def list_command(
    store_url: StoreUrl = DEFAULT_URL,
    as_json: Annotated[bool, Opt("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List tokens: name, role, created, revoked (never the tokens)."""
    with open_store(store_url, tables=_TABLES) as engine:
        tokens = TokenStore(engine).list()
    if as_json:
        typer.echo(json.dumps(tokens, indent=2))
        return
    table = Table("name", "role", "created (UTC)", "revoked (UTC)")

    def when(at: float | None) -> str:
        return "" if at is None else datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M")

    for t in tokens:
        table.add_row(t["name"], t["role"], when(t["created_at"]), when(t["revoked_at"]))
    out.print(table if tokens else "no tokens")


@app.command("revoke")
def revoke_command(
    name: Annotated[str, typer.Argument(help="The token's name.")],
    store_url: StoreUrl = DEFAULT_URL,
    actor: Actor = None,
) -> None:
    """Revoke a token at once (exit 1 when no active token has that name)."""
    with open_store(store_url, tables=_TABLES) as engine:
        revoked = TokenStore(engine).revoke(name)
        if revoked:
            AuditLog(engine).append(
                action="token.revoke",
                actor=actor or _user(),
                reason=f"revoked token {name!r}",
                evidence={"token_name": name},
            )
    if not revoked:
        fail(f"no active token named {name!r}", code=1)
    typer.echo(f"token {name!r} revoked")
