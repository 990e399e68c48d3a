"""The features the gateway logged at serving time, read from the event log.

One row per served request of a deployment in ``[since, until)``: shadow rows are left
out (a shadow saw the same features as the model that answered). Above ``max_rows``
served requests, a systematic sample is read: every k-th request in time order, as the
rollout's input-drift evidence does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, ProgrammingError

from accuguard.errors import InputError
from accuguard.store.engine import describe_url
from accuguard.store.models import Prediction

_CHUNK = 2_000


@dataclass(frozen=True)
class LoggedRows:
    """Logged requests: ids, times (unix seconds, UTC) and feature dicts, in time order."""

    request_ids: list[str]
    created_at: list[float]
    features: list[dict[str, Any]]
    served: int
    """Served requests in the window (``len(request_ids)`` is the sample read)."""

    def __len__(self) -> int:
        return len(self.request_ids)


def read_logged(
    engine: Engine, deployment: str, since: float, until: float, max_rows: int
) -> LoggedRows:
    """Served requests of ``deployment`` with ``since <= created_at < until``.

    Raises :class:`InputError` when the database has no event log.
    """
    if max_rows < 1:
        raise InputError(f"--max-rows must be at least 1; got {max_rows}")
    served = and_(
        Prediction.deployment == deployment,
        Prediction.created_at >= since,
        Prediction.created_at < until,
        Prediction.mode != "shadow",
    )
    try:
        with engine.connect() as conn:
            n = int(
                conn.execute(
                    select(func.count()).select_from(Prediction).where(served)
                ).scalar_one()
            )
            stride = max(1, math.ceil(n / max_rows))
            numbered = (
                select(
                    Prediction.request_id,
                    Prediction.created_at,
                    Prediction.features,
                    func.row_number()
                    .over(order_by=(Prediction.created_at, Prediction.request_id))
                    .label("rn"),
                )
                .where(served)
                .subquery()
            )
            query = (
                select(numbered.c.request_id, numbered.c.created_at, numbered.c.features)
                .where((numbered.c.rn - 1) % stride == 0)
                .order_by(numbered.c.rn)
            )
            result = conn.execution_options(stream_results=True, yield_per=_CHUNK).execute(query)
            ids: list[str] = []
            times: list[float] = []
            features: list[dict[str, Any]] = []
            for request_id, created_at, row in result:
                ids.append(str(request_id))
                times.append(float(created_at))
                features.append(row if isinstance(row, dict) else {})
    except (OperationalError, ProgrammingError) as exc:
        where = describe_url(engine.url)
        if "no such table" in str(exc) or "does not exist" in str(exc):
            raise InputError(
                f"--store-url {where!r}: no event log there (table 'predictions' is missing)"
            ) from None
        raise
    return LoggedRows(ids, times, features, n)
