"""``accuguard validate``: offline validation of a model's data and predictions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from accuguard.report.validation import ValidationReport

console = Console(stderr=True, highlight=False)
Opt = typer.Option


def validate_command(
    reference: Annotated[
        Path, Opt("--reference", "-r", help="Reference data (.parquet, .csv or a directory).")
    ],
    current: Annotated[
        Path, Opt("--current", "-c", help="Current data (.parquet, .csv or a directory).")
    ],
    target: Annotated[str | None, Opt(help="Column with the true labels.")] = None,
    prediction: Annotated[str | None, Opt(help="Column with predicted labels.")] = None,
    score: Annotated[str | None, Opt(help="Column with the positive-class score.")] = None,
    challenger_prediction: Annotated[str | None, Opt(help="Challenger's predicted labels.")] = None,
    challenger_score: Annotated[str | None, Opt(help="Challenger's scores.")] = None,
    model: Annotated[
        str | None, Opt(help="MLflow model URI to score the data, e.g. models:/fraud@challenger.")
    ] = None,
    challenger_model: Annotated[str | None, Opt(help="MLflow URI of a challenger model.")] = None,
    config: Annotated[Path | None, Opt("--config", help="YAML with checks and gates.")] = None,
    output: Annotated[
        Path | None, Opt("--output", "-o", help="Write the JSON report here.")
    ] = None,
    html: Annotated[Path | None, Opt("--html", help="Write the HTML report here.")] = None,
    mlflow_log: Annotated[
        bool, Opt("--mlflow", help="Log an MLflow run and tag the model version.")
    ] = False,
    quiet: Annotated[bool, Opt("--quiet", "-q", help="No progress bars or summary.")] = False,
    engine: Annotated[
        str, Opt("--engine", help="Where the column pass runs: local (threads) or ray.")
    ] = "local",
    ray_address: Annotated[
        str | None,
        Opt(help="Ray cluster (host:port or ray://host:port); default $RAY_ADDRESS, else local."),
    ] = None,
    ray_num_cpus: Annotated[
        int | None, Opt(help="CPUs of the local Ray instance started when there is no address.")
    ] = None,
) -> None:
    """Check data quality, drift, performance and fairness; exit 0 pass, 1 fail, 2 bad input."""
    from accuguard.validate.pipeline import validate

    with _progress(quiet) as bars:
        tasks: dict[str, TaskID] = {}

        def on_start(totals: dict[str, int]) -> None:
            for name, total in totals.items():
                if total:
                    tasks[name] = bars.add_task(f"reading {name}", total=total)

        def advance(stage: str, rows: int) -> None:
            if stage in tasks:
                bars.advance(tasks[stage], rows)

        report = validate(
            reference,
            current,
            target=target,
            prediction=prediction,
            score=score,
            challenger_prediction=challenger_prediction,
            challenger_score=challenger_score,
            model=model,
            challenger_model=challenger_model,
            config=config,
            progress=advance,
            on_start=on_start,
            engine=engine,
            ray_address=ray_address,
            ray_num_cpus=ray_num_cpus,
        )
    if output is not None:
        report.write_json(output)
    if html is not None:
        from accuguard.report.html import write_validation_html

        write_validation_html(report, html)
    if mlflow_log:
        from accuguard.registry.tracking import log_validation

        run_id = log_validation(report, output, html, challenger_model or model)
        console.print(f"MLflow run [bold]{run_id}[/]")
    if not quiet:
        print_summary(report, output, html)
    raise typer.Exit(0 if report.passed else 1)


def _progress(quiet: bool) -> Progress:
    return Progress(
        TextColumn("{task.description:<20}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=quiet or not console.is_terminal,
        transient=True,
    )


def print_summary(report: ValidationReport, output: Path | None, html: Path | None) -> None:
    """Verdict, gates and the drifted columns on stderr."""
    verdict = "[bold green]PASSED[/]" if report.passed else "[bold red]FAILED[/]"
    console.print(
        f"validation {verdict}: drift in {report.drift.count}/"
        f"{report.drift.columns_checked} columns (share {report.drift.share:.2f})"
    )
    if report.gates:
        table = Table("gate", "value", "", "bound", "result", box=None, pad_edge=False)
        for g in report.gates:
            result = "[green]pass[/]" if g.passed else "[red]FAIL[/]"
            table.add_row(g.name, _fmt(g.left), g.op, _fmt(g.right), result)
        console.print(table)
    if report.comparison is not None:
        console.print(f"champion vs challenger: [bold]{report.comparison.verdict}[/]")
    for path, what in ((output, "JSON"), (html, "HTML")):
        if path is not None:
            console.print(f"{what} report: {path}")


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.4g}"
