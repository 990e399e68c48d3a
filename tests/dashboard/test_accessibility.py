"""Accessibility basics that need no browser: the stylesheet's text/background colour
pairs have a WCAG 2 contrast ratio of at least 4.5:1 (AA for body text)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS = Path(__file__).resolve().parents[2] / "src/accuguard/dashboard/static/dashboard.css"


def _luminance(hex_colour: str) -> float:
    rgb = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two ``#rrggbb`` colours."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_contrast_helper_matches_the_wcag_reference_values():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


def test_stylesheet_text_colours_contrast_at_least_4_5_to_1():
    colours = dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6});", CSS.read_text()))
    pairs = [
        (fg, bg) for fg in ("text", "muted", "link", "ok", "bad", "warn") for bg in ("bg", "panel")
    ] + [("nav-text", "nav-bg"), ("nav-text", "bad"), ("nav-bg", "bg")]
    low = {p: round(contrast(colours[p[0]], colours[p[1]]), 2) for p in pairs}
    assert all(v >= 4.5 for v in low.values()), low
    # message boxes use literal backgrounds
    assert contrast(colours["bad"], "#fdecec") >= 4.5
    assert contrast(colours["ok"], "#e9f6ee") >= 4.5
