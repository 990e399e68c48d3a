"""Connect to the event log: SQLite by default, PostgreSQL by URL.

``make_engine`` checks the URL first and raises :class:`~accuguard.errors.InputError`
naming it (password hidden) when it is malformed or names a database accuguard does
not support. Connections are checked before use (``pool_pre_ping``), so a connection
the server dropped is replaced instead of failing a write.

- SQLite (``sqlite:///path/to/file.db``, the default ``sqlite:///accuguard.db``):
  write-ahead log (readers never block the writer), ``busy_timeout`` 5 s (a second
  writer waits instead of failing at once), ``synchronous=FULL`` (a committed batch
  survives a power cut; batching keeps this to a few fsyncs per second).
- PostgreSQL (``postgresql+psycopg://user:password@host:5432/db``): psycopg 3; a
  plain ``postgresql://`` URL is read as psycopg 3 too. Connection attempts time out
  after 5 s (``connect_timeout``) so an unreachable server is noticed quickly, and the
  connections are named ``accuguard`` in ``pg_stat_activity`` unless the URL sets
  ``application_name``.

JSON columns are written with :func:`dumps_json`: NaN and infinities become ``null``
(PostgreSQL's ``json`` rejects them) and numpy scalars or arrays become numbers or
lists, so a row never fails to serialise.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError

from accuguard.errors import InputError

DEFAULT_URL = "sqlite:///accuguard.db"
_SQLITE_DRIVERS = {"sqlite", "sqlite+pysqlite"}
_POSTGRES_DRIVERS = {"postgresql", "postgresql+psycopg"}
_SUPPORTED = "sqlite:///path.db or postgresql+psycopg://user:password@host:port/database"


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


class EncodedJSON:
    """A JSON column value serialised once (:func:`dumps_json` returns ``text`` as is).

    The event writer stores the same features dict twice per mirrored request (the
    champion's row and the shadow's): one serialisation serves both. Elsewhere (the
    spool) it serialises as ``value``.
    """

    __slots__ = ("text", "value")

    def __init__(self, value: Any) -> None:
        self.value = value
        self.text = dumps_json(value)


def _default(value: Any) -> Any:
    if isinstance(value, EncodedJSON):
        return _finite(value.value)
    tolist = getattr(value, "tolist", None)  # numpy scalars and arrays
    if callable(tolist):
        return _finite(tolist())
    return str(value)


def dumps_json(value: Any) -> str:
    """Serialise a JSON column value; never raises.

    NaN and ±inf become ``null``; numpy values become plain numbers or lists; any other
    object falls back to ``str(value)``.

    >>> dumps_json({"x": float("nan"), "y": [1.5, float("inf")]})
    '{"x": null, "y": [1.5, null]}'
    """
    if type(value) is EncodedJSON:
        return value.text
    try:
        return _ENCODER.encode(value)
    except ValueError:  # a NaN or an infinity somewhere
        return _ENCODER.encode(_finite(value))


_ENCODER = json.JSONEncoder(allow_nan=False, default=_default)  # reused: no per-call setup


def describe_url(url: str | URL) -> str:
    """The URL as text with its password hidden, for messages and logs.

    >>> describe_url("postgresql+psycopg://app:secret@db:5432/events")
    'postgresql+psycopg://app:***@db:5432/events'
    """
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError:  # not a URL: still hide what looks like a password
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", str(url))
    return parsed.render_as_string(hide_password=True)


def parse_url(url: str | None = None, *, must_exist: bool = False) -> URL:
    """Check an event-log URL and normalise it (``postgresql://`` -> psycopg 3).

    ``must_exist`` makes a missing SQLite file an error instead of a new empty
    database (used by commands that only read or erase).

    >>> parse_url("postgresql://u@localhost/db").drivername
    'postgresql+psycopg'
    >>> parse_url("mysql://u@localhost/db")
    Traceback (most recent call last):
    ...
    accuguard.errors.InputError: event-log URL 'mysql://u@localhost/db' names the database \
'mysql', which accuguard does not support; expected sqlite:///path.db or \
postgresql+psycopg://user:password@host:port/database
    """
    text = DEFAULT_URL if url is None else url
    try:
        parsed = make_url(text)
    except ArgumentError as exc:
        raise InputError(
            f"event-log URL {describe_url(text)!r} is not a database URL; expected {_SUPPORTED}"
        ) from exc
    shown = parsed.render_as_string(hide_password=True)
    if parsed.drivername in _POSTGRES_DRIVERS:
        if not parsed.database:
            raise InputError(f"event-log URL {shown!r} names no database; expected {_SUPPORTED}")
        return parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername not in _SQLITE_DRIVERS:
        raise InputError(
            f"event-log URL {shown!r} names the database {parsed.drivername!r}, which "
            f"accuguard does not support; expected {_SUPPORTED}"
        )
    path = parsed.database or ""
    if path and path != ":memory:" and not path.startswith("file:"):
        file = Path(path)
        if not file.parent.is_dir():
            raise InputError(
                f"event-log URL {shown!r}: the directory {str(file.parent)!r} does not exist"
            )
        if must_exist and not file.is_file():
            raise InputError(f"event-log URL {shown!r}: no database file at {path!r}")
    return parsed


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA synchronous=FULL")
    finally:
        cursor.close()


def make_engine(url: str | None = None, *, must_exist: bool = False) -> Engine:
    """A SQLAlchemy engine for the event log at ``url`` (default ``sqlite:///accuguard.db``).

    Raises :class:`~accuguard.errors.InputError` for a malformed or unsupported URL, or
    a SQLite file in a missing directory (or, with ``must_exist``, a missing file). No
    connection is opened here: an unreachable server shows up on first use.

    >>> engine = make_engine("sqlite://")
    >>> engine.dialect.name
    'sqlite'
    """
    parsed = parse_url(url, must_exist=must_exist)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, pool_pre_ping=True, json_serializer=dumps_json)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    connect_args: dict[str, Any] = {"connect_timeout": 5}
    if "application_name" not in parsed.query:
        connect_args["application_name"] = "accuguard"
    return create_engine(
        parsed,
        pool_pre_ping=True,
        json_serializer=dumps_json,
        connect_args=connect_args,
    )
