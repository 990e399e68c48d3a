"""Create or upgrade the event-log schema with the Alembic migrations shipped in the package.

No ``alembic.ini`` is needed: the configuration is built here, and the migrations in
``accuguard/store/migrations/versions`` run on a connection this module opens.
``upgrade`` is idempotent (a schema at the head revision is left alone) and, on
PostgreSQL, serialised by an advisory lock, so two gateways starting together do not
both create the tables.
"""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from accuguard.store.engine import make_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_PG_LOCK_KEY = 0x616367756172  # "acguar": any constant shared by every accuguard process
# Alembic's command API keeps per-call state in module globals (``alembic.context``):
# two threads migrating at once (a gateway and a monitor in one process) would clash.
_ALEMBIC_LOCK = threading.Lock()


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def _engine(url_or_engine: str | Engine | None) -> tuple[Engine, bool]:
    if isinstance(url_or_engine, Engine):
        return url_or_engine, False
    return make_engine(url_or_engine), True


def head_revision() -> str:
    """The newest revision shipped with this version of accuguard.

    >>> head_revision() != "0001"  # 0001 is the first; later revisions follow it
    True
    """
    script = ScriptDirectory(str(MIGRATIONS))
    head = script.get_current_head()
    if head is None:  # pragma: no cover - the package always ships a revision
        raise RuntimeError(f"no migrations found in {MIGRATIONS}")
    return head


def upgrade(url_or_engine: str | Engine | None = None, revision: str = "head") -> None:
    """Bring the event-log schema at ``url_or_engine`` to ``revision`` (default: newest).

    Creates the tables on an empty database. Raises :class:`~accuguard.errors.InputError`
    for a bad URL and SQLAlchemy's ``OperationalError`` when the database is unreachable.

    >>> engine = make_engine("sqlite://")  # in memory
    >>> upgrade(engine)
    >>> current_revision(engine) == head_revision()
    True
    """
    engine, owned = _engine(url_or_engine)
    try:
        with _ALEMBIC_LOCK, engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
            command.upgrade(_config(connection), revision)
    finally:
        if owned:
            engine.dispose()


def current_revision(url_or_engine: str | Engine | None = None) -> str | None:
    """The schema revision of the event log at ``url_or_engine``; None when it has none."""
    engine, owned = _engine(url_or_engine)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        if owned:
            engine.dispose()
