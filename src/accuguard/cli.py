"""The one ``accuguard`` command.

Sub-commands live next to the code they drive; this module only mounts them and
turns user errors into a one-line message with exit code 2 (never a traceback).
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.markup import escape

from accuguard.errors import AccuguardError

app = typer.Typer(
    name="accuguard",
    help="Keep production ML models accurate: validate, experiment, serve, roll out.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
_err = Console(stderr=True, highlight=False, soft_wrap=True)


@app.command("schema")
def schema_command(
    name: str = typer.Argument("validation", help="Which report schema: validation."),
) -> None:
    """Print the JSON Schema of a report (the file checked in under docs/schema)."""
    from accuguard.report.validation import json_schema_text

    if name != "validation":
        raise typer.BadParameter(f"unknown schema {name!r}; expected: validation")
    typer.echo(json_schema_text(), nl=False)


#: sub-command -> ("command" | "group", "module:attribute"); imported only when used, so
#: ``accuguard validate`` does not pay for the gateway's or the experiments' imports.
_COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("command", "accuguard.validate.cli:validate_command"),
    "demo": ("command", "accuguard.demo.cli:demo_command"),
    "experiment": ("group", "accuguard.experiment.cli:app"),
    "serve": ("command", "accuguard.gateway.cli:serve_command"),
    "privacy": ("group", "accuguard.privacy:privacy_app"),
    "events": ("group", "accuguard.store.cli:app"),
    "rollout": ("group", "accuguard.rollout.cli:app"),
    "audit": ("group", "accuguard.audit.cli:app"),
    "token": ("group", "accuguard.auth.cli:app"),
    "monitor": ("group", "accuguard.monitor.cli:app"),
    "skew": ("command", "accuguard.skew.cli:skew_command"),
    "airflow": ("group", "accuguard.integrations.airflow.cli:app"),
}


_mounted: set[str] = set()


def _mount(argv: list[str] | None = None) -> None:
    """Register the sub-command named in ``argv`` (all of them for help or an unknown name)."""
    import importlib

    args = sys.argv[1:] if argv is None else argv
    first = next((a for a in args if not a.startswith("-")), None)
    names = [first] if first in _COMMANDS else list(_COMMANDS)
    for name in names:
        if name in _mounted:
            continue
        _mounted.add(name)
        kind, target = _COMMANDS[name]
        module, _, attr = target.partition(":")
        obj = getattr(importlib.import_module(module), attr)
        if kind == "command":
            app.command(name)(obj)
        else:
            app.add_typer(obj, name=name)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``accuguard`` console script.

    Usage errors exit 2 (Click's convention), as does every :class:`AccuguardError`,
    which is printed as one line naming the file, column or field at fault.
    """
    _mount(argv)
    try:
        app(args=argv, prog_name="accuguard")
    except AccuguardError as exc:
        _err.print(f"[bold red]error:[/] {escape(str(exc))}")  # "[/x]" in a name is text
        sys.exit(2)


if __name__ == "__main__":
    main()
