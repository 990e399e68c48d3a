"""``accuguard experiment``: plan an A/B test's size, and analyse its results.

Exit codes: 0 done; 1 (``analyze``) the split failed the SRM check or a guardrail
is inferior; 2 bad input (a one-line message on stderr, never a traceback).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from accuguard.errors import InputError

app = typer.Typer(
    help="A/B tests between model versions: plan the sample size, analyse the results "
    "(SRM, lifts with intervals, sequential testing, CUPED, guardrails).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# a pipe or a file gets full lines rather than 80 columns of wrapped cells
out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False, soft_wrap=True)
Opt = typer.Option

_CORRECTIONS = ("none", "holm", "bh")


@app.command("plan")
def plan_command(
    baseline: Annotated[float, Opt(help="Control conversion rate (0-1), or mean with --std.")],
    mde: Annotated[
        float, Opt(help="Minimum detectable effect (absolute, or relative with --relative).")
    ],
    relative: Annotated[
        bool, Opt("--relative/--absolute", help="MDE as a fraction of the baseline.")
    ] = False,
    std: Annotated[
        float | None, Opt(help="Standard deviation of a continuous metric (then a t-test).")
    ] = None,
    alpha: Annotated[float, Opt(help="Significance level (false-positive rate).")] = 0.05,
    power: Annotated[float, Opt(help="Probability of detecting the MDE.")] = 0.8,
    ratio: Annotated[float, Opt(help="Units per treatment arm / units in control.")] = 1.0,
    arms: Annotated[int, Opt(help="Number of arms including the control.")] = 2,
    one_sided: Annotated[
        bool, Opt("--one-sided", help="One-sided test in the MDE's direction.")
    ] = False,
    daily_units: Annotated[
        float | None, Opt(help="New units entering the experiment per day.")
    ] = None,
    as_json: Annotated[bool, Opt("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Sample size per arm (and duration) to detect an effect with the given power."""
    from accuguard.stats.ab import duration_days, sample_size_means, sample_size_proportions

    if arms < 2:
        raise InputError(f"--arms must be at least 2 (control and one treatment), got {arms}")
    alternative = ("greater" if mde > 0 else "less") if one_sided else "two-sided"
    try:
        if std is None:
            n = sample_size_proportions(
                baseline,
                mde,
                relative=relative,
                alpha=alpha,
                power=power,
                ratio=ratio,
                alternative=alternative,
            )
            treated = baseline * (1 + mde) if relative else baseline + mde
            method = (
                "two-sample z-test on Cohen's h = 2·asin(√p1) − 2·asin(√p0) "
                "(statsmodels NormalIndPower)"
            )
        else:
            if isinstance(baseline, float) and not math.isfinite(baseline):
                raise ValueError(f"baseline must be finite, got {baseline!r}")
            delta = baseline * mde if relative else mde
            n = sample_size_means(
                delta, std, alpha=alpha, power=power, ratio=ratio, alternative=alternative
            )
            treated = baseline + delta
            method = "two-sample t-test on d = mde / std (statsmodels TTestIndPower)"
        days = None
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    n_control = math.ceil(n - 1e-9)
    n_treatment = math.ceil(n * ratio - 1e-9)
    total = n_control + (arms - 1) * n_treatment
    if daily_units is not None:
        try:
            days = duration_days(total, daily_units)
        except ValueError as exc:
            raise InputError(f"--daily-units: {exc}") from exc
    result: dict[str, Any] = {
        "metric": "proportion" if std is None else "mean",
        "baseline": baseline,
        "treatment": treated,
        "mde": mde,
        "relative": relative,
        "alpha": alpha,
        "power": power,
        "alternative": alternative,
        "ratio": ratio,
        "arms": arms,
        "units_control": n_control,
        "units_per_treatment": n_treatment,
        "units_total": total,
        "days": days,
        "method": method,
    }
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_row("baseline → treatment", f"{baseline:.6g} → {treated:.6g}")
    table.add_row("units in control", f"{n_control:,}")
    table.add_row("units per treatment arm", f"{n_treatment:,}")
    table.add_row("units in total", f"{total:,} ({arms} arms)")
    if days is not None:
        table.add_row("duration", f"{days} days at {daily_units:,.0f} units/day")
    table.add_row("test", f"{alternative}, alpha {alpha}, power {power}")
    table.add_row("method", method)
    out.print(table)
    if arms > 2:
        out.print(
            "[dim]Each treatment is compared with the control at this alpha; with a "
            "multiple-testing correction, plan with alpha / (arms - 1).[/]"
        )


@app.command("analyze")
def analyze_command(
    events: Annotated[
        Path,
        Opt("--events", "-e", help="Events (.parquet or .csv): one row per event or per unit."),
    ],
    unit: Annotated[str, Opt(help="Column with the randomisation unit (e.g. user_id).")],
    variant: Annotated[str, Opt(help="Column with the variant name.")],
    metric: Annotated[
        list[str] | None,
        Opt("--metric", "-m", help="COLUMN[:proportion|mean] or NUM/DEN (ratio). Repeatable."),
    ] = None,
    guardrail: Annotated[
        list[str] | None,
        Opt(
            "--guardrail",
            "-g",
            help="METRIC<=+5% or METRIC>=-0.01: must not get worse by more. Repeatable.",
        ),
    ] = None,
    control: Annotated[
        str | None,
        Opt(help="Control variant (default: 'control' if present, else the first name)."),
    ] = None,
    weights: Annotated[
        str | None, Opt(help="Configured split, e.g. control=50,treatment=50 (default equal).")
    ] = None,
    alpha: Annotated[float, Opt(help="Significance level.")] = 0.05,
    sequential: Annotated[
        bool,
        Opt(
            "--sequential/--fixed-horizon",
            help="Always-valid p-values and intervals (safe to check any time).",
        ),
    ] = False,
    tuning: Annotated[
        float, Opt(help="Sequential: total units where the intervals are tightest.")
    ] = 5000.0,
    correction: Annotated[str, Opt(help="Multiple-testing correction: holm, bh or none.")] = "holm",
    winsorize: Annotated[
        str | None, Opt(help="Cap metrics at a pooled quantile, e.g. revenue=0.99.")
    ] = None,
    cap: Annotated[str | None, Opt(help="Cap metrics at a value, e.g. revenue=500.")] = None,
    cuped: Annotated[str | None, Opt(help="CUPED covariates, e.g. revenue=revenue_pre.")] = None,
    pre: Annotated[
        Path | None, Opt(help="File with pre-period covariates per unit (else from --events).")
    ] = None,
    srm_threshold: Annotated[
        float, Opt(help="Flag a sample ratio mismatch below this p-value.")
    ] = 0.001,
    bayes: Annotated[bool, Opt("--bayes", help="Add P(beats control) and expected loss.")] = False,
    output: Annotated[
        Path | None, Opt("--output", "-o", help="Write the JSON report here.")
    ] = None,
    html: Annotated[Path | None, Opt("--html", help="Write the HTML report here.")] = None,
    as_json: Annotated[
        bool, Opt("--json", help="Print the JSON report instead of a table.")
    ] = False,
) -> None:
    """Lifts with intervals, p-values and decisions per metric and arm, after an SRM check."""
    from accuguard.experiment.analysis import analyze_events
    from accuguard.experiment.evaluate import Options
    from accuguard.experiment.specs import parse_guardrail, parse_numbers, parse_pairs

    if correction not in _CORRECTIONS:
        raise InputError(f"--correction must be one of {_CORRECTIONS}, got {correction!r}")
    for name, value in (("--alpha", alpha), ("--srm-threshold", srm_threshold)):
        if not 0 < value < 1:
            raise InputError(f"{name} must be strictly between 0 and 1, got {value!r}")
    if not (math.isfinite(tuning) and tuning > 0):
        raise InputError(f"--tuning must be a positive number of units, got {tuning!r}")
    wts = parse_numbers(weights, "--weights", low=0.0) or None
    report = analyze_events(
        events,
        unit=unit,
        variant=variant,
        metrics=metric or [],
        control=control,
        weights=wts,
        guardrails=[parse_guardrail(g) for g in guardrail or []],
        winsorize=parse_numbers(winsorize, "--winsorize", low=0.5, high=1.0, high_open=True),
        cap=parse_numbers(cap, "--cap"),
        cuped=parse_pairs(cuped, "--cuped"),
        pre=pre,
        options=Options(
            alpha=alpha,
            sequential=sequential,
            tuning=tuning,
            correction=correction,
            srm_threshold=srm_threshold,
            bayesian=bayes,
        ),
    )
    if output is not None:
        report.write_json(output)
    if html is not None:
        from accuguard.experiment.html import write_experiment_html

        write_experiment_html(report, html)
    if as_json:
        typer.echo(report.to_json())
    else:
        from accuguard.experiment.report import print_report

        print_report(report, out)
        for path, what in ((output, "JSON"), (html, "HTML")):
            if path is not None:
                err.print(f"{what} report: {path}")
    inferior = any(
        a.guardrail is not None and a.guardrail.verdict == "inferior"
        for m in report.metrics
        for a in m.arms
    )
    raise typer.Exit(1 if inferior or not report.trustworthy else 0)
