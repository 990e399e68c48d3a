"""Write and erase event-log rows: batched, idempotent, one transaction per call.

Inserts are ``INSERT ... ON CONFLICT DO NOTHING`` on the table's key. On SQLite it is
executed once for a whole list of rows (``executemany``); on PostgreSQL the batch is
streamed with ``COPY`` into a staging table and moved with one ``INSERT ... SELECT ...
ON CONFLICT DO NOTHING`` (:mod:`accuguard.store.copy`; ``bench/event_log_pg.py``
measures both). So writing a batch twice (a replay after an ambiguous commit, a client
retrying) stores every row once: for predictions the first row of a ``(request_id,
variant)`` wins, for feedback the first label of a ``request_id``, for business events
the first row of an ``event_id``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from accuguard.store.copy import copy_insert
from accuguard.store.models import KINDS, BusinessEvent, Erasure, Feedback, Prediction
from accuguard.store.records import BusinessEventRecord, FeedbackRecord, PredictionRecord

Row = dict[str, Any]


def prediction_row(r: PredictionRecord) -> Row:
    """The ``predictions`` row of a record (a plain dict, JSON-serialisable)."""
    return {
        "request_id": r.request_id,
        "variant": r.variant,
        "deployment": r.deployment,
        "mode": r.mode,
        "model_version": r.model_version,
        "unit_hash": r.unit_hash,
        "features": r.features,
        "output": r.output,
        "score": r.score,
        "latency_ms": r.latency_ms,
        "created_at": r.created_at,
        "error": r.error,
    }


def feedback_row(r: FeedbackRecord) -> Row:
    """The ``feedback`` row of a record."""
    return {"request_id": r.request_id, "label": r.label, "created_at": r.created_at}


def event_row(r: BusinessEventRecord) -> Row:
    """The ``business_events`` row of a record."""
    return {
        "event_id": r.event_id,
        "deployment": r.deployment,
        "unit_hash": r.unit_hash,
        "name": r.name,
        "value": r.value,
        "created_at": r.created_at,
    }


class EventRepository:
    """Batched, idempotent access to the event log through one SQLAlchemy engine.

    >>> from accuguard.store import make_engine, upgrade
    >>> engine = make_engine("sqlite://")
    >>> upgrade(engine)
    >>> repo = EventRepository(engine)
    >>> rows = [FeedbackRecord("r1", 1, 0.0), FeedbackRecord("r1", 0, 1.0)]
    >>> repo.insert_feedback(rows)  # the second label of r1 is ignored
    1
    >>> repo.counts()["feedback"]
    1
    """

    def __init__(self, engine: Engine, *, use_copy: bool = True) -> None:
        """``use_copy=False`` makes PostgreSQL use ``executemany`` as SQLite does (the
        benchmark's baseline); the stored rows are the same either way."""
        self.engine = engine
        name = engine.dialect.name
        if name not in ("sqlite", "postgresql"):
            raise ValueError(f"engine dialect {name!r} is not supported; use sqlite or postgresql")
        self._insert = sqlite.insert if name == "sqlite" else postgresql.insert
        self._copy = use_copy and name == "postgresql"

    # -- writes ------------------------------------------------------------------

    def insert_rows(self, kind: str, rows: Sequence[Mapping[str, Any]]) -> int:
        """Insert row dicts into the table of ``kind`` (a key of ``models.KINDS``).

        Returns the number of rows newly stored (keys already there are skipped), or -1
        when the driver cannot tell (PostgreSQL's ``executemany``, ``use_copy=False``).
        """
        if not rows:
            return 0
        with self.engine.begin() as connection:
            return self._insert_rows(connection, kind, rows)

    def insert_batches(self, batches: Iterable[tuple[str, Sequence[Mapping[str, Any]]]]) -> int:
        """Insert several ``(kind, rows)`` batches in one transaction (all or nothing).

        Returns the number of rows newly stored (-1 as for :meth:`insert_rows`).
        """
        with self.engine.begin() as connection:
            counts = [self._insert_rows(connection, kind, rows) for kind, rows in batches]
        return -1 if any(n < 0 for n in counts) else sum(counts)

    def _insert_rows(
        self, connection: Connection, kind: str, rows: Sequence[Mapping[str, Any]]
    ) -> int:
        try:
            model = KINDS[kind]
        except KeyError:
            raise ValueError(f"kind {kind!r} is not one of {sorted(KINDS)}") from None
        if not rows:
            return 0
        if self._copy:
            return copy_insert(connection, model.__table__, rows)  # type: ignore[arg-type]
        statement = self._insert(model).on_conflict_do_nothing()
        return int(connection.execute(statement, list(rows)).rowcount)

    def insert_predictions(self, records: Sequence[PredictionRecord]) -> int:
        """Insert predictions; a ``(request_id, variant)`` already stored is kept as is."""
        return self.insert_rows("predictions", [prediction_row(r) for r in records])

    def insert_feedback(self, records: Sequence[FeedbackRecord]) -> int:
        """Insert labels; the first label of a ``request_id`` wins, later ones are ignored."""
        return self.insert_rows("feedback", [feedback_row(r) for r in records])

    def insert_events(self, records: Sequence[BusinessEventRecord]) -> int:
        """Insert business events; an ``event_id`` already stored is kept as is."""
        return self.insert_rows("business_events", [event_row(r) for r in records])

    # -- reads -------------------------------------------------------------------

    def count_predictions(self, deployment: str | None = None) -> int:
        """Number of stored predictions (of one deployment, or all)."""
        query = select(func.count()).select_from(Prediction)
        if deployment is not None:
            query = query.where(Prediction.deployment == deployment)
        with self.engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def counts(self) -> dict[str, int]:
        """Rows per table: predictions, feedback, business_events, erasures."""
        with self.engine.connect() as connection:
            return {
                model.__tablename__: int(
                    connection.execute(select(func.count()).select_from(model)).scalar_one()
                )
                for model in (Prediction, Feedback, BusinessEvent, Erasure)
            }

    # -- privacy -----------------------------------------------------------------

    def erase_unit(self, unit_hash: str, *, actor: str | None = None) -> dict[str, int]:
        """Delete a unit's predictions, their feedback and its business events, atomically.

        Returns the number of rows deleted per table. With ``actor``, an ``erasures``
        audit row (unit hash, counts, time, actor) is written in the same transaction,
        so an erasure and its audit record exist together or not at all.
        """
        request_ids = select(Prediction.request_id).where(Prediction.unit_hash == unit_hash)
        with self.engine.begin() as connection:
            feedback = connection.execute(
                delete(Feedback).where(Feedback.request_id.in_(request_ids))
            ).rowcount
            predictions = connection.execute(
                delete(Prediction).where(Prediction.unit_hash == unit_hash)
            ).rowcount
            events = connection.execute(
                delete(BusinessEvent).where(BusinessEvent.unit_hash == unit_hash)
            ).rowcount
            counts = {
                "predictions": int(predictions),
                "feedback": int(feedback),
                "business_events": int(events),
            }
            if actor is not None:
                connection.execute(
                    insert(Erasure),
                    [{"unit_hash": unit_hash, "at": time.time(), "actor": actor, **counts}],
                )
        return counts
