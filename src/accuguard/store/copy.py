"""PostgreSQL bulk insert: ``COPY`` a batch into a staging table, then insert what is new.

``COPY ... FROM STDIN`` is PostgreSQL's fast path for many rows, but it has no
``ON CONFLICT``: a duplicate key would fail the whole batch. So a batch is copied into a
per-session **staging table** (a temporary table shaped like the target, plus a ``seq``
column giving each row's place in the batch), then moved in one statement::

    WITH moved AS (DELETE FROM pg_temp.stage RETURNING *)
    INSERT INTO predictions (...) SELECT ... FROM moved ORDER BY seq
    ON CONFLICT DO NOTHING

which keeps the event log's idempotency exactly: rows are inserted in batch order, so
of two rows with the same key **the first one wins**, within a batch as across batches,
and a replayed batch adds nothing. The staging table is created once per database
session (``CREATE TEMPORARY TABLE IF NOT EXISTS``, ``ON COMMIT DELETE ROWS``) and left
empty after every batch; its name carries a hash of the column list, so a session that
outlives a schema change never copies into a stale shape.

Errors surface like any SQLAlchemy statement's: a psycopg error during the ``COPY`` is
re-raised as the matching :class:`sqlalchemy.exc.DBAPIError` subclass (a dropped
connection as ``OperationalError``, the connection invalidated), so the event writer's
spool-or-reject logic treats both insert paths alike.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import JSON, Table
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from accuguard.store.engine import dumps_json

STAGE_PREFIX = "accuguard_stage_"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def stage_name(table: Table) -> str:
    """The staging table of ``table``: prefix, table name, hash of the column names."""
    digest = hashlib.sha256(",".join(c.name for c in table.columns).encode()).hexdigest()[:8]
    return f"{STAGE_PREFIX}{table.name}_{digest}"


def _json_or_null(value: Any) -> str | None:
    return None if value is None else dumps_json(value)


def _encoder(column_type: Any) -> Callable[[Any], str | None] | None:
    if not isinstance(column_type, JSON):
        return None
    return _json_or_null if column_type.none_as_null else dumps_json


def copy_insert(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert ``rows`` into ``table`` through ``COPY`` + ``INSERT ... ON CONFLICT DO NOTHING``.

    Runs inside the caller's transaction on a PostgreSQL (psycopg 3) connection; returns
    the number of rows actually inserted (keys already stored, or repeated earlier in the
    batch, are skipped). A row missing a column inserts ``NULL`` there; JSON columns are
    serialised with :func:`~accuguard.store.engine.dumps_json` (NaN and infinities become
    ``null``).
    """
    if not rows:
        return 0
    columns = [c.name for c in table.columns]
    # JSON columns: Python None is the JSON text 'null' (as SQLAlchemy writes it), unless
    # the column stores None as SQL NULL (``none_as_null``)
    encode = [_encoder(c.type) for c in table.columns]
    stage = stage_name(table)
    names = ", ".join(_quote(c) for c in columns)
    target = _quote(table.name)
    if table.schema is not None:
        target = f"{_quote(table.schema)}.{target}"
    connection.exec_driver_sql(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {_quote(stage)} "
        f"(LIKE {target}, seq bigint NOT NULL) ON COMMIT DELETE ROWS"
    )
    statement = f"COPY pg_temp.{_quote(stage)} ({names}, seq) FROM STDIN"
    dbapi = connection.connection.dbapi_connection
    if dbapi is None:  # pragma: no cover - a checked-out connection always has one
        raise RuntimeError("no DBAPI connection behind the SQLAlchemy connection")
    try:
        psycopg_connection: Any = dbapi  # psycopg 3 (the only PostgreSQL driver accepted)
        with psycopg_connection.cursor() as cursor, cursor.copy(statement) as copy:
            for seq, row in enumerate(rows):
                values = [
                    row.get(name) if enc is None else enc(row.get(name))
                    for name, enc in zip(columns, encode, strict=True)
                ]
                values.append(seq)
                copy.write_row(values)
    except Exception as exc:
        _reraise(connection, statement, exc)
    # names are quoted identifiers from the models, never input
    move = (
        f"WITH moved AS (DELETE FROM pg_temp.{_quote(stage)} RETURNING *) "  # noqa: S608
        f"INSERT INTO {target} ({names}) SELECT {names} FROM moved ORDER BY seq "
        "ON CONFLICT DO NOTHING"
    )
    result = connection.exec_driver_sql(move)
    return int(result.rowcount)


def _reraise(connection: Connection, statement: str, exc: Exception) -> None:
    """Raise ``exc`` (from psycopg) as SQLAlchemy would have wrapped it."""
    dialect = connection.dialect
    dbapi_module = dialect.loaded_dbapi
    if not isinstance(exc, dbapi_module.Error):
        raise exc
    dbapi = connection.connection.dbapi_connection
    disconnect = bool(dialect.is_disconnect(exc, dbapi, None))
    if disconnect:
        connection.invalidate(exc)
    raise DBAPIError.instance(
        statement,
        None,
        exc,
        dbapi_module.Error,
        connection_invalidated=disconnect,
        dialect=dialect,
    ) from exc
