"""Seeded event logs on SQLite and, when configured, PostgreSQL (its own schema)."""

from __future__ import annotations

import pytest

from accuguard.store import make_engine, upgrade
from tests.dashboard.seed import Seeded, load, make_rows
from tests.store.conftest import postgres_schema

ROWS = make_rows()


@pytest.fixture(scope="module")
def rows() -> Seeded:
    return ROWS


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def engine(request, tmp_path_factory):
    """The seeded store on each database (PostgreSQL skips with a message when unset)."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("dashboard-sqlite") / "events.db"
        eng = make_engine(f"sqlite:///{path}")
        upgrade(eng)
        load(eng, ROWS)
        yield eng
        eng.dispose()
        return
    with postgres_schema() as pg:
        eng = make_engine(pg.url)
        upgrade(eng)
        load(eng, ROWS)
        yield eng
        eng.dispose()
