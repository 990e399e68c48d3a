"""Audit-log databases: SQLite in a temp dir and PostgreSQL in a fresh schema (both migrated)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from accuguard.store import make_engine, upgrade
from tests.store.conftest import postgres_schema


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> Iterator[str]:
    """The URL of a database migrated to the head revision, once per backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'audit.db'}"
        upgrade(url)
        yield url
    else:
        with postgres_schema() as schema:
            upgrade(schema.url)
            yield schema.url


@pytest.fixture
def engine(store_url) -> Iterator[Engine]:
    eng = make_engine(store_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_store(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    upgrade(url)
    return url
