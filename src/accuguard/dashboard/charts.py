"""Charts as inline SVG drawn on the server with matplotlib (already a dependency of the
HTML reports): no JavaScript, no CDN, the page works offline.

Every chart is an ``<svg role="img">`` with an ``aria-label`` and a ``<title>`` that say
what it shows; the pages also print the latest values as text next to it.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup, escape

from accuguard.report.plots import distribution_svg

#: Okabe-Ito colours (distinguishable with colour blindness), dark enough on white.
PALETTE = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000"]


def _accessible(svg: str, label: str) -> Markup:
    """Mark ``svg`` as an image with a text alternative (``role``, ``aria-label``, title)."""
    text = str(escape(label))
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{text}" ', 1)
    head_end = svg.index(">") + 1
    return Markup(svg[:head_end] + f"<title>{text}</title>" + svg[head_end:])  # noqa: S704


def _times(buckets: Sequence[float]) -> list[datetime]:
    return [datetime.fromtimestamp(b, UTC) for b in buckets]


def line_chart(
    title: str,
    series: Mapping[str, Sequence[tuple[float, float]]],
    *,
    ylabel: str,
    ylim: tuple[float, float] | None = None,
    hline: float | None = None,
) -> Markup:
    """Time series (x: bucket starts in unix seconds, UTC) per name as one SVG chart.

    Returns an empty ``Markup`` when no series has a point.
    """
    if not any(series.values()):
        return Markup("")
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.2, 2.6), dpi=96)
    try:
        for i, (name, points) in enumerate(series.items()):
            if not points:
                continue
            xs: Any = _times([p[0] for p in points])
            ys = [p[1] for p in points]
            colour = PALETTE[i % len(PALETTE)]
            ax.plot(xs, ys, marker="o", markersize=3, linewidth=1.5, label=name, color=colour)
        if hline is not None:
            ax.axhline(hline, color="#555555", linestyle="--", linewidth=1)
        if ylim is not None:
            ax.set_ylim(*ylim)
        ax.set_title(title, fontsize=9)
        ax.set_ylabel(ylabel, fontsize=8)
        locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]
        formatter = mdates.ConciseDateFormatter(locator)  # type: ignore[no-untyped-call]
        ax.xaxis.set_major_formatter(formatter)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, frameon=False)
        fig.tight_layout()
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
    finally:
        plt.close(fig)
    summary = "; ".join(f"{name}: {len(points)} points" for name, points in series.items())
    return _accessible(buf.getvalue(), f"{title} ({ylabel} over time; {summary})")


def distribution_chart(name: str, distribution: dict[str, Any]) -> Markup:
    """Reference vs current distribution of a feature (``accuguard.report.plots``)."""
    svg = distribution_svg(name, distribution) if distribution else ""
    if not svg:
        return Markup("")
    return _accessible(svg, f"Distribution of {name}: reference against the displayed range")
