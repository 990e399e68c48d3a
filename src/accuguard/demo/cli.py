"""``accuguard demo``: the main job end to end on embedded defaults."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console


def demo_command(
    out: Annotated[
        Path, typer.Option(help="Folder for the demo's data, MLflow store and reports.")
    ] = Path("demo-output"),
    rows: Annotated[
        int | None,
        typer.Option(
            min=2000, help="Rows per generated dataset (default 200,000; --quick 20,000)."
        ),
    ] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="Smaller data and shorter rollout steps (for CI).")
    ] = False,
    live: Annotated[
        bool,
        typer.Option(
            "--live/--no-live",
            help="After validation, run the live part: gateway, rollouts, monitors, audit.",
        ),
    ] = True,
) -> None:
    """Run the main job end to end: validation on the MLflow registry, then live rollouts.

    Part 1 validates a challenger offline. Part 2 starts the gateway with its rollout
    controller, replays traffic with delayed labels, promotes a better challenger, rolls
    a worse one back automatically, raises a drift alert and verifies the audit chain.
    """
    rows = rows if rows is not None else (20_000 if quick else 200_000)
    from accuguard.demo.validate_demo import prepare, register
    from accuguard.registry.tracking import log_validation
    from accuguard.report.html import write_validation_html
    from accuguard.validate.cli import print_summary
    from accuguard.validate.pipeline import validate

    console = Console(highlight=False)
    console.rule("[bold]accuguard demo: offline validation on the MLflow registry")
    data = prepare(out, rows, console)
    console.print("[bold]3.[/] registering both models in a local MLflow registry")
    tracking_uri = register(data, out, console)
    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    gates = data.gates
    console.print(
        f"[bold]4.[/] validating models:/fraud@challenger against models:/fraud@champion "
        f"with the gates in {gates}"
    )
    console.print(
        f"   [dim]$ accuguard validate --reference {data.reference} --current "
        f"{data.current} --target is_fraud --model models:/fraud@champion "
        f"--challenger-model models:/fraud@challenger --config {gates} "
        f"--output {out / 'report.json'} --html {out / 'report.html'} --mlflow[/]"
    )
    report = validate(
        data.reference,
        data.current,
        target="is_fraud",
        model="models:/fraud@champion",
        challenger_model="models:/fraud@challenger",
        config=gates,
    )
    report.write_json(out / "report.json")
    write_validation_html(report, out / "report.html")
    run_id = log_validation(
        report, out / "report.json", out / "report.html", "models:/fraud@challenger"
    )
    print_summary(report, out / "report.json", out / "report.html")
    drifted = [n for n, c in report.drift.columns.items() if c.drifted]
    console.print(f"drifted columns: {', '.join(drifted) or 'none'}")
    verdict = report.comparison.verdict.replace("_", " ") if report.comparison else "n/a"
    console.print(
        f"[bold]verdict:[/] challenger vs champion: {verdict}; validation "
        f"{'PASSED' if report.passed else 'FAILED'} (expected FAILED: the inputs drifted "
        "and the challenger is weaker)"
    )
    console.print(
        f"MLflow run {run_id}; fraud@challenger tagged accuguard.validation="
        f"{'passed' if report.passed else 'failed'}"
    )
    if not live:
        console.print(
            f"Next: open {out / 'report.html'} in a browser; the JSON is {out / 'report.json'}; "
            f"browse the registry with `.venv/bin/mlflow ui --backend-store-uri {tracking_uri}`."
        )
        return
    from accuguard.demo.rollout_demo import run_live_demo, where_next

    console.rule("[bold]accuguard demo: live rollouts, monitors and the audit trail")
    try:
        outcome = run_live_demo(out, console, quick=quick, tracking_uri=tracking_uri)
    except RuntimeError as exc:
        console.print(f"[red]live demo failed:[/] {exc}")
        raise typer.Exit(1) from None
    where_next(outcome, out, tracking_uri, console)
    if not (outcome.promotions == 1 and outcome.rollbacks == 1 and outcome.audit_ok):
        raise typer.Exit(1)
