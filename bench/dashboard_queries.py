"""How long the dashboard's SQL takes on a year of events (SQLite, optionally PostgreSQL).

Seeds ``--rows`` predictions of one deployment spread over 365 days (champion, a canary
and a shadow mirroring a third of the champion's requests), labels for 70 % of them and
business events of an A/B experiment, then times each page's queries (median of
``--repeats`` runs) over the 365-day range with daily buckets, and the deployments
page's live figures over the last 15 minutes.

    .venv/bin/python bench/dashboard_queries.py --rows 1000000
    .venv/bin/python bench/dashboard_queries.py --url postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import insert, text

from accuguard.dashboard import queries
from accuguard.dashboard.drift import feature_drift
from accuguard.store import make_engine, upgrade
from accuguard.store.models import BusinessEvent, Feedback, Prediction

DAY = 86_400


def seed(engine: Any, rows: int, end: float, chunk: int = 50_000) -> None:
    rng = np.random.default_rng(0)
    start = end - 365 * DAY
    for lo in range(0, rows, chunk):
        n = min(chunk, rows - lo)
        times = start + rng.uniform(0, 365 * DAY, n)
        variant = np.where(rng.random(n) < 0.1, "v2", "champion")
        out = (rng.random(n) < 0.4).astype(int)
        amount = rng.normal(size=n)
        preds: list[dict[str, Any]] = []
        labels, events = [], []
        for i in range(n):
            rid = f"r{lo + i}"
            unit = f"u{(lo + i) % 200_000}"
            row = {
                "request_id": rid,
                "variant": str(variant[i]),
                "deployment": "fraud",
                "mode": "canary" if variant[i] == "v2" else "champion",
                "model_version": "2" if variant[i] == "v2" else "1",
                "unit_hash": unit,
                "features": {"amount": float(amount[i]), "country": "fr" if i % 3 else "us"},
                "output": int(out[i]),
                "score": None,
                "latency_ms": float(5 + i % 17),
                "created_at": float(times[i]),
                "error": None,
            }
            preds.append(row)
            if variant[i] == "champion" and i % 3 == 0:
                preds.append({**row, "variant": "s1", "mode": "shadow", "output": int(i % 5 == 0)})
            if i % 10 < 7:
                labels.append(
                    {"request_id": rid, "label": int(i % 4 == 0), "created_at": row["created_at"]}
                )
            if i % 20 == 0:
                events.append(
                    {
                        "event_id": f"e{lo + i}",
                        "deployment": "fraud",
                        "unit_hash": unit,
                        "name": "conversion",
                        "value": 1.0,
                        "created_at": row["created_at"] + 5,
                    }
                )
        with engine.begin() as conn:
            conn.execute(insert(Prediction), preds)
            conn.execute(insert(Feedback), labels)
            conn.execute(insert(BusinessEvent), events)
        print(f"  seeded {lo + n:,} rows", flush=True)


def timed(fn: Callable[[], Any], repeats: int) -> float:
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--url", help="a database URL (default: a SQLite file in a temp dir)")
    parser.add_argument("--no-seed", action="store_true", help="time an already seeded --url")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="accuguard-bench-"))
    url = args.url or f"sqlite:///{folder / 'events.db'}"
    engine = make_engine(url)
    upgrade(engine)
    if args.no_seed:
        with engine.connect() as conn:
            end = float(conn.execute(text("SELECT max(created_at) FROM predictions")).scalar_one())
        end += 1.0
    else:
        end = time.time()
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM predictions WHERE deployment = 'fraud'"))
        t0 = time.perf_counter()
        seed(engine, args.rows, end)
        print(
            f"seeded {args.rows:,} predictions in {time.perf_counter() - t0:.0f} s",
            f"({engine.dialect.name})",
        )
    since = end - 365 * DAY
    with engine.connect() as conn:
        cases: dict[str, Callable[[], Any]] = {
            "deployments: traffic + p95, last 15 min": lambda: queries.traffic(
                conn, "fraud", end - 900, end
            ),
            "deployments: traffic + p95, last 24 h": lambda: queries.traffic(
                conn, "fraud", end - DAY, end
            ),
            "quality: accuracy per variant per day, 365 d": lambda: queries.accuracy_series(
                conn, "fraud", since, end, DAY
            ),
            "quality: accuracy per variant per hour, 7 d": lambda: queries.accuracy_series(
                conn, "fraud", end - 7 * DAY, end, 3600
            ),
            "quality: accuracy per variant per day, 30 d": lambda: queries.accuracy_series(
                conn, "fraud", end - 30 * DAY, end, DAY
            ),
            "quality: shadow disagreement per day, 365 d": lambda: queries.disagreement_series(
                conn, "fraud", since, end, DAY
            ),
            "quality: drift of 2 features per day, 365 d": lambda: feature_drift(
                conn,
                "fraud",
                {"amount": "numeric", "country": "categorical"},
                None,
                since,
                end,
                DAY,
            ),
            "experiment: sufficient statistics, 365 d": lambda: queries.experiment_sums(
                conn, "fraud", ["champion", "v2"], since, end
            ),
        }
        for name, fn in cases.items():
            print(f"{name:48s} {timed(fn, args.repeats) * 1000:10.0f} ms")


if __name__ == "__main__":
    main()
