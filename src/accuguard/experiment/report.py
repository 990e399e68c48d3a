"""The experiment report: a pydantic model with a checked-in JSON Schema, and a terminal table.

``docs/schema/experiment-report.v1.json`` is generated from :class:`ExperimentReport`
(:func:`json_schema_text`); a test keeps the two equal and validates real output
against it. Adding an optional field is a minor change; renaming or removing one
bumps ``schema_version``. Numbers that cannot be computed are written as ``null``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from accuguard.report.validation import write_atomic

SCHEMA_VERSION = "accuguard.experiment/v1"

Decision = Literal[
    "increase", "decrease", "no_significant_difference", "untrusted_srm", "undefined"
]


def num(value: float | npt.NDArray[np.float64] | None) -> float | None:
    """``value`` (a float or a 0-d array) as a float; ``None`` for ``nan`` (JSON ``null``)."""
    if value is None:
        return None
    v = float(value)
    return None if math.isnan(v) else v


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Interval(_Model):
    """An estimate with its confidence interval (one-sided intervals have a null end)."""

    estimate: float | None
    lower: float | None
    upper: float | None


class Guardrail(_Model):
    """Non-inferiority check of a guardrail metric for one treatment arm."""

    margin: float = Field(description="largest allowed worsening (a fraction if relative)")
    relative: bool
    direction: Literal["higher_is_better", "lower_is_better"]
    bound: float | None = Field(description="interval end on the worse side")
    p_value: float | None = Field(description="p-value of H0: worse by at least the margin")
    verdict: Literal["non-inferior", "inferior", "inconclusive"]
    passed: bool


class Bayesian(_Model):
    """Flat-prior normal posterior of the absolute difference.

    "Better" means higher, except for a guardrail whose lower values are better.
    Losses are in the metric's units.
    """

    prob_beat_control: float | None = Field(description="P(treatment better than control)")
    expected_loss_treatment: float | None = Field(description="loss if the treatment ships")
    expected_loss_control: float | None = Field(description="loss if the control is kept")


class ArmResult(_Model):
    """One treatment arm against the control, for one metric."""

    variant: str
    units: int
    mean: float | None = Field(description="treatment mean (ratio for ratio metrics)")
    diff: Interval = Field(description="treatment minus control")
    rel_diff: Interval = Field(description="relative lift, diff / control mean")
    statistic: float | None
    dof: float | None = Field(description="degrees of freedom; null for a normal reference")
    p_value: float | None
    adjusted_p_value: float | None = Field(description="after the multiple-testing correction")
    decision: Decision
    bayesian: Bayesian | None = None
    guardrail: Guardrail | None = None


class MetricResult(_Model):
    """All treatment arms for one metric."""

    name: str
    role: Literal["primary", "guardrail"]
    kind: Literal["proportion", "mean", "ratio"]
    method: str = Field(description="z-test, welch, delta-ratio or cuped")
    column: str
    denominator: str | None = None
    covariate: str | None = None
    cuped_theta: float | None = None
    winsorize_quantile: float | None = None
    cap: float | None = Field(None, description="upper cap applied to per-unit values")
    control_units: int
    control_mean: float | None
    arms: list[ArmResult]


class Variant(_Model):
    name: str
    units: int
    expected_share: float
    observed_share: float | None
    is_control: bool


class Srm(_Model):
    """Chi-square test of unit counts against the configured split."""

    statistic: float | None
    dof: int
    p_value: float | None
    threshold: float
    flagged: bool


class Inputs(_Model):
    events: str
    rows: int
    unit: str
    variant: str
    control: str
    pre: str | None = None
    units: int
    units_in_several_variants: int = Field(description="left out of the analysis")
    rows_without_unit_or_variant: int = Field(description="left out of the analysis")


class Settings(_Model):
    alpha: float
    sequential: bool
    tuning: float | None = Field(description="mixture tuning (total units) when sequential")
    correction: Literal["none", "holm", "bh"]
    srm_threshold: float
    bayesian: bool


class ExperimentReport(_Model):
    """Top level of the JSON report."""

    schema_version: Literal["accuguard.experiment/v1"] = "accuguard.experiment/v1"
    accuguard_version: str
    created_at: str
    trustworthy: bool = Field(description="false when the SRM check flagged the experiment")
    guardrails_passed: bool | None = Field(description="null when there are no guardrails")
    inputs: Inputs
    settings: Settings
    variants: list[Variant]
    srm: Srm
    metrics: list[MetricResult]
    warnings: list[str] = Field(default_factory=list)

    def to_json(self) -> str:
        """Serialise (NaN already written as null)."""
        return self.model_dump_json(indent=2)

    def write_json(self, path: str | Path) -> None:
        """Write atomically: a partial report is never left behind."""
        write_atomic(Path(path), self.to_json())


def json_schema() -> dict[str, Any]:
    """The JSON Schema of :class:`ExperimentReport`."""
    schema = ExperimentReport.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://accuguard.dev/schema/experiment-report.v1.json"
    return schema


def json_schema_text() -> str:
    """The schema as the text checked into ``docs/schema/experiment-report.v1.json``."""
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


def _f(value: float | None, pct: bool = False) -> str:
    if value is None:
        return "–"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if pct:
        return f"{value * 100:+.2f}%"
    return f"{value:.4g}"


def _p(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.2e}" if value < 1e-4 else f"{value:.4f}"


_STYLE = {
    "increase": "bold green",
    "decrease": "bold red",
    "untrusted_srm": "bold red",
    "no_significant_difference": "",
    "undefined": "dim",
}


_LABEL = {
    "increase": "increase",
    "decrease": "decrease",
    "untrusted_srm": "untrusted (SRM)",
    "no_significant_difference": "not significant",
    "undefined": "undefined",
}


def print_report(report: ExperimentReport, console: Console) -> None:
    """SRM line, then one table row per metric and treatment arm (guardrails last)."""
    srm = report.srm
    head = "[bold red]SAMPLE RATIO MISMATCH[/]" if srm.flagged else "[green]split OK[/]"
    split = ", ".join(f"{v.name} {v.units:,}" for v in report.variants)
    console.print(
        f"units: {split} · {head} (SRM p = {_p(srm.p_value)}, flag below {srm.threshold})"
    )
    if srm.flagged:
        console.print(
            "[red]The split differs from the configured weights: do not trust the "
            "lifts below until the cause is found.[/]"
        )
    s = report.settings
    kind = "always-valid (sequential)" if s.sequential else "fixed-horizon"
    console.print(
        f"{kind} {1 - s.alpha:.0%} intervals; multiple-testing correction: {s.correction}"
    )
    table = Table(
        "metric",
        "variant",
        "control",
        "treatment",
        escape("lift [interval]"),
        "p",
        box=None,
        pad_edge=False,
    )
    if s.correction != "none":
        table.add_column("p adj")
    table.add_column("decision")
    if s.bayesian:
        table.add_column("P(better)")
    for m in report.metrics:
        for a in m.arms:
            r = a.rel_diff
            row = [
                m.name if m.role == "primary" else f"{m.name} (guardrail)",
                a.variant,
                _f(m.control_mean),
                _f(a.mean),
                escape(f"{_f(r.estimate, True)} [{_f(r.lower, True)}, {_f(r.upper, True)}]"),
                _p(a.p_value if a.guardrail is None else a.guardrail.p_value),
            ]
            if s.correction != "none":
                row.append(_p(a.adjusted_p_value))
            if a.guardrail is not None:
                g = a.guardrail
                style = (
                    "green" if g.passed else ("bold red" if g.verdict == "inferior" else "yellow")
                )
                dec = f"[{style}]{g.verdict}[/]"
            else:
                style = _STYLE[a.decision]
                dec = f"[{style}]{_LABEL[a.decision]}[/]" if style else _LABEL[a.decision]
            row.append(dec)
            if s.bayesian:
                row.append(_f(a.bayesian.prob_beat_control) if a.bayesian else "–")
            table.add_row(*row)
    console.print(table)
    for w in report.warnings:
        console.print(f"[yellow]warning:[/] {w}")
