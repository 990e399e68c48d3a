"""docs/dashboard.md stays true to the code: its page table lists exactly the routes."""

from __future__ import annotations

import pathlib
import re
from types import SimpleNamespace

from starlette.routing import Route

from accuguard.dashboard import dashboard_routes
from accuguard.dashboard.drift import MIN_ROWS
from accuguard.dashboard.pages import RANGES

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "dashboard.md"


def test_the_page_table_lists_every_dashboard_page():
    documented = set(re.findall(r"^\| `(/ui[^`]*)` \|", DOC.read_text(), re.M))
    routes = dashboard_routes(SimpleNamespace())
    served = {r.path for r in routes if isinstance(r, Route) and not r.path.endswith("/")}
    assert documented == served


def test_the_documented_ranges_and_minimums_are_the_code_s():
    text = DOC.read_text()
    assert all(f"`{name}`" in text for name in RANGES)
    assert f"fewer than {MIN_ROWS} rows" in text
