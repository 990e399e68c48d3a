"""What the gateway's ``/metrics`` shows about rollouts: a snapshot refreshed off the loop.

Every gateway replica (leader or not) keeps a :class:`RolloutWatch`: every
``controller.interval_s`` seconds, in a worker thread, it reads the latest rollout of
each served deployment (``rollouts`` table: state, step, last gate result) and the
rollout decisions appended to the audit log since the last read. A scrape of
``/metrics`` then only reads this snapshot, so it never waits for the database.

Decisions are counted from the moment the process started watching (counters start
at 0, as Prometheus counters do): ``accuguard_rollout_decisions_total{deployment,
decision}`` with ``decision`` one of :data:`DECISIONS` (``rollback_to_previous`` counts
as ``rollback``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from accuguard.rollout.state import RolloutRecord, latest_rollout
from accuguard.store.models import AuditEntry

log = logging.getLogger("accuguard.rollout")

#: The decisions the controller and operators write to the audit log.
DECISIONS = ("start", "advance", "promote", "rollback", "pause", "resume", "weight", "hold")
_BATCH = 10_000


@dataclass(frozen=True)
class RolloutSnapshot:
    """The latest rollout per deployment and the decisions counted so far."""

    rollouts: dict[str, RolloutRecord] = field(default_factory=dict)
    decisions: dict[tuple[str, str], int] = field(default_factory=dict)
    refreshed_at: float | None = None


class RolloutWatch:
    """Keeps a :class:`RolloutSnapshot` of ``deployments()`` up to date."""

    def __init__(self, engine: Engine, deployments: Callable[[], Sequence[str]]) -> None:
        self.engine = engine
        self.deployments = deployments
        self._lock = threading.Lock()
        self._snapshot = RolloutSnapshot()
        self._last_seq: int | None = None
        self._counts: dict[tuple[str, str], int] = {}

    @property
    def snapshot(self) -> RolloutSnapshot:
        """The last snapshot (empty until the first :meth:`refresh`)."""
        with self._lock:
            return self._snapshot

    def refresh(self) -> RolloutSnapshot:
        """Read the rollouts and the new decisions (blocking: call it in a thread)."""
        names = list(self.deployments())
        rollouts = {}
        for name in names:
            record = latest_rollout(self.engine, name)
            if record is not None:
                rollouts[name] = record
        self._count_decisions(names)
        with self._lock:
            self._snapshot = RolloutSnapshot(rollouts, dict(self._counts), time.time())
            return self._snapshot

    def _count_decisions(self, names: Sequence[str]) -> None:
        for name in names:  # every series exists from the start, so increase() sees the first
            for decision in DECISIONS:
                self._counts.setdefault((name, decision), 0)
        with self.engine.connect() as conn:
            head = int(conn.execute(select(func.max(AuditEntry.seq))).scalar() or 0)
            if self._last_seq is None:  # count what happens from now on
                self._last_seq = head
                return
            rows = conn.execute(
                select(AuditEntry.seq, AuditEntry.deployment, AuditEntry.decision)
                .where(
                    AuditEntry.seq > self._last_seq,
                    AuditEntry.seq <= head,
                    AuditEntry.action.like("rollout.%"),
                    AuditEntry.decision.is_not(None),
                )
                .order_by(AuditEntry.seq)
                .limit(_BATCH)
            ).all()
        self._last_seq = head if len(rows) < _BATCH else int(rows[-1][0])
        for row in rows:
            if row.deployment in names and row.decision in DECISIONS:
                key = (str(row.deployment), str(row.decision))
                self._counts[key] = self._counts.get(key, 0) + 1

    async def run(self, interval_s: float) -> None:
        """Refresh every ``interval_s`` seconds until cancelled (errors are logged)."""
        failing = False
        while True:
            try:
                await asyncio.to_thread(self.refresh)
                failing = False
            except Exception as exc:  # the database is down: keep the last snapshot
                if not failing:  # once per outage, not once per interval
                    log.warning("rollout metrics: refresh failed (%s)", type(exc).__name__)
                failing = True
            await asyncio.sleep(interval_s)
