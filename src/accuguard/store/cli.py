"""``accuguard events``: housekeeping of the event log (retention)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import SQLAlchemyError

from accuguard.errors import AccuguardError, InputError

STORE_ENV = "ACCUGUARD_STORE_URL"

app = typer.Typer(
    help="The event log: retention (delete events older than an age, in bounded batches).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
_err = Console(stderr=True, highlight=False, soft_wrap=True)
Opt = typer.Option


@app.callback()
def _events() -> None:
    """The event log: retention (delete events older than an age, in bounded batches)."""


@app.command("prune")
def prune_command(
    older_than: Annotated[
        str, Opt("--older-than", help="Age of the events to delete: 90d, 12h, 2w, 30m, 3600s.")
    ],
    store: Annotated[
        str,
        Opt("--store", envvar=STORE_ENV, help="Event-log URL (sqlite:///file.db or postgresql…)."),
    ] = "sqlite:///accuguard.db",
    batch: Annotated[int, Opt("--batch", help="Rows deleted per transaction.")] = 10_000,
    dry_run: Annotated[
        bool, Opt("--dry-run", help="Count the events that would go; delete nothing.")
    ] = False,
) -> None:
    """Delete predictions, feedback and business events older than ``--older-than``.

    Oldest first, ``--batch`` rows per transaction (gateways keep writing meanwhile; an
    interrupted prune is run again). Erasures and the audit log are kept. Prints the rows
    deleted per table. Exit codes: 0 done, 1 the event log is unreachable, 2 bad input.
    """
    from accuguard.store.engine import describe_url, make_engine
    from accuguard.store.migrate import current_revision
    from accuguard.store.retention import parse_age, prune_events

    try:
        seconds = parse_age(older_than)
        engine = make_engine(store, must_exist=True)
    except AccuguardError as exc:
        _err.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
    shown = escape(repr(describe_url(store)))
    try:
        if current_revision(engine) is None:
            _err.print(f"[bold red]error:[/] {shown} has no accuguard event log; check --store")
            raise typer.Exit(2)
        cutoff = datetime.now(UTC).timestamp() - seconds
        when = datetime.fromtimestamp(cutoff, UTC).isoformat(timespec="seconds")
        verb = "would delete" if dry_run else "deleted"
        typer.echo(f"events before {when} ({older_than} ago): {verb}")
        counts = prune_events(engine, seconds, now=cutoff + seconds, batch=batch, dry_run=dry_run)
    except InputError as exc:
        _err.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
    except SQLAlchemyError as exc:
        _err.print(
            f"[bold red]error:[/] the event log at {shown} cannot be reached "
            f"({type(exc).__name__}); batches committed before stay deleted, run it again"
        )
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    for table, count in counts.items():
        typer.echo(f"{table}: {count}")
