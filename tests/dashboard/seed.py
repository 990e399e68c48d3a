"""A seeded event log for the dashboard tests, kept as Python rows too so that every
aggregate can be recomputed independently (numpy / pandas on the same rows).

Deployment ``fraud`` over three days from ``T0``: the champion (v1), a canary ``v2``
(some of its rows failed: ``error`` set), a shadow ``s1`` mirroring part of the
champion's requests, labels for about 70 % of the requests (some written as ``1.0`` or
``true`` to check that they match the output ``1``), features ``amount`` (shifted on
the third day) and ``country``. Deployment ``shop``: an A/B experiment champion/``b``
with business events ``conversion`` (0/1 per unit) and ``revenue``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import insert

from accuguard.store.models import BusinessEvent, Feedback, Prediction

T0 = 1_800_000_000.0  # unix seconds
DAY = 86_400.0


@dataclass
class Seeded:
    predictions: list[dict[str, Any]] = field(default_factory=list)
    feedback: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)


def _prediction(rid, variant, mode, t, out, latency, unit, features, error=None, dep="fraud"):
    return {
        "request_id": rid,
        "variant": variant,
        "deployment": dep,
        "mode": mode,
        "model_version": {"champion": "1"}.get(variant, "2"),
        "unit_hash": unit,
        "features": features,
        "output": out,
        "score": None,
        "latency_ms": latency,
        "created_at": t,
        "error": error,
    }


def make_rows(seed: int = 0, n: int = 900, t0: float = T0) -> Seeded:
    """The seeded rows over ``[t0, t0 + 3 days)``."""
    rng = np.random.default_rng(seed)
    s = Seeded()
    times = np.sort(t0 + rng.uniform(0, 3 * DAY, size=n))
    for i, t in enumerate(times):
        rid = f"r{i}"
        late = t > t0 + 2 * DAY
        features = {
            "amount": float(rng.normal(1.0 if late else 0.0, 1.0)),
            "country": str(rng.choice(["fr", "de", "us"], p=[0.2, 0.3, 0.5] if late else None)),
        }
        canary = rng.random() < 0.2
        variant, mode = ("v2", "canary") if canary else ("champion", "champion")
        error = "canary v2 failed" if canary and rng.random() < 0.1 else None
        out = int(rng.random() < 0.4)
        latency = float(rng.lognormal(2.0, 0.5))
        unit = f"u{i % 300}"
        s.predictions.append(
            _prediction(rid, variant, mode, float(t), out, latency, unit, features, error)
        )
        if not canary and rng.random() < 0.5:  # mirrored to the shadow
            shadow_out = out if rng.random() < 0.8 else 1 - out
            s.predictions.append(
                _prediction(rid, "s1", "shadow", float(t), shadow_out, latency * 2, unit, features)
            )
        if rng.random() < 0.7:
            truth = out if rng.random() < 0.75 else 1 - out
            label: Any = truth
            if truth == 1 and rng.random() < 0.3:
                label = 1.0 if rng.random() < 0.5 else True
            s.feedback.append({"request_id": rid, "label": label, "created_at": float(t) + 60})
    _experiment(s, rng, t0)
    return s


def _experiment(s: Seeded, rng: np.random.Generator, t0: float) -> None:
    for u in range(400):
        arm = "b" if u % 3 == 0 else "champion"
        unit = f"shop-u{u}"
        first = t0 + float(rng.uniform(0, DAY))
        for k in range(int(rng.integers(1, 4))):
            s.predictions.append(
                _prediction(
                    f"shop-{u}-{k}",
                    arm,
                    "ab" if arm == "b" else "champion",
                    first + k * 10,
                    0,
                    5.0,
                    unit,
                    {"x": 1.0},
                    dep="shop",
                )
            )
        p = 0.3 if arm == "b" else 0.2
        if rng.random() < p:
            s.events.append(
                {
                    "event_id": f"c{u}",
                    "deployment": "shop",
                    "unit_hash": unit,
                    "name": "conversion",
                    "value": 1.0,
                    "created_at": first + 100,
                }
            )
        for j in range(int(rng.integers(0, 3))):
            s.events.append(
                {
                    "event_id": f"v{u}-{j}",
                    "deployment": None,
                    "unit_hash": unit,
                    "name": "revenue",
                    "value": float(rng.gamma(2.0, 10.0)),
                    "created_at": first + 200 + j,
                }
            )
        # an event before the unit's first exposure does not count
        s.events.append(
            {
                "event_id": f"early{u}",
                "deployment": "shop",
                "unit_hash": unit,
                "name": "revenue",
                "value": 1000.0,
                "created_at": first - 50,
            }
        )


def load(engine, rows: Seeded) -> None:
    with engine.begin() as conn:
        conn.execute(insert(Prediction), rows.predictions)
        conn.execute(insert(Feedback), rows.feedback)
        conn.execute(insert(BusinessEvent), rows.events)
