"""Real databases for the store tests: SQLite in a temp dir, PostgreSQL in its own schema.

PostgreSQL tests need ``ACCUGUARD_TEST_POSTGRES_URL`` (CI sets it); each test gets a
fresh schema (``search_path`` in the URL) dropped afterwards, so parallel workers never
share tables, and a unique ``application_name`` so a test can find (and kill) exactly
its writer's connections in ``pg_stat_activity``.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from accuguard.store import (
    BusinessEventRecord,
    FeedbackRecord,
    PredictionRecord,
    make_engine,
)

PG_ENV = "ACCUGUARD_TEST_POSTGRES_URL"
HOW_TO_RUN_PG = (
    "PostgreSQL tests skipped: "
    "export ACCUGUARD_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@dataclass
class PgSchema:
    url: str  # the URL a writer uses (search_path = schema, application_name = app)
    schema: str
    app: str
    admin: Engine  # a separate engine on the same database, for checks and faults

    def terminate_app_connections(self) -> int:
        """Kill every connection of this test's application; return how many."""
        with self.admin.begin() as conn:
            return len(
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name = :app AND pid <> pg_backend_pid()"
                    ),
                    {"app": self.app},
                ).all()
            )


@contextmanager
def postgres_schema() -> Iterator[PgSchema]:
    """A unique schema on the test server (skips the test when no server is configured)."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(HOW_TO_RUN_PG)
    admin = make_engine(base)
    schema = f"ag_test_{uuid.uuid4().hex[:12]}"
    app = f"accuguard-test-{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = admin.url.update_query_dict(
        {"options": f"-csearch_path={schema}", "application_name": app}
    ).render_as_string(hide_password=False)
    try:
        yield PgSchema(url=url, schema=schema, app=app, admin=admin)
    finally:
        with admin.begin() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = :app"
                ),
                {"app": app},
            )
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def pg() -> Iterator[PgSchema]:
    with postgres_schema() as schema:
        yield schema


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'events.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> Iterator[str]:
    """The URL of an empty database, once per backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'events.db'}"
    else:
        with postgres_schema() as schema:
            yield schema.url


def closed_port_url() -> str:
    """A PostgreSQL URL on a loopback port where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/test"


def prediction(i: int, *, unit: str | None = None, variant: str = "champion") -> PredictionRecord:
    return PredictionRecord(
        request_id=f"req-{i}",
        deployment="fraud",
        variant=variant,
        mode="champion" if variant == "champion" else "shadow",
        model_version="3",
        unit_hash=unit or f"unit-{i % 7}",
        features={"amount": float(i), "country": "FR", "missing": None},
        output=i % 2,
        score=(i % 100) / 100,
        latency_ms=1.5,
        created_at=1_700_000_000.0 + i,
    )


def feedback(i: int, label: object = 1) -> FeedbackRecord:
    return FeedbackRecord(request_id=f"req-{i}", label=label, created_at=1_700_000_100.0 + i)


def business_event(i: int, *, unit: str | None = None) -> BusinessEventRecord:
    return BusinessEventRecord(
        event_id=f"ev-{i}",
        deployment="fraud",
        unit_hash=unit or f"unit-{i % 7}",
        name="conversion",
        value=1.0,
        created_at=1_700_000_200.0 + i,
    )


def wait_for(condition, timeout: float = 10.0) -> bool:
    """Poll ``condition`` until it is true or ``timeout`` runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def stored_request_ids(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return [r[0] for r in conn.execute(text("SELECT request_id FROM predictions"))]
    finally:
        engine.dispose()
