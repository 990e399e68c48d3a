"""The experiment section of the HTML report: one self-contained page, inline CSS and SVG.

:func:`render_experiment_html` gives a whole page; :func:`render_experiment_section`
only the ``<section>`` (the template's ``section`` macro) for embedding in another
report. Each row has a small interval plot of the relative lift, drawn on one scale
for the whole table so that rows compare at a glance.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from accuguard.experiment.report import ExperimentReport
from accuguard.report.validation import write_atomic

_W, _H, _PAD = 200, 18, 6
_COLOURS = {
    "increase": "#1b7f3b",
    "decrease": "#b42318",
    "inferior": "#b42318",
    "non-inferior": "#1b7f3b",
}


def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("accuguard.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _num
    env.globals["inf"] = math.inf
    return env


def _num(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e6):
            return f"{value:.3g}"
        return f"{value:.4g}"
    return str(value)


def _finite(*values: float | None) -> list[float]:
    return [v for v in values if v is not None and math.isfinite(v)]


def interval_bars(report: ExperimentReport) -> dict[str, Markup]:
    """One inline SVG per ``"metric|variant"``: the lift interval against a zero line."""
    spans = [
        abs(v)
        for m in report.metrics
        for a in m.arms
        for v in _finite(a.rel_diff.lower, a.rel_diff.upper, a.rel_diff.estimate)
    ]
    scale = max(spans, default=0.0) or 1.0
    mid = _W / 2

    def x(v: float) -> float:
        return mid + (v / scale) * (mid - _PAD)

    out: dict[str, Markup] = {}
    for m in report.metrics:
        for a in m.arms:
            r = a.rel_diff
            verdict = a.guardrail.verdict if a.guardrail else a.decision
            colour = _COLOURS.get(verdict, "#667085")
            parts = [
                f'<line x1="{mid}" y1="1" x2="{mid}" y2="{_H - 1}" stroke="#98a2b3" '
                'stroke-dasharray="2,2"/>'
            ]
            if r.estimate is not None and math.isfinite(r.estimate):
                lo = x(r.lower) if r.lower is not None and math.isfinite(r.lower) else 0.0
                hi = x(r.upper) if r.upper is not None and math.isfinite(r.upper) else float(_W)
                parts.append(
                    f'<line x1="{lo:.1f}" y1="{_H / 2}" x2="{hi:.1f}" y2="{_H / 2}" '
                    f'stroke="{colour}" stroke-width="3"/>'
                )
                parts.append(
                    f'<circle cx="{x(r.estimate):.1f}" cy="{_H / 2}" r="3.5" fill="{colour}"/>'
                )
            label = f"lift interval of {m.name}, {a.variant}"
            out[f"{m.name}|{a.variant}"] = Markup(  # noqa: S704 - numbers and escaped names only
                f'<svg class="ci" width="{_W}" height="{_H}" viewBox="0 0 {_W} {_H}" '
                f'role="img" aria-label="{Markup.escape(label)}">{"".join(parts)}</svg>'
            )
    return out


def render_experiment_html(report: ExperimentReport) -> str:
    """The whole HTML page for an experiment report."""
    return _env().get_template("experiment.html.j2").render(r=report, bars=interval_bars(report))


def render_experiment_section(report: ExperimentReport) -> str:
    """Only the ``<section>`` of the experiment, to embed in another page."""
    bars = interval_bars(report)
    module = _env().get_template("experiment.html.j2").make_module({"r": report, "bars": bars})
    section = getattr(module, "section")  # noqa: B009 - a template macro, unknown to mypy
    return str(section(report, bars))


def write_experiment_html(report: ExperimentReport, path: str | Path) -> None:
    """Write the HTML page atomically."""
    write_atomic(Path(path), render_experiment_html(report))
