"""The event log's tables, as SQLAlchemy 2 declarative models.

Four tables (docs/event-log.md draws them):

- ``predictions``: one row per scored row and variant. The key is
  ``(request_id, variant)``: a request answered by the champion and mirrored to a
  shadow gives two rows with the same ``request_id``, one per variant. Writing the
  same key twice keeps the first row (``INSERT ... ON CONFLICT DO NOTHING``), so a
  replayed batch never duplicates.
- ``feedback``: the ground-truth label of a request, keyed by ``request_id``. The
  **first label wins**: a second label for the same request is ignored, which also
  keeps a replayed old batch from overwriting anything.
- ``business_events``: clicks, conversions, revenue of a unit, keyed by ``event_id``.
- ``erasures``: the audit of privacy erasures (who erased which unit hash, when, and
  how many rows went).

Times are unix seconds in double precision (``created_at``), the same numbers the
gateway puts in its records; a controller reads windows with
``created_at >= t0 AND created_at < t1`` on the ``(deployment, created_at)`` and
``(deployment, variant, created_at)`` indexes.

The Alembic migration ``migrations/versions/0001_event_log.py`` creates exactly this
schema; a test compares the two (``alembic.autogenerate.compare_metadata``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Double, Index, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: Constraint names fixed by convention, so the migration and the models agree.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of the event log; ``Base.metadata`` is the schema."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Prediction(Base):
    """A scored row served to a caller (or mirrored to a shadow)."""

    __tablename__ = "predictions"

    request_id: Mapped[str] = mapped_column(String, primary_key=True)
    variant: Mapped[str] = mapped_column(String, primary_key=True)
    deployment: Mapped[str] = mapped_column(String)
    mode: Mapped[str] = mapped_column(String)
    model_version: Mapped[str] = mapped_column(String)
    unit_hash: Mapped[str] = mapped_column(String)
    features: Mapped[Any] = mapped_column(JSON)
    output: Mapped[Any] = mapped_column(JSON)
    score: Mapped[float | None] = mapped_column(Double, nullable=True)
    latency_ms: Mapped[float] = mapped_column(Double)
    created_at: Mapped[float] = mapped_column(Double)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (
        Index(None, "deployment", "created_at"),
        Index(None, "deployment", "variant", "created_at"),
        Index(None, "unit_hash"),
    )


class Feedback(Base):
    """The ground-truth label of a request (first label wins)."""

    __tablename__ = "feedback"

    request_id: Mapped[str] = mapped_column(String, primary_key=True)
    label: Mapped[Any] = mapped_column(JSON)
    created_at: Mapped[float] = mapped_column(Double)

    __table_args__ = (Index(None, "created_at"),)


class BusinessEvent(Base):
    """A business event of a unit (click, conversion, revenue)."""

    __tablename__ = "business_events"

    event_id: Mapped[str] = mapped_column(String, primary_key=True)
    deployment: Mapped[str | None] = mapped_column(String, nullable=True)
    unit_hash: Mapped[str] = mapped_column(String)
    name: Mapped[str] = mapped_column(String)
    value: Mapped[float] = mapped_column(Double)
    created_at: Mapped[float] = mapped_column(Double)

    __table_args__ = (
        Index(None, "deployment", "created_at"),
        Index(None, "unit_hash"),
    )


class Erasure(Base):
    """One privacy erasure: which unit hash, how many rows, when, by whom."""

    __tablename__ = "erasures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    unit_hash: Mapped[str] = mapped_column(String)
    predictions: Mapped[int] = mapped_column(Integer)
    feedback: Mapped[int] = mapped_column(Integer)
    business_events: Mapped[int] = mapped_column(Integer)
    at: Mapped[float] = mapped_column(Double)
    actor: Mapped[str] = mapped_column(String)

    __table_args__ = (Index(None, "unit_hash"),)


#: Table name per record kind, as the writer, the spool and the repository name them.
KINDS: dict[str, type[Base]] = {
    "predictions": Prediction,
    "feedback": Feedback,
    "business_events": BusinessEvent,
}


class AuditEntry(Base):
    """One entry of the hash-chained audit log (docs/audit.md); rows are only appended.

    ``seq`` is gapless from 1; ``hash`` is ``sha256(prev_hash + canonical JSON of the
    entry)`` and ``prev_hash`` the hash of entry ``seq - 1`` (64 zeros for the first).
    The time window of a decision is stored in the column ``time_window`` (``window``
    is an SQL keyword).
    """

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[float] = mapped_column(Double)
    actor: Mapped[str] = mapped_column(String)
    action: Mapped[str] = mapped_column(String)
    deployment: Mapped[str | None] = mapped_column(String, nullable=True)
    decision: Mapped[str | None] = mapped_column(String, nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    config_hash: Mapped[str | None] = mapped_column(String, nullable=True)
    window: Mapped[Any] = mapped_column("time_window", JSON, nullable=True)
    model_versions: Mapped[Any] = mapped_column(JSON, nullable=True)
    evidence: Mapped[Any] = mapped_column(JSON, nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        Index(None, "deployment", "seq"),
        Index(None, "action"),
        Index(None, "hash", unique=True),
    )


class ApiToken(Base):
    """An API token of the admin API: only the SHA-256 of the token is stored."""

    __tablename__ = "api_tokens"

    name: Mapped[str] = mapped_column(String, primary_key=True)
    role: Mapped[str] = mapped_column(String)
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Double)
    revoked_at: Mapped[float | None] = mapped_column(Double, nullable=True)

    __table_args__ = (Index(None, "token_hash", unique=True),)


class Rollout(Base):
    """A rollout of a challenger version on a deployment (the controller's state machine).

    ``state``: ``running``, ``paused``, ``promoted`` or ``rolled_back``. While running or
    paused, ``active_deployment`` holds the deployment's name (unique: one active rollout
    per deployment); it is NULL once the rollout is finished. Every update compares and
    sets ``row_version`` (two controllers never both apply a transition).
    """

    __tablename__ = "rollouts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    deployment: Mapped[str] = mapped_column(String)
    active_deployment: Mapped[str | None] = mapped_column(String, nullable=True, unique=True)
    model: Mapped[str] = mapped_column(String)
    champion_alias: Mapped[str] = mapped_column(String)
    champion_version: Mapped[str] = mapped_column(String)
    challenger_version: Mapped[str] = mapped_column(String)
    plan: Mapped[Any] = mapped_column(JSON)
    plan_hash: Mapped[str] = mapped_column(String)
    state: Mapped[str] = mapped_column(String)
    step_index: Mapped[int] = mapped_column(Integer)
    step_started_at: Mapped[float] = mapped_column(Double)
    paused_at: Mapped[float | None] = mapped_column(Double, nullable=True)
    paused_s: Mapped[float] = mapped_column(Double)
    weight_override: Mapped[float | None] = mapped_column(Double, nullable=True)
    evidence: Mapped[Any] = mapped_column(JSON(none_as_null=True), nullable=True)
    gate: Mapped[Any] = mapped_column(JSON(none_as_null=True), nullable=True)
    last_decision: Mapped[str | None] = mapped_column(String, nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    pending: Mapped[Any] = mapped_column(JSON(none_as_null=True), nullable=True)
    started_by: Mapped[str] = mapped_column(String)
    started_at: Mapped[float] = mapped_column(Double)
    updated_at: Mapped[float] = mapped_column(Double)
    checked_at: Mapped[float | None] = mapped_column(Double, nullable=True)
    finished_at: Mapped[float | None] = mapped_column(Double, nullable=True)
    row_version: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        Index(None, "deployment", "started_at"),
        Index(None, "state"),
    )


class Lease(Base):
    """A named lease (leader election): held by ``holder`` until ``expires_at`` (unix s)."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String, primary_key=True)
    holder: Mapped[str] = mapped_column(String)
    acquired_at: Mapped[float] = mapped_column(Double)
    expires_at: Mapped[float] = mapped_column(Double)
