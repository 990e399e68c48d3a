"""A real SQLite event log per test, and helpers to fill it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from accuguard.store import FeedbackRecord, PredictionRecord, make_engine
from accuguard.store.migrate import upgrade
from accuguard.store.repository import EventRepository


@pytest.fixture
def engine(tmp_path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'events.db'}")
    upgrade(eng)
    yield eng
    eng.dispose()


def log_predictions(
    engine: Engine,
    features: Sequence[dict[str, Any]],
    *,
    t0: float,
    dt: float = 0.01,
    outputs: Sequence[Any] | None = None,
    scores: Sequence[float | None] | None = None,
    labels: Sequence[Any] | None = None,
    label_at: float | None = None,
    variant: str = "champion",
    deployment: str = "fraud",
    prefix: str = "r",
    version: str = "1",
) -> list[str]:
    """Insert one prediction per feature row (times t0, t0+dt, ...) and optional labels."""
    repo = EventRepository(engine)
    ids = [f"{prefix}{i}" for i in range(len(features))]
    repo.insert_predictions(
        [
            PredictionRecord(
                request_id=ids[i],
                deployment=deployment,
                variant=variant,
                mode="champion" if variant == "champion" else "canary",
                model_version=version,
                unit_hash=f"u{i}",
                features=dict(features[i]),
                output=None if outputs is None else outputs[i],
                score=None if scores is None else scores[i],
                latency_ms=1.0,
                created_at=t0 + i * dt,
            )
            for i in range(len(features))
        ]
    )
    if labels is not None:
        at = label_at if label_at is not None else t0 + len(features) * dt
        repo.insert_feedback(
            [
                FeedbackRecord(ids[i], labels[i], at)
                for i in range(len(ids))
                if labels[i] is not None
            ]
        )
    return ids
