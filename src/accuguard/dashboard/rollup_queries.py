"""The dashboard's aggregates read from the hourly rollups (:mod:`accuguard.store.rollups`).

Each function has the signature and the result of its raw counterpart in
:mod:`accuguard.dashboard.queries` (which stay the reference: the tests compare both).
A range ``[since, until)`` is cut in three: the raw events of ``[since, a)`` where ``a``
is ``since`` rounded up to the hour, the rollups of the whole hours ``[a, b)`` where
``b`` is the deployment's rollup watermark (or ``until`` rounded down, if earlier), and
the raw events of ``[b, until)`` (the open hour, and whatever is not rolled up yet).
Time buckets must be whole hours (3600 s, 1 day); other widths, and deployments
without rollups, read the raw events only. So the numbers equal the raw queries' as of
the last refresh: a label that arrived after it counts once the next refresh has
recomputed its hour (see ``recompute_hours``).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from accuguard.dashboard import queries
from accuguard.dashboard.queries import Series, bucket_start
from accuguard.dashboard.rollup_experiment import experiment_sums
from accuguard.rollout.queries import label_key
from accuguard.store.models import (
    RollupFeature,
    RollupLabel,
    RollupShadow,
    RollupTraffic,
)
from accuguard.store.rollups import (
    HOUR,
    events_state,
    feature_state,
    floor_hour,
    refresh_rollups,
    rollups_due,
    watermark,
)

__all__ = [
    "accuracy_series",
    "category_counts",
    "disagreement_series",
    "experiment_sums",
    "numeric_histograms",
    "refresh_if_due",
    "request_series",
]

log = logging.getLogger(__name__)
_refreshing = threading.Lock()


def _cut(conn: Connection, state: str, since: float, until: float, width: int) -> Any:
    """``(a, b)``: the rolled-up whole hours of ``[since, until)`` (None: read raw only)."""
    if width % HOUR:
        return None
    mark = watermark(conn, state)
    if mark is None:
        return None
    a, b = math.ceil(since / HOUR) * HOUR, min(mark, floor_hour(until))
    return (float(a), float(b)) if b > a else None


def _raw_edges(since: float, until: float, cut: tuple[float, float]) -> list[tuple[float, float]]:
    return [(lo, hi) for lo, hi in ((since, cut[0]), (cut[1], until)) if hi > lo]


def _merge(into: Series, part: Series) -> None:
    for variant, points in part.points.items():
        for bucket, (hit, total) in points.items():
            into.add(variant, bucket, hit, total)


def request_series(
    conn: Connection, deployment: str, since: float, until: float, width: int
) -> Series:
    """:func:`queries.request_series` from the rollups."""
    cut = _cut(conn, events_state(deployment), since, until, width)
    if cut is None:
        return queries.request_series(conn, deployment, since, until, width)
    series = Series()
    for lo, hi in _raw_edges(since, until, cut):
        _merge(series, queries.request_series(conn, deployment, lo, hi, width))
    T = RollupTraffic
    bucket = bucket_start(T.hour, width)
    query = (
        select(bucket, T.variant, func.sum(T.errors), func.sum(T.requests))
        .where(T.deployment == deployment, T.hour >= cut[0], T.hour < cut[1])
        .group_by(bucket, T.variant)
    )
    for b, variant, errors, n in conn.execute(query):
        series.add(str(variant), b, int(errors), int(n))
    return series


def _pairs(
    conn: Connection,
    table: Any,
    other: Any,
    deployment: str,
    cut: tuple[float, float],
    width: int,
) -> Any:
    bucket = bucket_start(table.hour, width)
    query = (
        select(bucket, table.variant, table.output, other, func.sum(table.n))
        .where(table.deployment == deployment, table.hour >= cut[0], table.hour < cut[1])
        .group_by(bucket, table.variant, table.output, other)
    )
    return conn.execute(query)


@lru_cache(maxsize=4096)
def _equal(a: str | None, b: str | None) -> bool:
    """Two outputs or labels (JSON texts) are equal as :func:`label_key` compares them."""
    return bool(label_key(queries._json(a)) == label_key(queries._json(b)))


@lru_cache(maxsize=4096)
def _correct(output: str | None, label: str | None) -> bool | None:
    """Whether ``output`` is ``label`` (None when the label is JSON null)."""
    return None if queries._json(label) is None else _equal(output, label)


def accuracy_series(
    conn: Connection, deployment: str, since: float, until: float, width: int
) -> Series:
    """:func:`queries.accuracy_series` from the rollups."""
    cut = _cut(conn, events_state(deployment), since, until, width)
    if cut is None:
        return queries.accuracy_series(conn, deployment, since, until, width)
    series = Series()
    for lo, hi in _raw_edges(since, until, cut):
        _merge(series, queries.accuracy_series(conn, deployment, lo, hi, width))
    for b, variant, out_text, label_text, n in _pairs(
        conn, RollupLabel, RollupLabel.label, deployment, cut, width
    ):
        hit = _correct(out_text, label_text)
        if hit is not None:
            series.add(str(variant), b, int(n) if hit else 0, int(n))
    return series


def disagreement_series(
    conn: Connection, deployment: str, since: float, until: float, width: int
) -> Series:
    """:func:`queries.disagreement_series` from the rollups."""
    cut = _cut(conn, events_state(deployment), since, until, width)
    if cut is None:
        return queries.disagreement_series(conn, deployment, since, until, width)
    series = Series()
    for lo, hi in _raw_edges(since, until, cut):
        _merge(series, queries.disagreement_series(conn, deployment, lo, hi, width))
    for b, variant, a, c, n in _pairs(
        conn, RollupShadow, RollupShadow.champion_output, deployment, cut, width
    ):
        differ = not _equal(a, c)
        series.add(str(variant), b, int(n) if differ else 0, int(n))
    return series


def _feature_rows(
    conn: Connection,
    deployment: str,
    feature: str,
    cut: tuple[float, float],
    width: int,
) -> Any:
    F = RollupFeature
    bucket = bucket_start(F.hour, width)
    query = (
        select(bucket, F.value, func.sum(F.n))
        .where(
            F.deployment == deployment,
            F.feature == feature,
            F.hour >= cut[0],
            F.hour < cut[1],
        )
        .group_by(bucket, F.value)
    )
    return conn.execute(query)


def numeric_histograms(
    conn: Connection,
    deployment: str,
    feature: str,
    edges: Sequence[float],
    since: float,
    until: float,
    width: int,
) -> dict[float, list[int]]:
    """:func:`queries.numeric_histograms` from the rollups; ``edges`` must be the feature's
    stored edges (:func:`accuguard.store.rollups.feature_bins`)."""
    cut = _cut(conn, feature_state(deployment, feature), since, until, width)
    if cut is None:
        return queries.numeric_histograms(conn, deployment, feature, edges, since, until, width)
    out: dict[float, list[int]] = {}
    for lo, hi in _raw_edges(since, until, cut):
        part = queries.numeric_histograms(conn, deployment, feature, edges, lo, hi, width)
        for b, counts in part.items():
            slot = out.setdefault(b, [0] * (len(edges) + 1))
            for i, c in enumerate(counts):
                slot[i] += c
    for b, value, n in _feature_rows(conn, deployment, feature, cut, width):
        slot = out.setdefault(float(b), [0] * (len(edges) + 1))
        slot[int(value)] += int(n)
    return out


def category_counts(
    conn: Connection, deployment: str, feature: str, since: float, until: float, width: int
) -> dict[float, dict[str, int]]:
    """:func:`queries.category_counts` from the rollups."""
    cut = _cut(conn, feature_state(deployment, feature), since, until, width)
    if cut is None:
        return queries.category_counts(conn, deployment, feature, since, until, width)
    out: dict[float, dict[str, int]] = {}
    parts = [
        queries.category_counts(conn, deployment, feature, lo, hi, width)
        for lo, hi in _raw_edges(since, until, cut)
    ]
    rolled: dict[float, dict[str, int]] = {}
    for b, value, n in _feature_rows(conn, deployment, feature, cut, width):
        rolled.setdefault(float(b), {})[str(value)] = int(n)
    for part in [*parts, rolled]:
        for b, counts in part.items():
            slot = out.setdefault(b, {})
            for k, v in counts.items():
                slot[k] = slot.get(k, 0) + v
    return out


def refresh_if_due(
    engine: Engine,
    now: float,
    deployment: str,
    features: Mapping[str, str] | None = None,
    edges: Mapping[str, Sequence[float]] | None = None,
    *,
    wait: bool = False,
) -> threading.Thread | None:
    """Start refreshing ``deployment``'s rollups in a background thread when a closed hour
    is not rolled up yet; the thread (None when nothing was started).

    Cheap when up to date (one read of ``rollup_state``). One refresh at a time per
    process; a page does not wait for it (``wait=True`` does): until it commits, the
    queries read the raw events after the watermark, so the figures stay exact, only
    slower. A failure (the database is down, another replica holds the lock past the
    busy timeout) is logged; the next page view tries again.
    """
    try:
        with engine.connect() as conn:
            if not rollups_due(conn, now, deployment, features):
                return None
    except SQLAlchemyError as exc:
        log.warning("rollup state of %s unreadable: %s", deployment, type(exc).__name__)
        return None
    if not _refreshing.acquire(blocking=False):
        return None

    def run() -> None:
        try:
            refresh_rollups(
                engine,
                now,
                features={deployment: dict(features or {})},
                edges={deployment: dict(edges or {})},
                deployments_only=[deployment],
            )
        except SQLAlchemyError as exc:
            log.warning("rollup refresh of %s failed: %s", deployment, type(exc).__name__)
        finally:
            _refreshing.release()

    thread = threading.Thread(target=run, name=f"rollups-{deployment}", daemon=True)
    thread.start()
    if wait:
        thread.join()
    return thread
