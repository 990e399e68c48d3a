"""The audit log: hash-chained, append-only entries in the ``audit_log`` table.

Appends are serialised across processes so the chain stays linear with several
writers (gateways, the controller, the CLI): on PostgreSQL by a transaction-scoped
advisory lock (``pg_advisory_xact_lock``, one per schema), on SQLite by
``BEGIN IMMEDIATE`` (the database's write lock, waited for up to the engine's
``busy_timeout``). Inside the lock the head entry is read, the new entry gets
``seq = head.seq + 1`` and ``prev_hash = head.hash``, and both are committed
together; the primary key on ``seq`` would reject a second entry with the same
number anyway.

:meth:`AuditLog.verify` walks the chain in ``seq`` order and reports the first entry
that was edited, removed or reordered (docs/audit.md). Removing entries at the *end*
leaves a valid, shorter chain: only an anchor kept elsewhere (a head hash recorded
earlier, ``expect_head``) reveals it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any, Literal

from sqlalchemy import Table, insert, select, text
from sqlalchemy.engine import Connection, Engine, RowMapping

from accuguard.audit.chain import BODY_FIELDS, GENESIS_HASH, entry_hash, normalise
from accuguard.errors import InputError
from accuguard.store.models import AuditEntry as AuditRow

_PG_LOCK_CLASS = 0x61756474  # "audt"; the second key is hashtext(current_schema())
_TABLE: Table = AuditRow.__table__  # type: ignore[assignment]
_BATCH = 1000

Problem = Literal["edited", "removed", "reordered", "anchor"]


@dataclass(frozen=True)
class AuditEntry:
    """One audit entry as written; ``hash`` covers every other field (see ``chain``)."""

    seq: int
    at: float
    actor: str
    action: str
    deployment: str | None
    decision: str | None
    reason: str
    config_hash: str | None
    window: dict[str, Any] | None
    model_versions: dict[str, Any] | None
    evidence: dict[str, Any] | None
    prev_hash: str
    hash: str

    def body(self) -> dict[str, Any]:
        """The fields the hash covers (all but ``hash``)."""
        return {name: getattr(self, name) for name in BODY_FIELDS}

    def expected_hash(self) -> str:
        """The hash recomputed from the entry's fields."""
        return entry_hash(self.prev_hash, self.body())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict of every field."""
        return asdict(self)


@dataclass(frozen=True)
class VerifyReport:
    """The result of :meth:`AuditLog.verify`.

    ``ok`` is true when every entry checked is intact. Otherwise ``first_bad_seq`` is
    the ``seq`` of the first entry found wrong (None when only the anchor is
    missing), ``kind`` says how (``edited``, ``removed``, ``reordered``, ``anchor``)
    and ``problem`` explains it in a sentence. ``head_seq``/``head_hash`` describe the
    last entry read: record ``head_hash`` elsewhere to detect a truncated tail later.
    """

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    kind: Problem | None = None
    problem: str | None = None
    head_seq: int | None = None
    head_hash: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict of every field."""
        return asdict(self)


def _entry(row: RowMapping) -> AuditEntry:
    return AuditEntry(
        seq=row["seq"],
        at=row["at"],
        actor=row["actor"],
        action=row["action"],
        deployment=row["deployment"],
        decision=row["decision"],
        reason=row["reason"],
        config_hash=row["config_hash"],
        window=row["time_window"],
        model_versions=row["model_versions"],
        evidence=row["evidence"],
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )


def _text(name: str, value: str | None, *, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise InputError(f"audit entry field {name!r} must be a non-empty string, got {value!r}")
    return value


def _mapping(name: str, value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InputError(
            f"audit entry field {name!r} must be a mapping, got {type(value).__name__}"
        )
    try:
        result: dict[str, Any] = normalise(value)
    except TypeError as exc:
        raise InputError(f"audit entry field {name!r}: {exc}") from None
    return result


class AuditLog:
    """The hash-chained audit log in the event-log database of ``engine``.

    The schema must be at revision ``0002_audit_tokens`` or later
    (:func:`accuguard.store.migrate.upgrade`).

    >>> from accuguard.store import make_engine, upgrade
    >>> engine = make_engine("sqlite://")
    >>> upgrade(engine)
    >>> log = AuditLog(engine)
    >>> log.append(action="rollout.start", actor="alice", deployment="fraud").seq
    1
    >>> log.verify().ok
    True
    """

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self._clock = clock

    # -- writing -------------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[Connection]:
        """A transaction holding the audit log's append lock."""
        dialect = self.engine.dialect.name
        if dialect == "sqlite":
            with self.engine.connect() as conn:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.rollback()
                    raise
                conn.commit()
            return
        with self.engine.begin() as conn:
            if dialect == "postgresql":
                conn.execute(
                    text("SELECT pg_advisory_xact_lock(:k, hashtext(current_schema()))"),
                    {"k": _PG_LOCK_CLASS},
                )
            yield conn

    def append(
        self,
        *,
        action: str,
        actor: str,
        deployment: str | None = None,
        decision: str | None = None,
        reason: str = "",
        config_hash: str | None = None,
        window: Mapping[str, Any] | None = None,
        model_versions: Mapping[str, Any] | None = None,
        evidence: Mapping[str, Any] | None = None,
        connection: Connection | None = None,
    ) -> AuditEntry:
        """Append one entry and return it (with its ``seq`` and ``hash``).

        Mapping fields are stored in JSON-safe form (NaN -> null, tuples -> lists,
        keys -> strings), the same form that is hashed. Raises
        :class:`~accuguard.errors.InputError` for an empty ``action``/``actor`` or a
        value JSON cannot hold; SQLAlchemy errors when the database fails (nothing is
        written then).

        ``connection``: append inside the caller's open transaction (e.g. a state
        change and its audit entry commit or roll back together). On PostgreSQL the
        advisory lock is taken in that transaction and held until it ends; on SQLite
        the transaction should already hold the write lock (write your own row first,
        or open it with ``BEGIN IMMEDIATE``), otherwise a concurrent append makes this
        one fail rather than fork the chain. Without ``connection``, do not call this
        on SQLite while the same thread holds another write transaction on the
        database (it would wait for itself until the busy timeout).
        """
        fields: dict[str, Any] = {
            "actor": _text("actor", actor, required=True),
            "action": _text("action", action, required=True),
            "deployment": _text("deployment", deployment),
            "decision": _text("decision", decision),
            "reason": _text("reason", reason, required=False) or "",
            "config_hash": _text("config_hash", config_hash),
            "window": _mapping("window", window),
            "model_versions": _mapping("model_versions", model_versions),
            "evidence": _mapping("evidence", evidence),
        }
        if connection is not None:
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:k, hashtext(current_schema()))"),
                    {"k": _PG_LOCK_CLASS},
                )
            return self._insert(connection, fields)
        with self._locked() as conn:
            return self._insert(conn, fields)

    def _insert(self, conn: Connection, fields: dict[str, Any]) -> AuditEntry:
        """Read the head and insert the next entry (the caller holds the append lock)."""
        head = conn.execute(
            select(_TABLE.c.seq, _TABLE.c.hash).order_by(_TABLE.c.seq.desc()).limit(1)
        ).first()
        seq, prev = (1, GENESIS_HASH) if head is None else (head.seq + 1, head.hash)
        body = {**fields, "seq": seq, "at": float(self._clock()), "prev_hash": prev}
        digest = entry_hash(prev, body)
        row = {k: v for k, v in body.items() if k != "window"}
        conn.execute(insert(_TABLE).values(**row, time_window=body["window"], hash=digest))
        return AuditEntry(**body, hash=digest)

    # -- reading -------------------------------------------------------------------

    def entries(
        self,
        *,
        deployment: str | None = None,
        actions: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[AuditEntry]:
        """Entries in ``seq`` order, optionally of one deployment and some actions.

        With ``limit``, the newest ``limit`` matching entries (still oldest first).
        """
        if limit is not None and limit < 0:
            raise InputError(f"limit must be 0 or more, got {limit}")
        query = select(_TABLE).order_by(_TABLE.c.seq.desc())
        if deployment is not None:
            query = query.where(_TABLE.c.deployment == deployment)
        if actions is not None:
            query = query.where(_TABLE.c.action.in_(list(actions)))
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [_entry(row) for row in reversed(rows)]

    def head(self) -> AuditEntry | None:
        """The newest entry, or None when the log is empty."""
        newest = self.entries(limit=1)
        return newest[0] if newest else None

    # -- verifying -----------------------------------------------------------------

    def _seq_of_hash(self, conn: Connection, digest: str) -> int | None:
        found = conn.execute(select(_TABLE.c.seq).where(_TABLE.c.hash == digest)).first()
        return None if found is None else int(found.seq)

    def verify(self, *, expect_head: str | None = None) -> VerifyReport:
        """Check the whole chain; report the first edited, removed or reordered entry.

        ``expect_head``: a hash recorded earlier (a previous ``head_hash``); the
        report fails (``kind="anchor"``) when no entry has it any more, i.e. the tail
        was removed or the chain rewritten since.
        """
        checked = 0
        expected_seq, expected_prev = 1, GENESIS_HASH
        last: AuditEntry | None = None
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=_BATCH).execute(
                select(_TABLE).order_by(_TABLE.c.seq)
            )
            for row in result.mappings():
                entry = _entry(row)
                bad = self._check(conn, entry, expected_seq, expected_prev)
                if bad is not None:
                    result.close()
                    bad_seq, kind, problem = bad
                    return VerifyReport(False, checked, bad_seq, kind, problem)
                checked += 1
                expected_seq, expected_prev, last = entry.seq + 1, entry.hash, entry
            if expect_head is not None and self._seq_of_hash(conn, expect_head) is None:
                return VerifyReport(
                    False,
                    checked,
                    None,
                    "anchor",
                    f"no entry has the expected head hash {expect_head}: entries after it "
                    "were removed (truncated tail) or the chain was rewritten",
                    last.seq if last else None,
                    last.hash if last else None,
                )
        return VerifyReport(
            True,
            checked,
            head_seq=last.seq if last else None,
            head_hash=last.hash if last else None,
        )

    def _check(
        self, conn: Connection, entry: AuditEntry, expected_seq: int, expected_prev: str
    ) -> tuple[int, Problem, str] | None:
        """(first bad seq, kind, problem) when ``entry`` does not continue the chain."""
        seq = entry.seq
        if seq != expected_seq:
            missing = (
                f"entry {expected_seq} is"
                if seq == expected_seq + 1
                else f"entries {expected_seq}..{seq - 1} are"
            )
            return expected_seq, "removed", f"{missing} missing: the chain jumps to seq {seq}"
        if entry.prev_hash != expected_prev:
            elsewhere = self._seq_of_hash(conn, entry.prev_hash)
            if elsewhere is not None:
                return (
                    seq,
                    "reordered",
                    f"entry {seq} was written after the entry now at seq {elsewhere}, "
                    f"not after entry {seq - 1}: entries were reordered (renumbered)",
                )
            before = "the start of the log" if seq == 1 else f"entry {seq - 1}"
            return (
                seq,
                "removed",
                f"entry {seq} does not follow {before} (prev_hash differs): an entry "
                f"before it was removed and the rest renumbered, or {before} was "
                "rewritten together with its hash",
            )
        if entry.expected_hash() != entry.hash:
            return seq, "edited", f"entry {seq} was edited: its contents do not match its hash"
        return None
