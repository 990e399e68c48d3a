"""``accuguard airflow``: install the DAGs into an Airflow DAGs folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="Airflow integration: the validation and retrain DAGs (docs/airflow.md).",
    no_args_is_help=True,
)


@app.command("install-dags")
def install_dags_command(
    folder: Annotated[Path, typer.Argument(metavar="DIR", help="The Airflow DAGs folder.")],
    trainer: Annotated[
        str | None,
        typer.Option(help="The retrain DAG's trainer, as package.module:function."),
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite files that differ.")] = False,
) -> None:
    """Copy accuracy_validation_dag and accuguard_retrain_dag into DIR."""
    from accuguard.integrations.airflow.install import install_dags

    for path in install_dags(folder, trainer=trainer, force=force):
        typer.echo(str(path))
