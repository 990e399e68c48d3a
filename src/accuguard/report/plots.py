"""Small inline SVG charts (matplotlib, Agg backend): no JavaScript, no CDN, works offline."""

from __future__ import annotations

import io
import re
from typing import Any

REF_COLOR = "#4c72b0"
CUR_COLOR = "#dd8452"


def distribution_svg(name: str, distribution: dict[str, Any]) -> str:
    """Reference vs current distribution of one column as an SVG string ('' if no data)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 2.4), dpi=96)
    try:
        if "categories" in distribution:
            cats = [str(c) for c in distribution["categories"]]
            if not cats:
                return ""
            ref, cur = _shares(distribution["reference"]), _shares(distribution["current"])
            xs = range(len(cats))
            ax.bar([x - 0.2 for x in xs], ref, width=0.4, label="reference", color=REF_COLOR)
            ax.bar([x + 0.2 for x in xs], cur, width=0.4, label="current", color=CUR_COLOR)
            ax.set_xticks(list(xs), cats, rotation=30, ha="right", fontsize=7)
        else:
            edges = distribution.get("edges") or []
            if len(edges) < 2:
                return ""
            ref, cur = _shares(distribution["reference"]), _shares(distribution["current"])
            ax.stairs(ref, edges, label="reference", color=REF_COLOR, fill=True, alpha=0.45)
            ax.stairs(cur, edges, label="current", color=CUR_COLOR, linewidth=1.6)
        ax.set_title(name, fontsize=9)
        ax.set_ylabel("share", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7, frameon=False)
        fig.tight_layout()
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
        text = buf.getvalue()
        text = re.sub(r"<metadata>.*?</metadata>", "", text[text.index("<svg") :], flags=re.S)
        return text
    finally:
        plt.close(fig)


def _shares(counts: list[int]) -> list[float]:
    total = sum(counts) or 1
    return [c / total for c in counts]
