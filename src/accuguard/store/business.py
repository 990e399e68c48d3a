"""Sufficient statistics of business metrics per variant, aggregated in SQL.

Used by the rollout gates (``business`` checks) and the dashboard's experiment page:
both need, per variant and event name, the units exposed, the units with the event,
and the sum and sum of squares of the per-unit totals (the inputs of
:mod:`accuguard.stats.ab`), without loading the events into Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import distinct, func, null, select, union_all
from sqlalchemy.engine import Connection

from accuguard.store.models import BusinessEvent, Prediction

#: per event name, per variant: (units exposed, units with the event, sum, sum of squares)
MetricSums = dict[str, dict[str, tuple[int, int, float, float]]]


def business_sums(
    conn: Connection, served: Any, deployment: str, until: float, variants: Sequence[str]
) -> tuple[dict[str, int], MetricSums]:
    """Units exposed per variant, and per event name and variant their sufficient statistics.

    ``served`` is the SQL condition on ``predictions`` rows that expose a unit. A unit
    (``unit_hash``) belongs to a variant when all its served rows are of that variant
    (units seen in several are left out); its business events from its first exposure
    to ``until`` (of ``deployment``, or of no deployment) are summed per event name.
    Units without the event are zeros: they count in ``exposed`` only, and a variant of
    ``variants`` without any unit with the event gets ``(exposed, 0, 0.0, 0.0)``.
    """
    P = Prediction
    exposure = (
        select(
            P.unit_hash.label("unit_hash"),
            func.min(P.variant).label("variant"),
            func.min(P.created_at).label("first_seen"),
        )
        .where(served)
        .group_by(P.unit_hash)
        .having(func.count(distinct(P.variant)) == 1)
        .cte("exposure")
    )
    return sums_over_exposure(conn, exposure, deployment, until, variants)


def sums_over_exposure(
    conn: Connection, exposure: Any, deployment: str, until: float, variants: Sequence[str]
) -> tuple[dict[str, int], MetricSums]:
    """:func:`business_sums` for an ``exposure`` already chosen: a CTE or subquery whose
    columns are ``(unit_hash, variant, first_seen)``, one row per exposed unit.

    One statement: the exposure is computed once, for the unit counts and the sums.
    """
    x_unit, x_variant, x_first = exposure.c
    E = BusinessEvent
    per_unit = (
        select(x_variant.label("variant"), E.name.label("name"), func.sum(E.value).label("total"))
        .join(exposure, E.unit_hash == x_unit)
        .where(
            E.created_at >= x_first,
            E.created_at < until,
            # = (deployment or NULL); not an OR: SQLite would drive the join from the events
            func.coalesce(E.deployment, deployment) == deployment,
        )
        .group_by(x_variant, E.name, E.unit_hash)
        .subquery()
    )
    total = per_unit.c.total
    units = select(x_variant, null(), func.count(), null(), null()).group_by(x_variant)
    sums = select(
        per_unit.c.variant, per_unit.c.name, func.count(), func.sum(total), func.sum(total * total)
    ).group_by(per_unit.c.variant, per_unit.c.name)
    exposed: dict[str, int] = {}
    found = []
    for variant, name, n, s, s2 in conn.execute(union_all(units, sums)):
        if name is None:
            exposed[str(variant)] = int(n)
        else:
            found.append((str(variant), str(name), int(n or 0), float(s or 0.0), float(s2 or 0.0)))
    metrics: MetricSums = {}
    for variant, name, with_event, s, s2 in found:
        metrics.setdefault(name, {})[variant] = (exposed.get(variant, 0), with_event, s, s2)
    for per_variant in metrics.values():
        for variant in variants:
            per_variant.setdefault(variant, (exposed.get(variant, 0), 0, 0.0, 0.0))
    return exposed, metrics
