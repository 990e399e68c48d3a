"""Retention by time: delete events older than a cutoff, in bounded batches.

``prune_events(engine, older_than_s)`` deletes ``predictions``, ``feedback`` and
``business_events`` rows whose ``created_at`` is before ``now - older_than_s``, oldest
first, ``batch`` rows per transaction::

    DELETE FROM predictions WHERE (request_id, variant) IN
        (SELECT request_id, variant FROM predictions
         WHERE created_at < :cutoff ORDER BY created_at LIMIT :batch)

so each transaction holds its locks, its WAL and its undo for a bounded number of rows
(the gateways keep writing meanwhile), and an interrupted prune is simply run again.
The ``created_at`` indexes (migration 0005) make each batch an index range scan.
``erasures``, the audit log and the controller's tables are never touched.

Each table is pruned by its own ``created_at``: a label that arrives late is kept until
it is itself older than the cutoff (choose a retention longer than your slowest labels
and than the longest rollout step).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.engine import Engine

from accuguard.errors import InputError
from accuguard.store.models import BusinessEvent, Feedback, Prediction

#: tables pruned, in this order (the keys of their rows)
TABLES: dict[str, tuple[Any, tuple[str, ...]]] = {
    "predictions": (Prediction, ("request_id", "variant")),
    "feedback": (Feedback, ("request_id",)),
    "business_events": (BusinessEvent, ("event_id",)),
}
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}
DEFAULT_BATCH = 10_000


def parse_age(text: str, what: str = "--older-than") -> float:
    """Seconds in an age such as ``90d``, ``12h``, ``2w``, ``30m`` or ``3600s``.

    >>> parse_age("90d"), parse_age("1.5h")
    (7776000.0, 5400.0)
    >>> parse_age("soon")
    Traceback (most recent call last):
    ...
    accuguard.errors.InputError: --older-than 'soon' is not an age; use a number and a unit \
s, m, h, d or w (e.g. 90d)
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text)
    if not match:
        raise InputError(
            f"{what} {text!r} is not an age; use a number and a unit s, m, h, d or w (e.g. 90d)"
        )
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise InputError(f"{what} {text!r} must be more than zero")
    return seconds


def prune_events(
    engine: Engine,
    older_than_s: float,
    *,
    now: float | None = None,
    batch: int = DEFAULT_BATCH,
    dry_run: bool = False,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Delete events older than ``older_than_s`` seconds; rows deleted per table.

    ``dry_run`` counts what would go and deletes nothing. ``progress(table, n)`` is
    called after every committed batch.
    """
    if older_than_s <= 0:
        raise InputError(f"retention age must be more than zero; got {older_than_s} s")
    if batch < 1:
        raise InputError(f"--batch must be at least 1; got {batch}")
    cutoff = (time.time() if now is None else now) - older_than_s
    deleted: dict[str, int] = {}
    for name, (model, key) in TABLES.items():
        old = model.created_at < cutoff
        if dry_run:
            with engine.connect() as conn:
                query = select(func.count()).select_from(model).where(old)
                deleted[name] = int(conn.execute(query).scalar_one())
            continue
        columns = [getattr(model, k) for k in key]
        oldest = select(*columns).where(old).order_by(model.created_at).limit(batch)
        target = columns[0] if len(columns) == 1 else tuple_(*columns)
        statement = delete(model).where(target.in_(oldest))
        total = 0
        while True:
            with engine.begin() as conn:
                n = int(conn.execute(statement).rowcount)
            total += n
            if progress is not None and n:
                progress(name, n)
            if n < batch:
                break
        deleted[name] = total
    return deleted
