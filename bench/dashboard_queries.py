"""How long the dashboard's SQL takes on a year of events (SQLite, optionally PostgreSQL).

Seeds ``--rows`` predictions of one deployment spread over 365 days (champion, a canary
and a shadow mirroring a third of the champion's requests), labels for 70 % of them and
business events of an A/B experiment. Then times the first refresh of the hourly
rollups (store/rollups.py) over the whole log and the next hour's incremental refresh,
and each page's queries (median of ``--repeats`` runs), raw (dashboard/queries.py, the
"before") and from the rollups (dashboard/rollup_queries.py, the "after"), with the
ratio: long ranges with daily buckets, and the deployments page's live figures (raw
in both columns: they read the last minutes only).

    .venv/bin/python bench/dashboard_queries.py --rows 1000000 --repeats 1
    .venv/bin/python bench/dashboard_queries.py --url postgresql+psycopg://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/dashboard_queries.py --url sqlite:////tmp/events.db --no-seed

``--url`` takes any accuguard database URL (a PostgreSQL one may carry
``?options=-csearch_path%3Dbench`` to use its own schema); the seed deletes the
predictions, feedback and business events already there.
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

from accuguard.dashboard import queries, rollup_queries
from accuguard.dashboard.drift import feature_drift
from accuguard.store import make_engine, upgrade
from accuguard.store.models import BusinessEvent, Feedback, Prediction
from accuguard.store.rollups import refresh_rollups

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


ROLLUP_TABLES = (
    "rollup_state",
    "rollup_traffic",
    "rollup_labels",
    "rollup_shadow",
    "rollup_features",
    "rollup_feature_bins",
    "rollup_exposure",
)


def analyze(engine: Any) -> None:
    """PostgreSQL: fresh planner statistics, as autovacuum keeps them in production."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))


def time_refresh(engine: Any, end: float) -> None:
    """The first refresh of the whole log, then the next hour's (recomputes 7 days)."""
    with engine.begin() as conn:
        for table in ROLLUP_TABLES:
            conn.execute(text(f"DELETE FROM {table}"))
    first = refresh_rollups(engine, end, features={"fraud": FEATURES})
    print(f"{'rollups: first refresh of the whole log':48s} {first.seconds * 1000:10.0f} ms")
    again = refresh_rollups(engine, end + 3600, features={"fraud": FEATURES})
    label = "rollups: next hour's refresh (recomputes 7 d)"
    print(f"{label:48s} {again.seconds * 1000:10.0f} ms")


FEATURES = {"amount": "numeric", "country": "categorical"}


def cases(conn: Any, end: float) -> dict[str, tuple[Callable[[], Any], Callable[[], Any]]]:
    """Per page query: (raw query, rollup-based query)."""
    since = end - 365 * DAY

    def both(name: str, *args: Any) -> tuple[Callable[[], Any], Callable[[], Any]]:
        return (
            lambda: getattr(queries, name)(conn, "fraud", *args),
            lambda: getattr(rollup_queries, name)(conn, "fraud", *args),
        )

    def drift(rollups: bool) -> Callable[[], Any]:
        return lambda: feature_drift(
            conn, "fraud", FEATURES, None, since, end, DAY, rollups=rollups
        )

    live = (lambda: queries.traffic(conn, "fraud", end - 900, end),) * 2
    day = (lambda: queries.traffic(conn, "fraud", end - DAY, end),) * 2
    return {
        "deployments: traffic + p95, last 15 min (raw)": live,
        "deployments: traffic + p95, last 24 h (raw)": day,
        "quality: requests per variant per day, 365 d": both("request_series", since, end, DAY),
        "quality: accuracy per variant per day, 365 d": both("accuracy_series", since, end, DAY),
        "quality: accuracy per variant per hour, 7 d": both(
            "accuracy_series", end - 7 * DAY, end, 3600
        ),
        "quality: accuracy per variant per day, 30 d": both(
            "accuracy_series", end - 30 * DAY, end, DAY
        ),
        "quality: shadow disagreement per day, 365 d": both("disagreement_series", since, end, DAY),
        "quality: drift of 2 features per day, 365 d": (drift(False), drift(True)),
        "experiment: sufficient statistics, 365 d": both(
            "experiment_sums", ["champion", "v2"], since, end
        ),
        "experiment: sufficient statistics, 30 d": both(
            "experiment_sums", ["champion", "v2"], end - 30 * DAY, end
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--url", help="a database URL (default: a SQLite file in a temp dir)")
    parser.add_argument("--no-seed", action="store_true", help="time an already seeded --url")
    parser.add_argument("--skip-raw", action="store_true", help="time the rollup queries only")
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
            for table in ("predictions", "feedback", "business_events"):
                conn.execute(text(f"DELETE FROM {table}"))
        t0 = time.perf_counter()
        seed(engine, args.rows, end)
        print(
            f"seeded {args.rows:,} predictions in {time.perf_counter() - t0:.0f} s",
            f"({engine.dialect.name}, {url.split('@')[-1]})",
        )
    analyze(engine)
    time_refresh(engine, end)
    analyze(engine)
    end += 3600  # the rollups are fresh up to the hour before ``end``
    print(
        f"{'query (median of ' + str(args.repeats) + ')':48s} {'raw':>10s} {'rollups':>10s} ratio"
    )
    with engine.connect() as conn:
        for name, (raw, fast) in cases(conn, end).items():
            after = timed(fast, args.repeats)
            if args.skip_raw:
                print(f"{name:48s} {'-':>10s} {after * 1000:7.0f} ms")
                continue
            before = timed(raw, args.repeats)
            ratio = before / after if after else float("inf")
            print(f"{name:48s} {before * 1000:7.0f} ms {after * 1000:7.0f} ms {ratio:5.1f}x")


if __name__ == "__main__":
    main()
