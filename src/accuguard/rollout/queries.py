"""The SQL behind :func:`accuguard.rollout.evidence.collect_evidence`.

Everything is aggregated in SQL, so a window of any size costs the controller a few
thousand numbers: counts and business metrics; labelled ``(label, output)`` tallies as
``GROUP BY CAST(label AS TEXT), CAST(output AS TEXT)`` counts (PostgreSQL's ``json``
has no equality, its text has; the texts are parsed and merged by :func:`label_key`
here, so ``1``, ``1.0`` and ``true`` still count as one class); latencies and scores as
*sources* (``arm``, ``x``) that :mod:`accuguard.rollout.aggregates` reduces to order
statistics and the KS statistic. ``features`` are read only for the input-drift sample,
at most ``limit`` rows chosen in SQL (every k-th served row in time order). Every query
works on SQLite and PostgreSQL. (The former row-streaming reader is
:mod:`accuguard.rollout.streamed`, kept as the reference the tests compare with.)
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Hashable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from sqlalchemy import (
    Select,
    Subquery,
    Text,
    and_,
    case,
    cast,
    distinct,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.engine import Connection

from accuguard.profile.columns import (
    CategoricalColumnProfile,
    ColumnProfile,
    NumericColumnProfile,
    profile_column,
)
from accuguard.store.business import business_sums
from accuguard.store.models import Feedback, Prediction
from accuguard.validate.schema import kind_of
from accuguard.validate.sources import open_source

if TYPE_CHECKING:
    from accuguard.rollout.evidence import Window

FloatArray = npt.NDArray[np.float64]
CHAMPION_VARIANT = "champion"
_CHUNK = 10_000  # rows per fetched partition when streaming

#: per arm (``"champion"`` / ``"challenger"``): (requests, errors, distinct units)
Counts = dict[str, tuple[int, int, int]]
#: per arm: (exposed units, units with the event, sum of per-unit totals, sum of squares)
BusinessRow = tuple[int, int, float, float]


def label_key(value: Any) -> Hashable:
    """A hashable, comparable form of a JSON label: ``True``/``1``/``1.0`` are all ``1``.

    >>> label_key(True), label_key(1.0), label_key("yes"), label_key([1, 2])
    (1, 1, 'yes', '[1, 2]')
    """
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value is None or isinstance(value, int | float | str):
        return value
    return json.dumps(value, sort_keys=True)


def _in_window(window: Window) -> Any:
    return and_(
        Prediction.deployment == window.deployment,
        Prediction.created_at >= window.start,
        Prediction.created_at < window.end,
    )


def _arm(window: Window, *, champion: bool) -> Any:
    if champion:
        return and_(
            Prediction.variant == CHAMPION_VARIANT,
            Prediction.model_version == window.champion_version,
        )
    return Prediction.variant == window.challenger_variant


def _served_by(window: Window, *, champion: bool) -> Any:
    """Rows the arm's own model answered (a failed challenger's rows are left out)."""
    version = window.champion_version if champion else window.challenger_version
    return and_(Prediction.error.is_(None), Prediction.model_version == version)


def detect_mode(conn: Connection, window: Window) -> Literal["shadow", "canary"] | None:
    query = select(Prediction.mode).where(_in_window(window), _arm(window, champion=False)).limit(1)
    found = conn.execute(query).scalar_one_or_none()
    if found == "shadow":
        return "shadow"
    return "canary" if found is not None else None


def counts(conn: Connection, window: Window) -> Counts:
    """Requests, errors (``error`` set) and distinct units per arm."""
    query = (
        select(
            Prediction.variant,
            func.count(),
            func.count(Prediction.error),
            func.count(distinct(Prediction.unit_hash)),
        )
        .where(_in_window(window), or_(_arm(window, champion=True), _arm(window, champion=False)))
        .group_by(Prediction.variant)
    )
    out: Counts = {}
    for variant, requests, errors, units in conn.execute(query):
        arm = "champion" if variant == CHAMPION_VARIANT else "challenger"
        out[arm] = (int(requests), int(errors), int(units))
    return out


def _stream(
    conn: Connection, query: Select[Any, Any, Any] | Select[Any]
) -> Iterator[Sequence[Any]]:
    result = conn.execution_options(stream_results=True, yield_per=_CHUNK).execute(query)
    for partition in result.partitions():
        yield from partition


def _json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _arm_number(window: Window) -> Any:
    return case((Prediction.variant == CHAMPION_VARIANT, 0), else_=1)


def latency_source(window: Window) -> Subquery:
    """``(arm, x)``: the latency of every row of both arms (failed challenger calls too)."""
    both = or_(_arm(window, champion=True), _arm(window, champion=False))
    return (
        select(_arm_number(window).label("arm"), Prediction.latency_ms.label("x"))
        .where(_in_window(window), both)
        .subquery("latencies")
    )


def score_source(window: Window) -> Subquery:
    """``(arm, x)``: the scores of the rows each arm's own model answered (canary)."""
    served = or_(
        and_(_arm(window, champion=True), _served_by(window, champion=True)),
        and_(_arm(window, champion=False), _served_by(window, champion=False)),
    )
    return (
        select(_arm_number(window).label("arm"), Prediction.score.label("x"))
        .where(_in_window(window), served, Prediction.score.is_not(None))
        .subquery("scores")
    )


def _pairs(window: Window) -> tuple[Any, Select[Any]]:
    """The champion's row alias and the join of answered challenger rows with it."""
    c = Prediction.__table__.alias("c")
    joined = (
        select()
        .select_from(Prediction)
        .join(
            c,
            and_(
                c.c.request_id == Prediction.request_id,
                c.c.variant == CHAMPION_VARIANT,
                c.c.model_version == window.champion_version,
                c.c.error.is_(None),
            ),
        )
        .where(
            _in_window(window),
            _arm(window, champion=False),
            _served_by(window, champion=False),
        )
    )
    return c, joined


def paired_score_source(window: Window) -> Subquery:
    """``(arm, x)``: both scores of every shadow pair where both models gave one."""
    c, joined = _pairs(window)
    both = and_(c.c.score.is_not(None), Prediction.score.is_not(None))
    return union_all(
        joined.add_columns(literal(0).label("arm"), c.c.score.label("x")).where(both),
        joined.add_columns(literal(1).label("arm"), Prediction.score.label("x")).where(both),
    ).subquery("paired_scores")


def labelled_counts(
    conn: Connection, window: Window, *, champion: bool
) -> Counter[tuple[Hashable, Hashable]]:
    """``(label, output)`` counts of an arm's answered rows with a label before ``end``."""
    label, output = cast(Feedback.label, Text), cast(Prediction.output, Text)
    query = (
        select(label, output, func.count())
        .join(Feedback, _feedback_join(window))
        .where(
            _in_window(window),
            _arm(window, champion=champion),
            _served_by(window, champion=champion),
        )
        .group_by(label, output)
    )
    counts: Counter[tuple[Hashable, Hashable]] = Counter()
    for label_text, output_text, k in _stream(conn, query):
        value = _json(label_text)
        if value is not None:
            counts[(label_key(value), label_key(_json(output_text)))] += int(k)
    return counts


def paired_counts(
    conn: Connection, window: Window
) -> tuple[int, int, Counter[tuple[Hashable, Hashable, Hashable]]]:
    """Shadow pairs: ``(pairs, disagreements, (label, champion, challenger) counts)``."""
    c, joined = _pairs(window)
    keys = (cast(c.c.output, Text), cast(Prediction.output, Text), cast(Feedback.label, Text))
    query = (
        joined.add_columns(*keys, func.count())
        .outerjoin(Feedback, _feedback_join(window))
        .group_by(*keys)
    )
    pairs = disagreements = 0
    labelled: Counter[tuple[Hashable, Hashable, Hashable]] = Counter()
    for champ_text, chal_text, label_text, k in _stream(conn, query):
        a, b, k = label_key(_json(champ_text)), label_key(_json(chal_text)), int(k)
        pairs += k
        disagreements += k if a != b else 0
        value = _json(label_text)
        if value is not None:
            labelled[(label_key(value), a, b)] += k
    return pairs, disagreements, labelled


def _feedback_join(window: Window) -> Any:
    return and_(Feedback.request_id == Prediction.request_id, Feedback.created_at < window.end)


def business(
    conn: Connection, window: Window
) -> tuple[dict[str, int], dict[str, dict[str, BusinessRow]]]:
    """Per arm and event name: exposed units, converted units, per-unit sum and sum of squares.

    A unit belongs to an arm if all its rows in the window are of that arm (units seen in
    both arms, e.g. across a weight change, are left out); events count from the unit's
    first exposure in the window to ``end``.
    """
    served = and_(
        _in_window(window), or_(_arm(window, champion=True), _arm(window, champion=False))
    )
    names = {CHAMPION_VARIANT: "champion", window.challenger_variant: "challenger"}
    exposed, by_variant = business_sums(conn, served, window.deployment, window.end, list(names))
    metrics: dict[str, dict[str, BusinessRow]] = {
        name: {names[v]: row for v, row in rows.items() if v in names}
        for name, rows in by_variant.items()
    }
    per_arm = {
        "champion": exposed.get(CHAMPION_VARIANT, 0),
        "challenger": exposed.get(window.challenger_variant, 0),
    }
    return per_arm, metrics


# -- input drift ---------------------------------------------------------------------


def input_profiles(
    conn: Connection, window: Window, reference: Mapping[str, ColumnProfile], limit: int
) -> tuple[dict[str, ColumnProfile], int]:
    """Profiles of the reference's columns over a systematic sample of served rows."""
    served = and_(
        _in_window(window),
        or_(_arm(window, champion=True), _arm(window, champion=False)),
        Prediction.mode != "shadow",
    )
    n = int(conn.execute(select(func.count()).select_from(Prediction).where(served)).scalar_one())
    if n == 0:
        return {}, 0
    stride = max(1, math.ceil(n / limit))
    numbered = (
        select(
            Prediction.features.label("features"),
            func.row_number()
            .over(order_by=(Prediction.created_at, Prediction.request_id))
            .label("rn"),
        )
        .where(served)
        .subquery()
    )
    query = select(numbered.c.features).where((numbered.c.rn - 1) % stride == 0)
    values: dict[str, list[Any]] = {name: [] for name in reference}
    rows = 0
    for (features,) in _stream(conn, query):
        rows += 1
        got = features if isinstance(features, dict) else {}
        for name, column in values.items():
            column.append(got.get(name))
    profiles: dict[str, ColumnProfile] = {}
    for name, ref in reference.items():
        column = values[name]
        if all(v is None for v in column):
            continue  # the feature is not sent to this deployment
        profiles[name] = _profile_values(column, ref)
    return profiles, rows


def _profile_values(column: list[Any], ref: ColumnProfile) -> ColumnProfile:
    if isinstance(ref, NumericColumnProfile):
        numbers = [float(v) if isinstance(v, int | float) else None for v in column]
        return profile_column(pa.array(numbers, type=pa.float64()), "numeric")
    texts = [None if v is None else str(v) for v in column]
    return profile_column(pa.array(texts, type=pa.string()), "categorical")


def load_reference_profile(
    path: str | Path, columns: Sequence[str] | None = None
) -> dict[str, ColumnProfile]:
    """Profile the numeric and categorical columns of a Parquet or CSV reference file.

    Raises :class:`~accuguard.errors.DataError` naming the file when it cannot be read.
    """
    source = open_source(path, "reference")
    try:
        kinds = {
            f.name: kind
            for f in source.schema
            if (kind := kind_of(f.type)) is not None and (columns is None or f.name in columns)
        }
        profiles: dict[str, ColumnProfile] = {}
        if not kinds:
            return profiles
        for batch in source.iter_batches(list(kinds)):
            for name, kind in kinds.items():
                part = profile_column(batch.column(name), kind)
                current = profiles.get(name)
                profiles[name] = part if current is None else _merge(current, part)
        return profiles
    finally:
        source.close()


def _merge(a: ColumnProfile, b: ColumnProfile) -> ColumnProfile:
    if isinstance(a, NumericColumnProfile) and isinstance(b, NumericColumnProfile):
        return a + b
    if isinstance(a, CategoricalColumnProfile) and isinstance(b, CategoricalColumnProfile):
        return a + b
    raise ValueError("cannot merge profiles of different kinds")
