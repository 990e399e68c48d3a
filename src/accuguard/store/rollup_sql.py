"""The SQL of the rollup refresh (:mod:`accuguard.store.rollups`): one
``INSERT ... SELECT ... GROUP BY`` per rollup table and chunk of hours, run by the
database (no event row reaches Python), and the fixed bins of rolled-up features."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import String, and_, case, cast, delete, func, literal_column, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Double

from accuguard.store.models import (
    Erasure,
    Feedback,
    Prediction,
    RollupExposure,
    RollupFeature,
    RollupFeatureBins,
    RollupLabel,
    RollupShadow,
    RollupTraffic,
)

EDGE_SAMPLE = 10_000
DECILES = np.linspace(0.1, 0.9, 9)
CHAMPION = "champion"


class hour_start(FunctionElement[float]):
    """``floor(column / 3600) * 3600``, the start of the hour of ``column`` (unix seconds)."""

    type = Double()
    inherit_cache = True
    name = "hour_start"


@compiles(hour_start)
def _hour_default(element: hour_start, compiler: SQLCompiler, **kw: Any) -> str:
    return f"(floor({compiler.process(element.clauses, **kw)} / 3600.0) * 3600)"


@compiles(hour_start, "sqlite")
def _hour_sqlite(element: hour_start, compiler: SQLCompiler, **kw: Any) -> str:
    return f"(CAST({compiler.process(element.clauses, **kw)} / 3600.0 AS INTEGER) * 3600)"


def _json_text(column: Any) -> Any:
    # SQL NULL and JSON null both read as None (queries._json): one key, 'null'
    return func.coalesce(cast(column, String), literal_column("'null'"))


def dialect_insert(conn: Connection, table: Any) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def _window(deployment: str, lo: float, hi: float, table: Any = Prediction) -> Any:
    return and_(table.deployment == deployment, table.created_at >= lo, table.created_at < hi)


def roll_events(conn: Connection, deployment: str, lo: float, hi: float) -> None:
    """Delete and re-insert the traffic, label and shadow rollups of ``[lo, hi)``."""
    P = Prediction
    for table in (RollupTraffic, RollupLabel, RollupShadow):
        conn.execute(
            delete(table).where(table.deployment == deployment, table.hour >= lo, table.hour < hi)
        )
    hour = hour_start(P.created_at)
    traffic = (
        select(
            P.deployment,
            hour,
            P.variant,
            func.max(P.mode),
            func.count(),
            func.count(case((P.mode != "shadow", 1))),
            func.count(P.error),
            func.sum(P.latency_ms),
        )
        .where(_window(deployment, lo, hi))
        .group_by(P.deployment, hour, P.variant)
    )
    cols = ["deployment", "hour", "variant", "mode", "requests", "served", "errors"]
    cols.append("latency_ms_sum")
    conn.execute(dialect_insert(conn, RollupTraffic).from_select(cols, traffic))
    output, label = _json_text(P.output), _json_text(Feedback.label)
    labels = (
        select(P.deployment, hour, P.variant, output, label, func.count())
        .join(Feedback, Feedback.request_id == P.request_id)
        .where(_window(deployment, lo, hi), P.error.is_(None))
        .group_by(P.deployment, hour, P.variant, output, label)
    )
    cols = ["deployment", "hour", "variant", "output", "label", "n"]
    conn.execute(dialect_insert(conn, RollupLabel).from_select(cols, labels))
    champ = Prediction.__table__.alias("champ")
    theirs = _json_text(champ.c.output)
    shadow = (
        select(P.deployment, hour, P.variant, output, theirs, func.count())
        .join(
            champ,
            and_(
                champ.c.request_id == P.request_id,
                champ.c.variant == CHAMPION,
                champ.c.error.is_(None),
            ),
        )
        .where(_window(deployment, lo, hi), P.mode == "shadow", P.error.is_(None))
        .group_by(P.deployment, hour, P.variant, output, theirs)
    )
    cols = ["deployment", "hour", "variant", "output", "champion_output", "n"]
    conn.execute(dialect_insert(conn, RollupShadow).from_select(cols, shadow))


def roll_exposure(conn: Connection, deployment: str, lo: float, hi: float) -> None:
    """Merge the served rows of ``[lo, hi)`` into ``rollup_exposure`` (min/max: idempotent)."""
    P, X = Prediction, RollupExposure
    rows = (
        select(
            P.deployment,
            P.unit_hash,
            func.min(P.variant),
            func.max(P.variant),
            func.min(P.created_at),
            func.max(P.created_at),
        )
        .where(_window(deployment, lo, hi), P.mode != "shadow")
        .group_by(P.deployment, P.unit_hash)
    )
    cols = ["deployment", "unit_hash", "variant_min", "variant_max", "first_seen", "last_seen"]
    ins = dialect_insert(conn, X).from_select(cols, rows)
    new = ins.excluded

    def least(a: Any, b: Any) -> Any:
        return case((a < b, a), else_=b)

    def greatest(a: Any, b: Any) -> Any:
        return case((a > b, a), else_=b)

    ins = ins.on_conflict_do_update(
        index_elements=["deployment", "unit_hash"],
        set_={
            "variant_min": least(new.variant_min, X.variant_min),
            "variant_max": greatest(new.variant_max, X.variant_max),
            "first_seen": least(new.first_seen, X.first_seen),
            "last_seen": greatest(new.last_seen, X.last_seen),
        },
    )
    conn.execute(ins)


def forget_erased(conn: Connection, deployment: str, since: float | None) -> None:
    """Drop the exposure of units erased since the last refresh (the next merge re-adds
    whatever the unit did after its erasure)."""
    erased = select(Erasure.unit_hash)
    if since is not None:
        erased = erased.where(Erasure.at >= since)
    conn.execute(
        delete(RollupExposure).where(
            RollupExposure.deployment == deployment, RollupExposure.unit_hash.in_(erased)
        )
    )


def _champion(deployment: str, lo: float, hi: float) -> Any:
    return and_(_window(deployment, lo, hi), Prediction.variant == CHAMPION)


def feature_bin(x: Any, edges: Sequence[float]) -> Any:
    """The bin index of ``x`` over inner ``edges``: ``(-inf, e1) -> 0, ..., [e_k, inf) -> k``."""
    whens = [(x < float(e), i) for i, e in enumerate(edges)]
    return case(*whens, else_=len(edges)) if whens else case((x.is_not(None), 0))


def roll_feature(
    conn: Connection, deployment: str, feature: str, bins: RollupBins, lo: float, hi: float
) -> None:
    F = RollupFeature
    conn.execute(
        delete(F).where(F.deployment == deployment, F.feature == feature, F.hour >= lo, F.hour < hi)
    )
    P = Prediction
    if bins.kind == "numeric":
        x = P.features[feature].as_float()
        value = cast(feature_bin(x, bins.edges), String)
    else:
        x = P.features[feature].as_string()
        value = cast(x, String)
    rows: Any = (  # grouped by labels: the JSON key is a bound parameter
        select(
            P.deployment.label("dep"),
            literal_column(_quote(feature)).label("feat"),
            hour_start(P.created_at).label("hr"),
            value.label("val"),
            func.count(),
        )
        .where(_champion(deployment, lo, hi), x.is_not(None))
        .group_by("dep", "hr", "val")
    )
    conn.execute(
        dialect_insert(conn, F).from_select(["deployment", "feature", "hour", "value", "n"], rows)
    )


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class RollupBins:
    """The fixed bins of a rolled-up feature (``edges``: inner edges, numeric only)."""

    kind: str
    edges: list[float] = field(default_factory=list)


def feature_bins(conn: Connection, deployment: str, feature: str) -> RollupBins | None:
    """The stored bins of a feature (None when it is not rolled up)."""
    row = conn.execute(
        select(RollupFeatureBins.kind, RollupFeatureBins.edges).where(
            RollupFeatureBins.deployment == deployment, RollupFeatureBins.feature == feature
        )
    ).first()
    return None if row is None else RollupBins(str(row[0]), [float(e) for e in row[1] or []])


def _sample_edges(conn: Connection, deployment: str, feature: str, hi: float) -> list[float]:
    x = Prediction.features[feature].as_float()
    values = [
        float(v)
        for (v,) in conn.execute(
            select(x)
            .where(_champion(deployment, float("-inf"), hi), x.is_not(None))
            .order_by(Prediction.created_at)
            .limit(EDGE_SAMPLE)
        )
    ]
    if not values:
        return []
    return sorted({float(e) for e in np.quantile(values, DECILES) if np.isfinite(e)})


def ensure_bins(
    conn: Connection,
    deployment: str,
    feature: str,
    kind: str,
    edges: Sequence[float] | None,
    hi: float,
    now: float,
) -> RollupBins | None:
    found = feature_bins(conn, deployment, feature)
    if found is not None:
        return found if found.kind == kind else None
    if kind == "numeric":
        chosen = sorted({float(e) for e in edges}) if edges is not None else None
        if chosen is None:
            chosen = _sample_edges(conn, deployment, feature, hi)
            if not chosen:
                return None  # no values yet: pick the edges once there are some
    else:
        chosen = []
    conn.execute(
        dialect_insert(conn, RollupFeatureBins)
        .values(deployment=deployment, feature=feature, kind=kind, edges=chosen, created_at=now)
        .on_conflict_do_nothing()
    )
    return feature_bins(conn, deployment, feature)
