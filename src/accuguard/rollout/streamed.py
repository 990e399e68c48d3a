"""The former evidence reader that streams every row of the window into Python.

Latencies and scores are fetched one column at a time (``yield_per`` partitions,
server-side cursors on PostgreSQL) into sorted numpy arrays, and labelled
``(label, output)`` rows are tallied one by one. Memory and time grow with the window
(about 40 MB per million values, plus a JSON decode per labelled row), which is why
:func:`accuguard.rollout.evidence.collect_evidence` now aggregates in SQL
(:mod:`accuguard.rollout.aggregates`). This module is kept as the reference the SQL
path is tested against (``tests/rollout/test_queries_aggregate.py``) and the baseline
of ``bench/event_log_pg.py``; pass ``streamed=True`` to ``collect_evidence`` to use it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Select, and_, select
from sqlalchemy.engine import Connection

from accuguard.rollout.queries import (
    CHAMPION_VARIANT,
    _arm,
    _feedback_join,
    _in_window,
    _served_by,
    _stream,
    label_key,
)
from accuguard.stats.ecdf import ecdf_distances
from accuguard.store.models import Feedback, Prediction

if TYPE_CHECKING:
    from accuguard.rollout.evidence import Window

FloatArray = npt.NDArray[np.float64]


@dataclass
class Paired:
    """Shadow pairs: counts, ``(label, champion, challenger)`` tallies, sorted scores."""

    pairs: int = 0
    disagreements: int = 0
    labelled: Counter[tuple[Hashable, Hashable, Hashable]] = field(default_factory=Counter)
    champion_scores: FloatArray = field(default_factory=lambda: np.empty(0))
    challenger_scores: FloatArray = field(default_factory=lambda: np.empty(0))


def column_query(window: Window, *, champion: bool, col: str) -> Select[Any]:
    """One numeric column of an arm's rows (scores: only rows the arm's model answered)."""
    column = getattr(Prediction, col)
    where = [_in_window(window), _arm(window, champion=champion), column.is_not(None)]
    if col == "score":
        where.append(_served_by(window, champion=champion))
    return select(column).where(*where)


def floats(conn: Connection, query: Select[Any]) -> FloatArray:
    """The finite values of a one-column query, sorted."""
    values = np.fromiter((row[0] for row in _stream(conn, query)), dtype=np.float64)
    values = values[np.isfinite(values)]
    values.sort()
    return values


def labelled(
    conn: Connection, window: Window, *, champion: bool
) -> Counter[tuple[Hashable, Hashable]]:
    """``(label, output)`` counts, one row at a time."""
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


def ks_statistic(ref: FloatArray, cur: FloatArray) -> float | None:
    """The KS statistic of two sorted samples (``None`` if one is empty)."""
    if ref.size == 0 or cur.size == 0:
        return None
    return ecdf_distances(ref, cur)[0]
