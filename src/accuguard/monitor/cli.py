"""``accuguard monitor check``: run a champion monitor once over the event log.

For cron or an Airflow task, outside ``accuguard serve``. Exit codes: 0 no alert;
1 at least one monitor raised an alert; 2 bad input (config file, store URL), with a
one-line message naming the file and field.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import Engine

from accuguard.audit.cli import StoreUrl, fail, open_store
from accuguard.errors import AccuguardError
from accuguard.monitor.service import Monitor, MonitorReport, RollbackCallback
from accuguard.store.engine import DEFAULT_URL

out = Console(highlight=False)
Opt = typer.Option

app = typer.Typer(
    help="Monitors of a deployment's champion over the event log.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _monitor() -> None:
    """Monitors of a deployment's champion over the event log."""


@app.command("check")
def check_command(
    config: Annotated[Path, Opt("--config", help="The monitor YAML file (docs/monitoring.md).")],
    store_url: StoreUrl = DEFAULT_URL,
    act: Annotated[
        bool,
        Opt(
            "--act/--dry-run",
            help="Act on alerts (hooks, audit, rollback) or only report them (default).",
        ),
    ] = False,
    at: Annotated[
        float | None, Opt("--at", help="End of the window, unix seconds (default: now).")
    ] = None,
    as_json: Annotated[bool, Opt("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check the window that ends now; exit 1 when a monitor raises an alert."""
    from accuguard.audit import AuditLog
    from accuguard.monitor.config import load_monitor_config

    try:
        settings = load_monitor_config(config)
    except AccuguardError as exc:
        fail(str(exc))
    with open_store(store_url, tables=("predictions", "feedback")) as engine:
        try:
            monitor = Monitor(
                engine,
                settings,
                hooks=None if act else [],  # a dry run needs no hook secrets
                audit=AuditLog(engine) if act else None,
                rollback=_rollback(engine) if act and settings.accuracy.rollback else None,
            )
        except AccuguardError as exc:
            fail(str(exc))
        now = at if at is not None else time.time()
        report = monitor.run_once(now=now) if act else monitor.check(now=now)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        _print(report)
    raise typer.Exit(1 if report.alerts else 0)


def _rollback(engine: Engine) -> RollbackCallback:
    """The controller's ``rollback_to_previous`` on the MLflow registry of the environment."""
    from mlflow import MlflowClient

    from accuguard.audit import AuditLog
    from accuguard.rollout.controller import Controller

    controller = Controller(engine, MlflowClient(), AuditLog(engine))
    return controller.rollback_to_previous


def _print(report: MonitorReport) -> None:
    table = Table(title=f"monitors of {report.deployment}", show_lines=False)
    for column in ("monitor", "status", "value", "threshold", "reason"):
        table.add_column(column)
    for r in report.results:
        value = "" if r.value is None else f"{r.value:.4g}"
        threshold = "" if r.threshold is None else f"{r.threshold:.4g}"
        style = "bold red" if r.alert else None
        table.add_row(r.monitor, r.status, value, threshold, r.reason, style=style)
    out.print(table)
    for action in report.actions:
        out.print(f"action: {action}")
