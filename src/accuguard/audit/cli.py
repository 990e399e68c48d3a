"""``accuguard audit``: verify the audit log's hash chain, show its entries.

Exit codes: 0 done (``verify``: the chain is intact); 1 (``verify``) the chain is
broken, the first bad entry is printed; 2 bad input or an unusable store (bad URL,
no such file, no audit log, database unreachable), a one-line message on stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from accuguard.audit.log import AuditEntry, AuditLog
from accuguard.errors import AccuguardError
from accuguard.store.engine import DEFAULT_URL, describe_url, make_engine

STORE_ENV = "ACCUGUARD_STORE_URL"
out = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, soft_wrap=True)
Opt = typer.Option

StoreUrl = Annotated[
    str,
    Opt(
        "--store-url",
        envvar=STORE_ENV,
        help="Event-log database URL (sqlite:///file.db or postgresql+psycopg://…).",
    ),
]

app = typer.Typer(
    help="The hash-chained audit log: verify it, show its entries.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``error: message`` on stderr and exit with ``code``."""
    err.print(f"[bold red]error:[/] {escape(message)}", markup=True)
    raise typer.Exit(code)


@contextmanager
def open_store(
    url: str, *, tables: tuple[str, ...], prepare: Callable[[Engine], None] | None = None
) -> Iterator[Engine]:
    """An engine on ``url`` whose schema has ``tables``; store errors exit 2.

    ``prepare`` (e.g. :func:`accuguard.store.migrate.upgrade`) runs first and may
    create the database; without it the SQLite file must exist.
    """
    try:
        engine = make_engine(url, must_exist=prepare is None)
    except AccuguardError as exc:
        fail(str(exc))
    try:
        try:
            if prepare is not None:
                prepare(engine)
            inspector = inspect(engine)
            missing = [t for t in tables if not inspector.has_table(t)]
        except SQLAlchemyError as exc:
            fail(
                f"the event log at {describe_url(url)!r} cannot be used "
                f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
            )
        if missing:
            fail(
                f"the database at {describe_url(url)!r} has no {', '.join(missing)} table; "
                "it needs the accuguard schema at revision 0002_audit_tokens or later "
                "(accuguard serve or accuguard token create upgrades it)"
            )
        try:
            yield engine
        except (AccuguardError, SQLAlchemyError) as exc:
            fail(f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}")
    finally:
        engine.dispose()


@app.callback()
def _audit() -> None:
    """The hash-chained audit log: verify it, show its entries."""


@app.command("verify")
def verify_command(
    store_url: StoreUrl = DEFAULT_URL,
    expect_head: Annotated[
        str | None,
        Opt(
            "--expect-head",
            help="A head hash recorded earlier; fail if no entry has it any more "
            "(detects a truncated tail).",
        ),
    ] = None,
    as_json: Annotated[bool, Opt("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check the hash chain: exit 0 when intact, 1 at the first edited/removed/reordered entry."""
    with open_store(store_url, tables=("audit_log",)) as engine:
        report = AuditLog(engine).verify(expect_head=expect_head)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    elif report.ok:
        head = f"; head seq {report.head_seq} hash {report.head_hash}" if report.head_seq else ""
        typer.echo(f"audit log OK: {report.checked} entries verified{head}")
    else:
        where = f"seq {report.first_bad_seq}" if report.first_bad_seq is not None else "the head"
        typer.echo(
            f"audit log BROKEN at {where} ({report.kind}): {report.problem} "
            f"[{report.checked} entries verified before it]"
        )
    if not report.ok:
        raise typer.Exit(1)


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _table(entries: list[AuditEntry]) -> Table:
    table = Table("seq", "time (UTC)", "actor", "action", "deployment", "decision", "reason")
    for e in entries:
        reason = e.reason if len(e.reason) <= 80 else e.reason[:77] + "..."
        table.add_row(
            str(e.seq), _when(e.at), e.actor, e.action, e.deployment or "", e.decision or "", reason
        )
    return table


@app.command("show")
def show_command(
    store_url: StoreUrl = DEFAULT_URL,
    deployment: Annotated[
        str | None, Opt("--deployment", help="Only entries of this deployment.")
    ] = None,
    action: Annotated[
        list[str] | None, Opt("--action", help="Only entries with this action (repeatable).")
    ] = None,
    limit: Annotated[int, Opt("--limit", help="The newest N entries (0: all).")] = 50,
    as_json: Annotated[bool, Opt("--json", help="Print every field as JSON.")] = False,
) -> None:
    """Show the newest audit entries, oldest first."""
    if limit < 0:
        fail(f"--limit must be 0 or more, got {limit}")
    with open_store(store_url, tables=("audit_log",)) as engine:
        entries = AuditLog(engine).entries(
            deployment=deployment, actions=action or None, limit=limit or None
        )
    if as_json:
        typer.echo(json.dumps([e.to_dict() for e in entries], indent=2))
    elif not entries:
        typer.echo("no audit entries")
    else:
        out.print(_table(entries))


__all__ = ["STORE_ENV", "StoreUrl", "app", "fail", "open_store"]
