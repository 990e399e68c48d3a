"""Self-contained HTML report: one file, inline CSS and SVG, opens offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from accuguard.report.plots import distribution_svg
from accuguard.report.validation import ValidationReport, write_atomic

MAX_PLOTS = 12


def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("accuguard.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _num
    return env


def render_validation_html(report: ValidationReport) -> str:
    """Render the report as one HTML page (gates first, then drift, performance, segments)."""
    drifted = [(n, c) for n, c in report.drift.columns.items() if c.drifted]
    drifted.sort(key=lambda item: -(item[1].effect or 0.0))
    plots = [(n, distribution_svg(n, c.distribution)) for n, c in drifted[:MAX_PLOTS]]
    return (
        _env()
        .get_template("validation.html.j2")
        .render(r=report, drifted=drifted, plots=plots, max_plots=MAX_PLOTS)
    )


def write_validation_html(report: ValidationReport, path: str | Path) -> None:
    """Write the HTML report atomically."""
    write_atomic(Path(path), render_validation_html(report))


def _num(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:
            return "–"
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e6):
            return f"{value:.3g}"
        return f"{value:.{digits}g}"
    return str(value)
