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

from sqlalchemy import JSON, BigInteger, Double, Index, Integer, MetaData, String, Text
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
        Index(None, "created_at"),  # retention: bounded batches of the oldest rows (0005)
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
        Index(None, "created_at"),  # retention (0005)
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


# -- rollups (docs/dashboard.md, src/accuguard/store/rollups.py) ---------------------------
# Hourly aggregates of the tables above, refreshed in SQL by ``store.rollups.refresh_rollups``.
# ``hour`` is the unix start of the hour; JSON outputs and labels are kept as their JSON text.
# Tables keyed by such texts have a surrogate ``id`` instead: a long output or category
# would pass PostgreSQL's index row limit (about 2.7 kB) in a key. Their rows are only
# ever written by a refresh that deletes the hours it re-inserts, one GROUP BY each.

#: 64-bit ids (hours are deleted and re-inserted on every refresh), the rowid on SQLite.
RollupId = BigInteger().with_variant(Integer(), "sqlite")


class RollupState(Base):
    """A rollup's watermark: hours before ``watermark`` are rolled up."""

    __tablename__ = "rollup_state"

    name: Mapped[str] = mapped_column(String, primary_key=True)
    watermark: Mapped[float | None] = mapped_column(Double, nullable=True)
    refreshed_at: Mapped[float | None] = mapped_column(Double, nullable=True)


class RollupTraffic(Base):
    """Per deployment, variant and hour: requests, challenger errors, latency sum."""

    __tablename__ = "rollup_traffic"

    deployment: Mapped[str] = mapped_column(String, primary_key=True)
    hour: Mapped[float] = mapped_column(Double, primary_key=True)
    variant: Mapped[str] = mapped_column(String, primary_key=True)
    mode: Mapped[str] = mapped_column(String)
    requests: Mapped[int] = mapped_column(Integer)
    served: Mapped[int] = mapped_column(Integer)  # requests not mirrored (mode != shadow)
    errors: Mapped[int] = mapped_column(Integer)
    latency_ms_sum: Mapped[float] = mapped_column(Double)


class RollupLabel(Base):
    """Per deployment, hour, variant, output and label (JSON texts): labelled predictions."""

    __tablename__ = "rollup_labels"

    id: Mapped[int] = mapped_column(RollupId, primary_key=True, autoincrement=True)
    deployment: Mapped[str] = mapped_column(String)
    hour: Mapped[float] = mapped_column(Double)
    variant: Mapped[str] = mapped_column(String)
    output: Mapped[str] = mapped_column(Text)
    label: Mapped[str] = mapped_column(Text)
    n: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index(None, "deployment", "hour"),)


class RollupShadow(Base):
    """Per deployment, hour, shadow, its output and the champion's: requests both answered."""

    __tablename__ = "rollup_shadow"

    id: Mapped[int] = mapped_column(RollupId, primary_key=True, autoincrement=True)
    deployment: Mapped[str] = mapped_column(String)
    hour: Mapped[float] = mapped_column(Double)
    variant: Mapped[str] = mapped_column(String)
    output: Mapped[str] = mapped_column(Text)
    champion_output: Mapped[str] = mapped_column(Text)
    n: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index(None, "deployment", "hour"),)


class RollupFeatureBins(Base):
    """The fixed bins of a rolled-up feature: inner edges (numeric) or none (categorical)."""

    __tablename__ = "rollup_feature_bins"

    deployment: Mapped[str] = mapped_column(String, primary_key=True)
    feature: Mapped[str] = mapped_column(String, primary_key=True)
    kind: Mapped[str] = mapped_column(String)
    edges: Mapped[Any] = mapped_column(JSON)
    created_at: Mapped[float] = mapped_column(Double)


class RollupFeature(Base):
    """Per deployment, feature and hour: champion rows per bin index or category (text)."""

    __tablename__ = "rollup_features"

    id: Mapped[int] = mapped_column(RollupId, primary_key=True, autoincrement=True)
    deployment: Mapped[str] = mapped_column(String)
    feature: Mapped[str] = mapped_column(String)
    hour: Mapped[float] = mapped_column(Double)
    value: Mapped[str] = mapped_column(Text)
    n: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index(None, "deployment", "feature", "hour"),)


class RollupExposure(Base):
    """Per deployment and unit, over its served rows (no shadows): the least and greatest
    variant (equal: one variant served it) and the first and last served time."""

    __tablename__ = "rollup_exposure"

    deployment: Mapped[str] = mapped_column(String, primary_key=True)
    unit_hash: Mapped[str] = mapped_column(String, primary_key=True)
    variant_min: Mapped[str] = mapped_column(String)
    variant_max: Mapped[str] = mapped_column(String)
    first_seen: Mapped[float] = mapped_column(Double)
    last_seen: Mapped[float] = mapped_column(Double)

    __table_args__ = (  # covering: a range's units are read from the index alone
        Index(
            "ix_rollup_exposure_range",
            *("deployment", "last_seen", "first_seen", "variant_min", "variant_max", "unit_hash"),
        ),
    )
