"""Rollouts and the controller lease in the database (SQLite or PostgreSQL).

- :func:`create_rollout` refuses a second active rollout on a deployment (a unique
  column, ``active_deployment``, holds the name while the rollout runs or is paused);
- :func:`compare_and_set` applies a change only if the row is still at the
  ``row_version`` the caller read, and bumps it: of two controllers (or a controller
  and an operator) acting on the same state, exactly one wins, and replaying a
  transition that already happened changes nothing;
- :func:`acquire_lease` / :func:`release_lease`: a named lease with an expiry. One
  conditional ``UPDATE`` (or the first ``INSERT``) takes it, so it works across
  processes and hosts. Expiry uses each process's clock: keep clocks in sync (NTP)
  and ``ttl`` well above the skew.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import case, insert, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from accuguard.errors import AccuguardError
from accuguard.rollout.machine import ACTIVE_STATES, FINAL_STATES, Position
from accuguard.store.models import Lease, Rollout


class RolloutConflict(AccuguardError):
    """The deployment already has an active rollout, or the rollout changed meanwhile."""


@dataclass(frozen=True)
class RolloutRecord:
    """One row of ``rollouts`` (see :class:`accuguard.store.models.Rollout`)."""

    id: int
    deployment: str
    model: str
    champion_alias: str
    champion_version: str
    challenger_version: str
    plan: dict[str, Any]
    plan_hash: str
    state: str
    step_index: int
    step_started_at: float
    paused_at: float | None
    paused_s: float
    weight_override: float | None
    evidence: dict[str, Any] | None
    gate: dict[str, Any] | None
    last_decision: str | None
    reason: str
    pending: list[dict[str, Any]] | None
    started_by: str
    started_at: float
    updated_at: float
    checked_at: float | None
    finished_at: float | None
    row_version: int

    @property
    def variant(self) -> str:
        """The challenger's variant name in the gateway and the event log: ``v<version>``."""
        return f"v{self.challenger_version}"

    @property
    def active(self) -> bool:
        """Running or paused."""
        return self.state in ACTIVE_STATES

    @property
    def position(self) -> Position:
        """The state machine's view of this row."""
        return Position(
            self.state,
            self.step_index,
            self.step_started_at,
            self.paused_at,
            self.paused_s,
            self.weight_override,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (the API's rollout object)."""
        out = asdict(self)
        out["variant"] = self.variant
        return out


_FIELDS = tuple(RolloutRecord.__dataclass_fields__)


def _record(row: Rollout) -> RolloutRecord:
    return RolloutRecord(**{f: getattr(row, f) for f in _FIELDS})


def create_rollout(
    engine: Engine,
    *,
    deployment: str,
    model: str,
    champion_alias: str,
    champion_version: str,
    challenger_version: str,
    plan: dict[str, Any],
    plan_hash: str,
    actor: str,
    now: float | None = None,
    pending: list[dict[str, Any]] | None = None,
) -> RolloutRecord:
    """Insert a running rollout at step 0; :class:`RolloutConflict` if one is active."""
    now = time.time() if now is None else now
    values: dict[str, Any] = {
        "deployment": deployment,
        "active_deployment": deployment,
        "model": model,
        "champion_alias": champion_alias,
        "champion_version": str(champion_version),
        "challenger_version": str(challenger_version),
        "plan": plan,
        "plan_hash": plan_hash,
        "state": "running",
        "step_index": 0,
        "step_started_at": now,
        "paused_s": 0.0,
        "reason": "started",
        "last_decision": "start",
        "pending": pending,
        "started_by": actor,
        "started_at": now,
        "updated_at": now,
        "row_version": 1,
    }
    try:
        with engine.begin() as conn:
            key = conn.execute(insert(Rollout).values(**values)).inserted_primary_key
    except IntegrityError:
        current = active_rollout(engine, deployment)
        what = f"rollout {current.id} of {current.variant} ({current.state})" if current else "one"
        raise RolloutConflict(
            f"deployment {deployment!r} already has an active rollout: {what}; "
            "promote or roll it back first"
        ) from None
    found = get_rollout(engine, int(key[0]) if key else 0)
    assert found is not None
    return found


def get_rollout(engine: Engine, rollout_id: int) -> RolloutRecord | None:
    """The rollout with this id, or None."""
    found = _rows(engine, select(Rollout).where(Rollout.id == rollout_id))
    return found[0] if found else None


def _rows(engine: Engine, stmt: Any) -> list[RolloutRecord]:
    with Session(engine) as session:
        return [_record(r) for r in session.scalars(stmt)]


def active_rollout(engine: Engine, deployment: str) -> RolloutRecord | None:
    """The deployment's running or paused rollout, or None."""
    found = _rows(engine, select(Rollout).where(Rollout.active_deployment == deployment))
    return found[0] if found else None


def latest_rollout(engine: Engine, deployment: str) -> RolloutRecord | None:
    """The deployment's active rollout, else its most recent one, else None."""
    found = _rows(
        engine,
        select(Rollout)
        .where(Rollout.deployment == deployment)
        .order_by(Rollout.active_deployment.is_(None), Rollout.started_at.desc(), Rollout.id.desc())
        .limit(1),
    )
    return found[0] if found else None


def list_rollouts(
    engine: Engine, *, deployment: str | None = None, active_only: bool = False, limit: int = 100
) -> list[RolloutRecord]:
    """Rollouts, newest first (only running and paused ones with ``active_only``)."""
    stmt = select(Rollout)
    if deployment is not None:
        stmt = stmt.where(Rollout.deployment == deployment)
    if active_only:
        stmt = stmt.where(Rollout.active_deployment.is_not(None))
    return _rows(engine, stmt.order_by(Rollout.started_at.desc(), Rollout.id.desc()).limit(limit))


def pending_rollouts(engine: Engine) -> list[RolloutRecord]:
    """Running rollouts, and any rollout whose side effects are not all done yet."""
    stmt = (
        select(Rollout)
        .where(or_(Rollout.state == "running", Rollout.pending.is_not(None)))
        .order_by(Rollout.id)
    )
    return [r for r in _rows(engine, stmt) if r.state == "running" or r.pending]


def compare_and_set(
    engine: Engine, rollout_id: int, row_version: int, **changes: Any
) -> RolloutRecord | None:
    """Apply ``changes`` if the row is still at ``row_version``; None when it is not.

    Setting ``state`` to a final state also frees the deployment for a new rollout.
    """
    values = dict(changes)
    state = values.get("state")
    if state in FINAL_STATES:
        values["active_deployment"] = None
    values.setdefault("updated_at", time.time())
    values["row_version"] = row_version + 1
    with engine.begin() as conn:
        result = conn.execute(
            update(Rollout)
            .where(Rollout.id == rollout_id, Rollout.row_version == row_version)
            .values(**values)
        )
        won = result.rowcount == 1
    return get_rollout(engine, rollout_id) if won else None


def active_traffic(engine: Engine) -> list[tuple[Any, ...]]:
    """The cheap poll of the gateway: ``(deployment, model, version, state, step, weight,
    plan steps, row_version)`` of every running or paused rollout."""
    stmt = select(
        Rollout.deployment,
        Rollout.model,
        Rollout.challenger_version,
        Rollout.state,
        Rollout.step_index,
        Rollout.weight_override,
        Rollout.plan,
        Rollout.row_version,
    ).where(Rollout.active_deployment.is_not(None))
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(stmt)]


# -- the lease ------------------------------------------------------------------------


def acquire_lease(
    engine: Engine, name: str, holder: str, ttl_s: float, *, now: float | None = None
) -> bool:
    """Take or renew the lease ``name`` for ``ttl_s`` seconds; True when ``holder`` has it.

    It is granted when nobody holds it, when ``holder`` already does (renewal) or when
    the current holder's lease expired.
    """
    if ttl_s <= 0:
        raise ValueError(f"ttl_s must be positive, got {ttl_s!r}")
    now = time.time() if now is None else now
    with engine.begin() as conn:
        taken = conn.execute(
            update(Lease)
            .where(Lease.name == name, or_(Lease.holder == holder, Lease.expires_at <= now))
            .values(
                holder=holder,
                expires_at=now + ttl_s,
                acquired_at=case((Lease.holder == holder, Lease.acquired_at), else_=now),
            )
        ).rowcount
    if taken == 1:
        return True
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(Lease).values(
                    name=name, holder=holder, acquired_at=now, expires_at=now + ttl_s
                )
            )
    except IntegrityError:  # someone holds it (or took it just now)
        return False
    return True


def release_lease(engine: Engine, name: str, holder: str) -> bool:
    """Give the lease up now if ``holder`` has it (another process can take it at once)."""
    with engine.begin() as conn:
        return (
            conn.execute(
                update(Lease)
                .where(Lease.name == name, Lease.holder == holder)
                .values(expires_at=0.0)
            ).rowcount
            == 1
        )


def lease_holder(
    engine: Engine, name: str, *, now: float | None = None
) -> tuple[str, float] | None:
    """``(holder, expires_at)`` of the unexpired lease ``name``, or None."""
    now = time.time() if now is None else now
    with engine.connect() as conn:
        row = conn.execute(
            select(Lease.holder, Lease.expires_at).where(Lease.name == name, Lease.expires_at > now)
        ).first()
    return None if row is None else (str(row[0]), float(row[1]))
