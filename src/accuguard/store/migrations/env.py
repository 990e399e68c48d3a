"""Alembic environment of the event log, configured from code (no alembic.ini).

:func:`accuguard.store.migrate.upgrade` passes an open connection in
``config.attributes["connection"]``; migrations run on it, inside its transaction.
Imported outside Alembic (e.g. by ``pytest --doctest-modules``) this module does nothing.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from accuguard.store.models import Base

target_metadata = Base.metadata


def _run_online(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    try:
        config = context.config
    except AttributeError:  # not running inside Alembic
        return
    connection = config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError(
            "the event-log migrations run through accuguard.store.migrate.upgrade(url), "
            "which passes a connection; the alembic command line is not configured"
        )
    _run_online(connection)


_main()
