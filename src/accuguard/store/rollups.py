"""Hourly rollups of the event log, refreshed in SQL (docs/dashboard.md, "Rollups").

The dashboard's long ranges (30 and 365 days) would scan every prediction of the range
at each look. :func:`refresh_rollups` keeps small hourly aggregates instead, per
deployment (tables in :mod:`accuguard.store.models`):

- ``rollup_traffic``: requests, challenger errors and the latency sum per variant;
- ``rollup_labels``: labelled predictions per variant, output and label (JSON texts),
  so accuracy is decided in Python exactly as the raw query does;
- ``rollup_shadow``: requests a shadow and the champion both answered, per pair of
  outputs (JSON texts);
- ``rollup_features``: champion rows per bin of a numeric feature (fixed inner edges in
  ``rollup_feature_bins``) or per category of a categorical one;
- ``rollup_exposure``: per unit and served variant, its first and last served time (no
  shadows), for the experiment page.

Everything is ``INSERT ... SELECT ... GROUP BY`` run by the database: no event row
reaches Python (a numeric feature's bin edges, when not given, are the deciles of its
first 10,000 champion values). Only *closed* hours are rolled up: hours before
``floor(now / 3600) * 3600``. Each deployment (and each of its rolled-up features) has a
watermark in ``rollup_state``; hours before it are in the rollups. A refresh recomputes
the ``recompute_hours`` before the watermark (default 7 days: late labels, a replayed
spool) and rolls up the new closed hours, in chunks of ``chunk_hours``, each chunk one
transaction that deletes and re-inserts its hours (``rollup_exposure`` merges by
min/max instead), so a refresh is idempotent and two refreshers never double count (the
chunk locks the deployment's ``rollup_state`` row). Readers combine the rollups before
the watermark with the raw events after it, so their numbers equal the raw queries'.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial

import numpy as np
from sqlalchemy import case, func, select, text, update
from sqlalchemy.engine import Connection, Engine

from accuguard.store.models import Prediction, RollupState
from accuguard.store.rollup_sql import (
    RollupBins,
    dialect_insert,
    ensure_bins,
    feature_bin,
    feature_bins,
    forget_erased,
    hour_start,
    roll_events,
    roll_exposure,
    roll_feature,
)

__all__ = [
    "RefreshResult",
    "RollupBins",
    "deployments",
    "events_state",
    "feature_bin",
    "feature_bins",
    "feature_state",
    "floor_hour",
    "hour_start",
    "refresh_rollups",
    "rollups_due",
    "watermark",
]

HOUR = 3600
RECOMPUTE_HOURS = 7 * 24
CHUNK_HOURS = 30 * 24


def floor_hour(t: float) -> float:
    """The start of the hour of ``t``."""
    return float(np.floor(t / HOUR) * HOUR)


def events_state(deployment: str) -> str:
    """The ``rollup_state`` name of a deployment's traffic, label, shadow and exposure rollups."""
    return f"events:{deployment}"


def feature_state(deployment: str, feature: str) -> str:
    """The ``rollup_state`` name of one feature's rollup."""
    return f"feature:{deployment}:{feature}"


def watermark(conn: Connection, name: str) -> float | None:
    """Hours before this time are rolled up under ``name`` (None: nothing yet)."""
    found = conn.execute(select(RollupState.watermark).where(RollupState.name == name)).first()
    return None if found is None or found[0] is None else float(found[0])


@contextmanager
def _transaction(bind: Engine | Connection) -> Iterator[Connection]:
    if isinstance(bind, Engine):
        with bind.begin() as conn:
            yield conn
    elif bind.in_transaction():  # the caller's transaction: the caller commits
        yield bind
    else:
        with bind.begin():
            yield bind


def _lock(conn: Connection, name: str) -> tuple[float | None, float | None]:
    """Create ``name``'s state row if missing, lock it (PostgreSQL) and read it."""
    conn.execute(dialect_insert(conn, RollupState).values(name=name).on_conflict_do_nothing())
    row = conn.execute(
        select(RollupState.watermark, RollupState.refreshed_at)
        .where(RollupState.name == name)
        .with_for_update()
    ).one()
    return row[0], row[1]


def _advance(conn: Connection, name: str, hi: float, now: float) -> None:
    current = RollupState.watermark
    conn.execute(
        update(RollupState)
        .where(RollupState.name == name)
        .values(
            watermark=case((current.is_(None), hi), (current < hi, hi), else_=current),
            refreshed_at=now,
        )
    )


def deployments(conn: Connection) -> list[str]:
    """The deployments with predictions (a loose index scan of ``(deployment, created_at)``)."""
    query = text(
        "WITH RECURSIVE d(name) AS ("
        " SELECT min(deployment) FROM predictions"
        " UNION ALL"
        " SELECT (SELECT min(deployment) FROM predictions WHERE deployment > d.name)"
        " FROM d WHERE d.name IS NOT NULL"
        ") SELECT name FROM d WHERE name IS NOT NULL"
    )
    return [str(n) for (n,) in conn.execute(query)]


def _first_hour(conn: Connection, *, deployment: str) -> float | None:
    first = conn.execute(
        select(func.min(Prediction.created_at)).where(Prediction.deployment == deployment)
    ).scalar()
    return None if first is None else floor_hour(float(first))


@dataclass
class RefreshResult:
    """What one :func:`refresh_rollups` call rolled up: per state name, ``[from, to)``."""

    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    seconds: float = 0.0


def _run(
    bind: Engine | Connection,
    name: str,
    end: float,
    now: float,
    recompute_hours: int,
    chunk_hours: int,
    work: Callable[[Connection, float, float, float | None], None],
    first_hour: Callable[[Connection], float | None],
) -> tuple[float, float] | None:
    """Roll ``name`` up to ``end`` in chunks, one transaction each: ``work(conn, lo, hi,
    previous refresh time or None)`` (the previous time on the first chunk only)."""
    with _transaction(bind) as conn:
        mark, refreshed = _lock(conn, name)
        start = first_hour(conn) if mark is None else float(mark) - recompute_hours * HOUR
    if start is None:
        return None
    lo, previous = float(start), refreshed if mark is not None else None
    while lo < end:
        hi = min(end, lo + chunk_hours * HOUR)
        with _transaction(bind) as conn:
            _lock(conn, name)
            if conn.dialect.name == "postgresql":  # JIT compiling costs more than it saves
                conn.execute(text("SET LOCAL jit = off"))
            work(conn, lo, hi, previous)
            _advance(conn, name, hi, now)
        lo, previous = hi, now
    return float(start), end


def refresh_rollups(
    bind: Engine | Connection,
    now: float | None = None,
    *,
    features: Mapping[str, Mapping[str, str]] | None = None,
    edges: Mapping[str, Mapping[str, Sequence[float]]] | None = None,
    deployments_only: Sequence[str] | None = None,
    recompute_hours: int = RECOMPUTE_HOURS,
    chunk_hours: int = CHUNK_HOURS,
) -> RefreshResult:
    """Roll up the closed hours before ``now`` (see the module doc).

    ``features``: per deployment, ``{feature: "numeric" | "categorical"}`` to roll up
    (champion rows); ``edges``: per deployment and numeric feature, the inner bin edges
    to use the first time (e.g. the monitor reference's deciles; default: the deciles of
    its first 10,000 values). ``deployments_only``: refresh these deployments' event
    rollups (default: every deployment with predictions). With a connection inside a
    transaction, everything runs in that transaction (the caller commits).
    """
    if recompute_hours < 0 or chunk_hours <= 0:
        raise ValueError("recompute_hours must be >= 0 and chunk_hours > 0")
    t0 = time.perf_counter()
    now = time.time() if now is None else float(now)
    end = floor_hour(now)
    result = RefreshResult()
    if deployments_only is None:
        with _transaction(bind) as conn:
            names = deployments(conn)
    else:
        names = list(deployments_only)
    for dep in names:

        def events(
            conn: Connection, lo: float, hi: float, since: float | None, d: str = dep
        ) -> None:
            if since is not None:
                forget_erased(conn, d, since)
            roll_events(conn, d, lo, hi)
            roll_exposure(conn, d, lo, hi)

        found = _run(
            bind,
            events_state(dep),
            end,
            now,
            recompute_hours,
            chunk_hours,
            events,
            partial(_first_hour, deployment=dep),
        )
        if found is not None:
            result.ranges[events_state(dep)] = found
    for dep, kinds in (features or {}).items():
        for feature, kind in kinds.items():
            given = (edges or {}).get(dep, {}).get(feature)
            with _transaction(bind) as conn:
                bins = ensure_bins(conn, dep, feature, kind, given, end, now)
            if bins is None:
                continue

            def roll(
                conn: Connection,
                lo: float,
                hi: float,
                _since: float | None,
                d: str = dep,
                f: str = feature,
                b: RollupBins = bins,
            ) -> None:
                roll_feature(conn, d, f, b, lo, hi)

            name = feature_state(dep, feature)
            found = _run(
                bind,
                name,
                end,
                now,
                recompute_hours,
                chunk_hours,
                roll,
                partial(_first_hour, deployment=dep),
            )
            if found is not None:
                result.ranges[name] = found
    result.seconds = time.perf_counter() - t0
    return result


def rollups_due(
    conn: Connection,
    now: float,
    deployment: str,
    features: Mapping[str, str] | None = None,
) -> bool:
    """True when a closed hour of ``deployment`` (or of one of ``features``) is not rolled up."""
    end = floor_hour(now)
    names = [events_state(deployment)] + [feature_state(deployment, f) for f in features or {}]
    marks = dict(
        conn.execute(
            select(RollupState.name, RollupState.watermark).where(RollupState.name.in_(names))
        ).all()
    )
    return any((mark := marks.get(n)) is None or float(mark) < end for n in names)
