"""Distributions of a window in SQL: order statistics and the KS statistic, no rows loaded.

The input is a *source*: a subquery with two columns, ``arm`` (0 = champion,
1 = challenger) and ``x`` (a latency or a score). Non-finite values are left out
(``-inf < x < inf`` also drops PostgreSQL's NaN), as the streamed path did.

1. ``SELECT arm, count(x), avg(x) ... GROUP BY arm``: sizes and means.
2. The values at the ranks :func:`accuguard.rollout.sample.held_ranges` asks for, and
   the rows where ``|F_champion(x) - F_challenger(x)|`` is largest, compared in exact
   integers (``|ca m - cb n|`` for running counts ``ca``, ``cb``); the KS statistic is
   then ``abs(ca / n - cb / m)``, the float operations of
   :func:`accuguard.stats.ecdf.ecdf_distances`, so ``D`` is bit for bit the streamed
   path's (with :func:`~accuguard.stats.drift.ks_pvalue`, scipy's ``ks_2samp``).

   - SQLite: one statement; ``GROUP BY x`` over both arms with running counts per arm
     (``SUM(..) OVER (ORDER BY x)``); a distinct value covers the ranks
     ``(cum - count, cum]`` of its arm.
   - PostgreSQL (faster): ``percentile_disc(fractions) WITHIN GROUP (ORDER BY x)`` per
     arm for the ranks (one sort each, no window), and running counts over the sorted
     rows (the default ``RANGE`` frame counts ties together) for the KS rows.

The mean is SQL's ``avg`` (plain floating-point summation: within ``n * 2**-53`` relative
of the exact mean for positive values, 1.1e-9 at ten million; it may differ from
numpy's in the last digits), except for a sample held whole, where it is numpy's.

Only a few thousand numbers cross the wire whatever the window's size; the database
sorts (PostgreSQL spills to disk beyond ``work_mem``). Plain SQL with window functions:
SQLite (3.25+) and PostgreSQL alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import (
    CTE,
    ColumnElement,
    Double,
    Integer,
    Select,
    Subquery,
    and_,
    bindparam,
    case,
    cast,
    false,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection

from accuguard.rollout.sample import FULL_SAMPLE, OrderStatistics, held_ranges

KS_TIES = 1000
"""Rows tied at the largest integer gap read to pick the float maximum (``D`` is exact
unless more tie, then within one ulp)."""


@dataclass(frozen=True)
class Distributions:
    """Both arms' order statistics and, when asked, the KS statistic between them."""

    champion: OrderStatistics
    challenger: OrderStatistics
    ks_statistic: float | None = None


def finite(x: ColumnElement[Any]) -> ColumnElement[bool]:
    """``-inf < x < inf``: true for finite values only (NULL and NaN left out)."""
    return and_(x > -math.inf, x < math.inf)


def distributions(
    conn: Connection, source: Subquery, *, ks: bool = False, full: int = FULL_SAMPLE
) -> Distributions:
    """Order statistics of each arm of ``source`` (``arm``, ``x``) and, with ``ks``, D."""
    x, arm = source.c.x, source.c.arm
    sizes: dict[int, tuple[int, float | None]] = {0: (0, None), 1: (0, None)}
    rows = conn.execute(
        select(arm, func.count(x), func.avg(x)).where(finite(x)).group_by(arm)
    ).all()
    for a, count, mean in rows:
        sizes[int(a)] = (int(count), None if mean is None else float(mean))
    n, m = sizes[0][0], sizes[1][0]
    if n == 0 and m == 0:
        return Distributions(OrderStatistics.empty(), OrderStatistics.empty())
    ranges = {0: held_ranges(n, full), 1: held_ranges(m, full)}
    values: dict[int, dict[int, float]] = {0: {}, 1: {}}
    gaps: list[tuple[int, int]] = []
    running = _running(source)
    top = _top(running, n, m) if ks and n and m else None
    if conn.dialect.name == "postgresql":  # faster, without the window over groups
        values = _percentiles(conn, source, ranges, sizes)
        if top is not None:
            gaps = [(int(ca), int(cb)) for ca, cb in conn.execute(_top_rows(source, n, m))]
    else:
        c = running.c
        wanted = [
            and_(count > 0, cum >= lo, cum - count < hi)
            for count, cum, spans in ((c.a, c.ca, ranges[0]), (c.b, c.cb, ranges[1]))
            for lo, hi in spans
        ]
        held = select(literal(0).label("part"), c.x, c.a, c.b, c.ca, c.cb).where(
            or_(false(), *wanted)
        )
        query = held if top is None else union_all(held, select(top))
        for part, value, a, b, ca, cb in conn.execute(query):
            if int(part) == 1:
                gaps.append((int(ca), int(cb)))
                continue
            for which, count, cum in ((0, int(a), int(ca)), (1, int(b), int(cb))):
                for lo, hi in ranges[which]:
                    for rank in range(max(lo, cum - count + 1), min(hi, cum) + 1):
                        values[which][rank] = float(value)
    return Distributions(
        _stats(n, sizes[0][1], values[0]),
        _stats(m, sizes[1][1], values[1]),
        _ks(gaps, n, m) if top is not None else None,
    )


def _running(source: Subquery) -> CTE:
    """Distinct values of both arms in order, with each arm's count and running count."""
    x, arm = source.c.x, source.c.arm
    grouped = (
        select(
            x.label("x"),
            # int4 counts: their running sums are bigint (numeric for a bigint input)
            cast(func.sum(case((arm == 0, 1), else_=0)), Integer).label("a"),
            cast(func.sum(case((arm == 1, 1), else_=0)), Integer).label("b"),
        )
        .where(finite(x))
        .group_by(x)
        .subquery("grouped")
    )
    return select(
        grouped.c.x,
        grouped.c.a,
        grouped.c.b,
        func.sum(grouped.c.a).over(order_by=grouped.c.x, rows=(None, 0)).label("ca"),
        func.sum(grouped.c.b).over(order_by=grouped.c.x, rows=(None, 0)).label("cb"),
    ).cte("running")


def _top(running: CTE, n: int, m: int) -> Subquery:
    """The :data:`KS_TIES` rows with the largest ``|ca m - cb n|`` (exact integers)."""
    c = running.c
    return (
        select(literal(1).label("part"), c.x, c.a, c.b, c.ca, c.cb)
        .order_by(func.abs(c.ca * m - c.cb * n).desc())
        .limit(KS_TIES)
        .subquery("top")
    )


def _top_rows(source: Subquery, n: int, m: int) -> Select[Any]:
    """PostgreSQL: the KS rows from one sort, no ``GROUP BY``.

    With ``ORDER BY x`` and the default ``RANGE`` frame a running sum includes every
    row tied with the current one, so each row carries its value's running counts.
    """
    x, arm = source.c.x, source.c.arm
    counted = (
        select(
            func.sum(case((arm == 0, 1), else_=0)).over(order_by=x).label("ca"),
            func.sum(case((arm == 1, 1), else_=0)).over(order_by=x).label("cb"),
        )
        .where(finite(x))
        .subquery("counted")
    )
    gap = func.abs(counted.c.ca * m - counted.c.cb * n)
    return select(counted.c.ca, counted.c.cb).order_by(gap.desc()).limit(KS_TIES)


def _percentiles(
    conn: Connection,
    source: Subquery,
    ranges: dict[int, list[tuple[int, int]]],
    sizes: dict[int, tuple[int, float | None]],
) -> dict[int, dict[int, float]]:
    """PostgreSQL: the held ranks as ``percentile_disc`` (one sort per arm, no window).

    ``percentile_disc(f)`` is the value at rank ``ceil(f n)``; ``f = (r - 1/2) / n``
    lands exactly on rank ``r`` despite rounding.
    """
    x, arm = source.c.x, source.c.arm
    ranks = {a: [r for lo, hi in ranges[a] for r in range(lo, hi + 1)] for a in (0, 1)}
    aggregates = [
        func.percentile_disc(
            bindparam(f"fractions_{a}", [(r - 0.5) / sizes[a][0] for r in ranks[a]], ARRAY(Double))
        )
        .within_group(x)
        .filter(arm == a)
        for a in (0, 1)
        if ranks[a]
    ]
    row = conn.execute(select(*aggregates).where(finite(x))).one()
    found = iter(row)
    out: dict[int, dict[int, float]] = {0: {}, 1: {}}
    for a in (0, 1):
        if ranks[a]:
            out[a] = {r: float(v) for r, v in zip(ranks[a], next(found), strict=True)}
    return out


def _stats(n: int, mean: float | None, held: dict[int, float]) -> OrderStatistics:
    ranks = np.array(sorted(held), dtype=np.int64)
    values = np.array([held[int(r)] for r in ranks], dtype=np.float64)
    if n and ranks.size == n:  # the whole sample: numpy's mean, as the streamed path
        mean = float(values.mean())
    return OrderStatistics(n, mean if n else None, ranks, values)


def _ks(gaps: list[tuple[int, int]], n: int, m: int) -> float:
    """``max |ca / n - cb / m|`` over the rows tied at the largest integer gap."""
    if not gaps:
        return 0.0
    best = max(abs(ca * m - cb * n) for ca, cb in gaps)
    if best == 0:
        return 0.0
    return max(abs(ca / n - cb / m) for ca, cb in gaps if abs(ca * m - cb * n) == best)
