"""The SQL aggregates behind the dashboard (SQLite and PostgreSQL).

Every function reads one deployment's rows in ``[since, until)`` through the
``predictions (deployment, created_at)`` and ``(deployment, variant, created_at)``
indexes and returns *aggregates*: counts per time bucket, per variant, per
``(output, label)`` pair. No function sends one row per prediction to Python except
:func:`latency_percentile`, which reads at most two rows.

Time buckets are ``floor(created_at / width) * width`` (unix seconds), computed in SQL
by :class:`bucket_start` (``floor`` on PostgreSQL, an integer cast on SQLite, where
``floor`` needs an optional extension; times are positive so both agree). JSON values
are never compared in SQL (PostgreSQL's ``json`` type has no equality): outputs and
labels are grouped by their JSON text and compared in Python with
:func:`accuguard.rollout.queries.label_key`, so ``1``, ``1.0`` and ``true`` match.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import String, and_, case, cast, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Double

from accuguard.rollout.queries import label_key
from accuguard.store.business import MetricSums, business_sums
from accuguard.store.models import Feedback, Prediction

CHAMPION = "champion"


class bucket_start(FunctionElement[float]):
    """``floor(column / width) * width``: the start of the time bucket of ``column``.

    ``width`` (whole seconds) is written into the SQL text, so the same expression in
    ``SELECT`` and ``GROUP BY`` is textually equal (PostgreSQL requires it).
    """

    type = Double()
    inherit_cache = False
    name = "bucket_start"

    def __init__(self, column: Any, width: int) -> None:
        if int(width) != width or width <= 0:
            raise ValueError(f"bucket width must be a positive whole number, got {width!r}")
        self.width = int(width)
        super().__init__(column)


@compiles(bucket_start)
def _bucket_default(element: bucket_start, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"(floor({column} / {element.width}.0) * {element.width})"


@compiles(bucket_start, "sqlite")
def _bucket_sqlite(element: bucket_start, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"(CAST({column} / {element.width}.0 AS INTEGER) * {element.width})"


def _window(deployment: str, since: float, until: float, table: Any = Prediction) -> Any:
    return and_(
        table.deployment == deployment,
        table.created_at >= since,
        table.created_at < until,
    )


def _json(text: str | None) -> Any:
    """The JSON text of a grouped output or label, decoded (SQL NULL -> None)."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


# -- traffic -----------------------------------------------------------------------------


@dataclass(frozen=True)
class VariantTraffic:
    """Requests, errors (a challenger failed, the champion answered) and p95 latency."""

    variant: str
    mode: str
    requests: int
    errors: int
    p95_ms: float | None

    @property
    def error_rate(self) -> float | None:
        """``errors / requests`` (None without requests)."""
        return self.errors / self.requests if self.requests else None


def latency_percentile(
    conn: Connection,
    deployment: str,
    variant: str,
    since: float,
    until: float,
    q: float,
    n: int,
) -> float | None:
    """The ``q`` quantile of ``latency_ms`` of ``n`` rows, numpy's default (linear) method.

    ``h = (n - 1) q``; the value is ``x[⌊h⌋] + (h - ⌊h⌋)(x[⌊h⌋+1] - x[⌊h⌋])`` on the
    sorted latencies. The two order statistics are read with ``ORDER BY ... LIMIT 2
    OFFSET ⌊h⌋`` (portable: SQLite has no ``percentile_cont``).

    ``n`` is the row count of the same window (from :func:`traffic`).
    """
    if n <= 0:
        return None
    h = (n - 1) * q
    lo = math.floor(h)
    query = (
        select(Prediction.latency_ms)
        .where(_window(deployment, since, until), Prediction.variant == variant)
        .order_by(Prediction.latency_ms)
        .limit(2)
        .offset(lo)
    )
    values = [float(v) for (v,) in conn.execute(query)]
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return values[0] + (h - lo) * (values[1] - values[0])


def traffic(
    conn: Connection, deployment: str, since: float, until: float, q: float = 0.95
) -> dict[str, VariantTraffic]:
    """Per variant: requests, errors and the ``q`` latency quantile over ``[since, until)``."""
    query = (
        select(
            Prediction.variant,
            func.max(Prediction.mode),
            func.count(),
            func.count(Prediction.error),
        )
        .where(_window(deployment, since, until))
        .group_by(Prediction.variant)
    )
    out: dict[str, VariantTraffic] = {}
    for variant, mode, requests, errors in conn.execute(query).all():
        p95 = latency_percentile(conn, deployment, variant, since, until, q, int(requests))
        out[str(variant)] = VariantTraffic(str(variant), str(mode), int(requests), int(errors), p95)
    return out


@dataclass
class Series:
    """Per variant, a time series of ``(bucket start, numerator, denominator)``."""

    points: dict[str, dict[float, list[int]]] = field(default_factory=dict)

    def add(self, variant: str, bucket: float, hit: int, total: int) -> None:
        """Add ``hit`` out of ``total`` to ``variant``'s bucket."""
        slot = self.points.setdefault(variant, {}).setdefault(float(bucket), [0, 0])
        slot[0] += hit
        slot[1] += total

    def rows(self, variant: str) -> list[tuple[float, int, int]]:
        """``(bucket, numerator, denominator)`` in time order."""
        got = self.points.get(variant, {})
        return [(b, got[b][0], got[b][1]) for b in sorted(got)]

    def rates(self, variant: str) -> list[tuple[float, float]]:
        """``(bucket, numerator / denominator)`` of the buckets with a denominator."""
        return [(b, h / t) for b, h, t in self.rows(variant) if t]


def request_series(
    conn: Connection, deployment: str, since: float, until: float, width: int
) -> Series:
    """Per variant and bucket: errors (numerator) and requests (denominator)."""
    bucket = bucket_start(Prediction.created_at, width)
    query = (
        select(bucket, Prediction.variant, func.count(Prediction.error), func.count())
        .where(_window(deployment, since, until))
        .group_by(bucket, Prediction.variant)
    )
    series = Series()
    for b, variant, errors, n in conn.execute(query):
        series.add(str(variant), b, int(errors), int(n))
    return series


def accuracy_series(
    conn: Connection, deployment: str, since: float, until: float, width: int
) -> Series:
    """Per variant and bucket of the *prediction* time: correct (numerator) of labelled.

    Predictions are joined with ``feedback`` by ``request_id``; rows a challenger did
    not answer itself (``error`` set) and labels that are JSON ``null`` are left out.
    """
    bucket = bucket_start(Prediction.created_at, width)
    output, label = cast(Prediction.output, String), cast(Feedback.label, String)
    query = (
        select(bucket, Prediction.variant, output, label, func.count())
        .join(Feedback, Feedback.request_id == Prediction.request_id)
        .where(_window(deployment, since, until), Prediction.error.is_(None))
        .group_by(bucket, Prediction.variant, output, label)
    )
    series = Series()
    for b, variant, out_text, label_text, n in conn.execute(query):
        truth = _json(label_text)
        if truth is None:
            continue
        hit = label_key(_json(out_text)) == label_key(truth)
        series.add(str(variant), b, int(n) if hit else 0, int(n))
    return series


def disagreement_series(
    conn: Connection, deployment: str, since: float, until: float, width: int
) -> Series:
    """Per shadow and bucket: requests where the shadow's output differs from the champion's
    (numerator) out of the requests both answered (denominator)."""
    champ = Prediction.__table__.alias("champ")
    bucket = bucket_start(Prediction.created_at, width)
    mine, theirs = cast(Prediction.output, String), cast(champ.c.output, String)
    query = (
        select(bucket, Prediction.variant, mine, theirs, func.count())
        .join(
            champ,
            and_(
                champ.c.request_id == Prediction.request_id,
                champ.c.variant == CHAMPION,
                champ.c.error.is_(None),
            ),
        )
        .where(
            _window(deployment, since, until),
            Prediction.mode == "shadow",
            Prediction.error.is_(None),
        )
        .group_by(bucket, Prediction.variant, mine, theirs)
    )
    series = Series()
    for b, variant, a, c, n in conn.execute(query):
        differ = label_key(_json(a)) != label_key(_json(c))
        series.add(str(variant), b, int(n) if differ else 0, int(n))
    return series


# -- feature distributions ----------------------------------------------------------------


def _champion_rows(deployment: str, since: float, until: float) -> Any:
    return and_(_window(deployment, since, until), Prediction.variant == CHAMPION)


def numeric_range(
    conn: Connection, deployment: str, feature: str, since: float, until: float
) -> tuple[float, float] | None:
    """``(min, max)`` of a numeric feature of the champion's rows (None when none)."""
    x = Prediction.features[feature].as_float()
    lo, hi = conn.execute(
        select(func.min(x), func.max(x)).where(_champion_rows(deployment, since, until))
    ).one()
    return None if lo is None or hi is None else (float(lo), float(hi))


def numeric_histograms(
    conn: Connection,
    deployment: str,
    feature: str,
    edges: Sequence[float],
    since: float,
    until: float,
    width: int,
) -> dict[float, list[int]]:
    """Per bucket, counts of a numeric feature in the bins ``(-inf, e1), [e1, e2), ...,
    [e_k, +inf)`` of the *inner* edges ``edges`` (``len(edges) + 1`` bins; missing
    values are not counted). The bin is a ``CASE`` over the edges, evaluated in SQL."""
    x = Prediction.features[feature].as_float()
    whens = [(x < float(e), i) for i, e in enumerate(edges)]
    binned = case(*whens, else_=len(edges)) if whens else case((x.is_not(None), 0))
    bucket = bucket_start(Prediction.created_at, width)
    query = (  # grouped by label: the CASE's bound edges differ textually per clause
        select(bucket.label("bkt"), binned.label("bin_"), func.count())
        .where(_champion_rows(deployment, since, until), x.is_not(None))
        .group_by("bkt", "bin_")
    )
    out: dict[float, list[int]] = {}
    for b, i, n in conn.execute(query):
        counts = out.setdefault(float(b), [0] * (len(edges) + 1))
        counts[int(i)] += int(n)
    return out


def category_counts(
    conn: Connection, deployment: str, feature: str, since: float, until: float, width: int
) -> dict[float, dict[str, int]]:
    """Per bucket, counts per category of a categorical feature (missing: not counted)."""
    x = Prediction.features[feature].as_string()
    bucket = bucket_start(Prediction.created_at, width)
    query = (  # grouped by label: the JSON key is a bound parameter
        select(bucket.label("bkt"), x.label("cat_"), func.count())
        .where(_champion_rows(deployment, since, until), x.is_not(None))
        .group_by("bkt", "cat_")
    )
    out: dict[float, dict[str, int]] = {}
    for b, value, n in conn.execute(query):
        slot = out.setdefault(float(b), {})
        slot[str(value)] = slot.get(str(value), 0) + int(n)
    return out


# -- experiments ----------------------------------------------------------------------


def experiment_sums(
    conn: Connection, deployment: str, arms: Sequence[str], since: float, until: float
) -> tuple[dict[str, int], MetricSums]:
    """Sufficient statistics of an A/B experiment, aggregated in SQL.

    A unit (``unit_hash``) belongs to an arm when all its served rows in the window are
    of that arm (units seen in several arms are left out; shadows do not count). Its
    business events from its first exposure to ``until`` (of this deployment, or of no
    deployment) are summed per event name; per arm and name the query returns the
    number of units with the event, the sum of their totals and the sum of squares.
    Units without the event count as zeros.
    """
    P = Prediction
    served = and_(_window(deployment, since, until), P.variant.in_(list(arms)), P.mode != "shadow")
    exposed, metrics = business_sums(conn, served, deployment, until, arms)
    return {arm: exposed.get(arm, 0) for arm in arms}, metrics
