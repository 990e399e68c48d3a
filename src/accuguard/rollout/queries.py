"""The SQL behind :func:`accuguard.rollout.evidence.collect_evidence`.

Counts and business metrics are SQL aggregates; latencies, scores and labelled
``(label, output)`` pairs are streamed one column at a time (``yield_per`` partitions,
server-side cursors on PostgreSQL); ``features`` are read only for the input-drift
sample, at most ``limit`` rows chosen in SQL (every k-th served row in time order).
Every query works on SQLite and PostgreSQL (JSON columns are never compared in SQL:
PostgreSQL's ``json`` type has no equality).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from sqlalchemy import Select, and_, distinct, func, or_, select
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


@dataclass
class Paired:
    """Shadow pairs: counts, ``(label, champion, challenger)`` tallies, sorted scores."""

    pairs: int = 0
    disagreements: int = 0
    labelled: Counter[tuple[Hashable, Hashable, Hashable]] = field(default_factory=Counter)
    champion_scores: FloatArray = field(default_factory=lambda: np.empty(0))
    challenger_scores: FloatArray = field(default_factory=lambda: np.empty(0))


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


def column_query(window: Window, *, champion: bool, col: str) -> Select[Any]:
    """One numeric column of an arm's rows (scores: only rows the arm's model answered)."""
    column = getattr(Prediction, col)
    where = [_in_window(window), _arm(window, champion=champion), column.is_not(None)]
    if col == "score":
        where.append(_served_by(window, champion=champion))
    return select(column).where(*where)


def _stream(conn: Connection, query: Select[Any]) -> Iterator[Sequence[Any]]:
    result = conn.execution_options(stream_results=True, yield_per=_CHUNK).execute(query)
    for partition in result.partitions():
        yield from partition


def floats(conn: Connection, query: Select[Any]) -> FloatArray:
    values = np.fromiter((row[0] for row in _stream(conn, query)), dtype=np.float64)
    values = values[np.isfinite(values)]
    values.sort()
    return values


def _feedback_join(window: Window) -> Any:
    return and_(Feedback.request_id == Prediction.request_id, Feedback.created_at < window.end)


def labelled(
    conn: Connection, window: Window, *, champion: bool
) -> Counter[tuple[Hashable, Hashable]]:
    query = (
        select(Feedback.label, Prediction.output)
        .join(Feedback, _feedback_join(window))
        .where(
            _in_window(window),
            _arm(window, champion=champion),
            _served_by(window, champion=champion),
        )
    )
    counts: Counter[tuple[Hashable, Hashable]] = Counter()
    for label, output in _stream(conn, query):
        if label is not None:
            counts[(label_key(label), label_key(output))] += 1
    return counts


def paired(conn: Connection, window: Window) -> Paired:
    """Shadow pairs: requests both models answered, joined with their label if any."""
    c = Prediction.__table__.alias("c")
    query = (
        select(c.c.output, Prediction.output, c.c.score, Prediction.score, Feedback.label)
        .join(
            c,
            and_(
                c.c.request_id == Prediction.request_id,
                c.c.variant == CHAMPION_VARIANT,
                c.c.model_version == window.champion_version,
                c.c.error.is_(None),
            ),
        )
        .outerjoin(Feedback, _feedback_join(window))
        .where(
            _in_window(window),
            _arm(window, champion=False),
            _served_by(window, champion=False),
        )
    )
    out = Paired()
    champ_scores: list[float] = []
    chal_scores: list[float] = []
    for champ_out, chal_out, champ_score, chal_score, label in _stream(conn, query):
        a, b = label_key(champ_out), label_key(chal_out)
        out.pairs += 1
        out.disagreements += a != b
        if champ_score is not None and chal_score is not None:
            champ_scores.append(champ_score)
            chal_scores.append(chal_score)
        if label is not None:
            out.labelled[(label_key(label), a, b)] += 1
    out.champion_scores = _sorted_finite(champ_scores)
    out.challenger_scores = _sorted_finite(chal_scores)
    return out


def _sorted_finite(values: list[float]) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64)
    return np.sort(arr[np.isfinite(arr)])


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
