"""Helpers of the controller, API and gateway rollout tests (helper C).

The MLflow registry is the gateway tests' one (``tests/gateway/conftest.py``: ``fraud``
v1/v2 scikit-learn pipelines, ``sleepy`` v1 slow / v2 raises / v3 hangs), copied per
test with SQLite's backup API so alias moves in one test never leak into another.
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from accuguard.audit import AuditLog
from accuguard.rollout.controller import Controller
from accuguard.store import make_engine, upgrade
from accuguard.store.models import Feedback, Prediction

PLAN: dict[str, Any] = {
    "steps": [
        {
            "name": "shadow",
            "mode": "shadow",
            "min_requests": 20,
            "max_duration_s": 600,
            "gate": {"checks": [{"check": "error_rate", "max": 0.2, "min_samples": 20}]},
        },
        {
            "name": "canary-10",
            "mode": "canary",
            "weight": 0.1,
            "min_requests": 20,
            "gate": {"checks": [{"check": "error_rate", "max": 0.2, "min_samples": 20}]},
        },
    ]
}


class Clock:
    """A settable clock (unix seconds)."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def copy_registry(shared_uri: str, dest: Path) -> str:
    """A private copy of the SQLite registry at ``shared_uri``; returns its URI."""
    source = shared_uri.removeprefix("sqlite:///")
    target = dest / "mlflow.db"
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    return f"sqlite:///{target}"


def mlflow_client(uri: str) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri)


def store(tmp_path: Path, name: str = "events.db") -> Any:
    engine = make_engine(f"sqlite:///{tmp_path / name}")
    upgrade(engine)
    return engine


def controller(engine: Any, client: Any, clock: Clock, **kwargs: Any) -> Controller:
    kwargs.setdefault("lease_ttl_s", 30.0)
    return Controller(engine, client, AuditLog(engine), clock=clock, **kwargs)


def add_predictions(
    engine: Any,
    *,
    variant: str,
    mode: str,
    version: str,
    at: float,
    n: int,
    errors: int = 0,
    deployment: str = "fraud",
    pair_with_champion: str | None = None,
    label: int | None = None,
) -> list[str]:
    """``n`` predictions of ``variant`` at time ``at`` (the first ``errors`` failed).

    ``pair_with_champion``: also write the champion's row (that version) for the same
    request ids, as the gateway does for a shadow. ``label``: feedback for each request.
    """
    ids = [uuid.uuid4().hex for _ in range(n)]
    rows = []
    for i, rid in enumerate(ids):
        base = {
            "request_id": rid,
            "deployment": deployment,
            "unit_hash": f"u{i}",
            "features": {"amount": float(i)},
            "output": i % 2,
            "score": (i % 10) / 10,
            "latency_ms": 5.0,
            "created_at": at + i * 1e-3,
        }
        failed = i < errors
        rows.append(
            {
                **base,
                "variant": variant,
                "mode": mode,
                "model_version": version,
                "error": "RuntimeError: broken" if failed else None,
            }
        )
        if pair_with_champion is not None:
            rows.append(
                {
                    **base,
                    "variant": "champion",
                    "mode": "champion",
                    "model_version": pair_with_champion,
                    "error": None,
                }
            )
    with engine.begin() as conn:
        conn.execute(insert(Prediction), rows)
        if label is not None:
            conn.execute(
                insert(Feedback),
                [{"request_id": r, "label": label, "created_at": at + 1} for r in ids],
            )
    return ids
