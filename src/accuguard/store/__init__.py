"""The event log: predictions, feedback and business events in SQL (docs/event-log.md).

SQLite by default, PostgreSQL by URL, through SQLAlchemy 2 with Alembic migrations.
The gateway writes through :class:`EventWriter` (batched in the background, spooled to
disk while the database is unreachable, replayed without duplicates).
"""

from __future__ import annotations

from accuguard.store.engine import DEFAULT_URL, make_engine
from accuguard.store.migrate import current_revision, head_revision, upgrade
from accuguard.store.records import (
    BusinessEventRecord,
    EventSink,
    FeedbackRecord,
    PredictionRecord,
)
from accuguard.store.repository import EventRepository
from accuguard.store.spool import Spool
from accuguard.store.writer import EventWriter

__all__ = [
    "DEFAULT_URL",
    "BusinessEventRecord",
    "EventRepository",
    "EventSink",
    "EventWriter",
    "FeedbackRecord",
    "PredictionRecord",
    "Spool",
    "current_revision",
    "head_revision",
    "make_engine",
    "upgrade",
]
