"""The event log at volume on PostgreSQL: ingest rate, and the controller's analysis time.

(a) **ingest**: events per second the event log takes through the real
``EventRepository`` in the event writer's batches (500 rows), with ``COPY`` into a
staging table + ``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` (ours) against the
previous ``executemany`` of ``INSERT ... ON CONFLICT DO NOTHING`` (the baseline,
``EventRepository(engine, use_copy=False)``), same rows, median of ``--repeats`` runs,
each on a fresh schema, the order alternating; then the same through the whole
``EventWriter`` (submit, background batches, flush).

(b) **analysis**: ``collect_evidence`` (what the controller reads each tick) on a window
of ``--rows`` predictions (default ten million, a 50/50 canary; labels for 30 %,
business events for 10 %) generated in PostgreSQL (``INSERT ... SELECT`` from
``generate_series``, indexes built afterwards, then ``VACUUM ANALYZE``), each path in a
fresh subprocess: its wall time and peak RSS, SQL aggregates (ours) against the former
row-streaming reader (``streamed=True``), and whether the gate decides the same.

    export ACCUGUARD_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/event_log_pg.py                      # both parts
    .venv/bin/python bench/event_log_pg.py --part ingest --repeats 5
    .venv/bin/python bench/event_log_pg.py --part analysis --rows 10000000 --no-streamed

Each part uses its own schema (``bench_event_log_*``) and drops it afterwards
(``--keep`` leaves the analysis schema for EXPLAIN).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from accuguard.store import EventRepository, EventWriter, make_engine, upgrade
from accuguard.store.engine import EncodedJSON
from accuguard.store.models import Base
from accuguard.store.records import PredictionRecord
from accuguard.store.repository import prediction_row

T0 = 1_700_000_000.0
BATCH = 500  # the event writer's default max_batch


@contextmanager
def schema(base_url: str, keep: bool = False) -> Iterator[tuple[str, str]]:
    """A fresh schema on the server: yields (its name, a URL using it)."""
    admin = make_engine(base_url)
    name = f"bench_event_log_{uuid.uuid4().hex[:8]}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    url = admin.url.update_query_dict({"options": f"-csearch_path={name}"})
    try:
        yield name, url.render_as_string(hide_password=False)
    finally:
        if not keep:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


# -- (a) ingest ------------------------------------------------------------------------


def records(n: int, seed: int = 0) -> list[PredictionRecord]:
    """``n`` champion predictions with a small features dict, 1 % repeated (replays)."""
    out = []
    for i in range(n):
        j = i - 7 if i % 100 == 99 else i  # a replayed request: stored once
        out.append(
            PredictionRecord(
                request_id=f"req-{seed}-{j}",
                deployment="fraud",
                variant="champion",
                mode="champion",
                model_version="3",
                unit_hash=f"{j:032x}",
                features={"amount": j * 0.37, "country": "FR", "age": j % 90, "new": j % 2 == 0},
                output=j % 2,
                score=(j % 1000) / 1000,
                latency_ms=1.0 + (j % 50) / 10,
                created_at=T0 + j,
            )
        )
    return out


def ingest_repository(
    url: str, rows: list[dict[str, Any]], use_copy: bool, batch: int = BATCH
) -> float:
    """Seconds to insert ``rows[BATCH:]`` in batches of ``batch`` through the repository."""
    engine = make_engine(url)
    upgrade(engine)
    repo = EventRepository(engine, use_copy=use_copy)
    repo.insert_rows("predictions", rows[:BATCH])  # warm the pool (and the staging table)
    start = time.perf_counter()
    for lo in range(BATCH, len(rows), batch):
        repo.insert_rows("predictions", rows[lo : lo + batch])
    seconds = time.perf_counter() - start
    engine.dispose()
    return seconds


def ingest_writer(url: str, recs: list[PredictionRecord], use_copy: bool, spool: str) -> float:
    """Seconds from the first submit to a flushed queue through a real EventWriter."""
    upgrade(url)
    writer = EventWriter(url, spool_dir=spool, max_batch=BATCH)
    if not use_copy:  # the baseline: the same writer on the executemany repository
        writer._repository = EventRepository(writer._repository.engine, use_copy=False)
    writer.submit_predictions(recs[:BATCH])
    writer.flush(timeout=60)
    start = time.perf_counter()
    for lo in range(BATCH, len(recs), 100):
        writer.submit_predictions(recs[lo : lo + 100])
    assert writer.flush(timeout=600)
    seconds = time.perf_counter() - start
    writer.close()
    return seconds


def part_ingest(base_url: str, n: int, repeats: int, big_batch: int) -> None:
    recs = records(n)
    rows = []
    for r in recs:  # as the writer builds them (features serialised once)
        row = prediction_row(r)
        row["features"] = EncodedJSON(r.features)
        rows.append(row)
    timed = n - BATCH
    print(f"(a) ingest: {n:,} predictions (1 % replays) in batches of {BATCH}, median of {repeats}")
    for label, run in (
        ("EventRepository.insert_rows", lambda url, c: ingest_repository(url, rows, c)),
        (
            f"EventRepository.insert_rows, batches of {big_batch}",
            lambda url, c: ingest_repository(url, rows, c, big_batch),
        ),
        (
            "EventWriter submit -> flush",
            lambda url, c: ingest_writer(url, recs, c, tempfile.mkdtemp()),
        ),
    ):
        times: dict[bool, list[float]] = {True: [], False: []}
        for rep in range(repeats):
            for use_copy in (True, False) if rep % 2 == 0 else (False, True):
                with schema(base_url) as (_, url):
                    times[use_copy].append(run(url, use_copy))
        ours, peer = (timed / statistics.median(times[c]) for c in (True, False))
        print(f"  {label}:")
        print(f"    COPY + INSERT ... SELECT ON CONFLICT (ours): {ours:10,.0f} events/s")
        print(f"    executemany INSERT ON CONFLICT (baseline):   {peer:10,.0f} events/s")
        print(f"    ratio: {ours / peer:.2f}x")


# -- (b) analysis ----------------------------------------------------------------------

_LOAD = """
INSERT INTO predictions (request_id, variant, deployment, mode, model_version, unit_hash,
                         features, output, score, latency_ms, created_at, error)
SELECT 'r' || g,
       CASE WHEN g % 2 = 0 THEN 'champion' ELSE 'v7' END, 'fraud',
       CASE WHEN g % 2 = 0 THEN 'champion' ELSE 'canary' END,
       CASE WHEN g % 2 = 1 AND u >= 0.01 THEN '7' ELSE '3' END,
       'u' || g,
       ('{"amount": ' || (g % 997) || ', "country": "FR"}')::json,
       (CASE WHEN s > 0.5 THEN '1' ELSE '0' END)::json,
       s, 5 + 20 * -ln(1 - random()), :t0 + g * :dt,
       CASE WHEN g % 2 = 1 AND u < 0.01 THEN 'RuntimeError: boom' END
FROM (SELECT g, random() AS s, random() AS u
      FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) AS g) AS x
"""
_LABELS = """
INSERT INTO feedback (request_id, label, created_at)
SELECT 'r' || g, (CASE WHEN random() < 0.4 THEN '1' ELSE '0' END)::json, :t0 + g * :dt + 5
FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) AS g WHERE g % 10 < 3
"""
_EVENTS = """
INSERT INTO business_events (event_id, deployment, unit_hash, name, value, created_at)
SELECT 'e' || g, 'fraud', 'u' || g, 'conversion', 50 * random(), :t0 + g * :dt + 1
FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) AS g WHERE g % 20 IN (0, 1)
"""
SPAN = 7 * 86_400.0  # the window: a week


def load(engine: Engine, rows: int, chunk: int = 1_000_000) -> float:
    """Generate the window in SQL, indexes built after; returns the seconds taken."""
    start = time.perf_counter()
    tables = ("predictions", "feedback", "business_events")
    indexes = [ix for t in tables for ix in Base.metadata.tables[t].indexes]
    with engine.begin() as conn:
        for ix in indexes:
            ix.drop(conn)
    dt = SPAN / rows
    for lo in range(0, rows, chunk):
        params = {"lo": lo, "hi": min(rows, lo + chunk) - 1, "t0": T0, "dt": dt}
        with engine.begin() as conn:
            for sql in (_LOAD, _LABELS, _EVENTS):
                conn.execute(text(sql), params)
        print(f"    loaded {min(rows, lo + chunk):,} predictions", flush=True)
    with engine.begin() as conn:
        for ix in indexes:
            ix.create(conn)
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    return time.perf_counter() - start


def analyse(url: str, streamed: bool) -> dict[str, Any]:
    """Run in a subprocess: collect_evidence on the whole window, time and peak RSS."""
    from accuguard.rollout.evidence import Window, collect_evidence
    from accuguard.rollout.gates import evaluate_gate
    from accuguard.rollout.plan import Step

    engine = make_engine(url)
    with engine.connect() as conn:  # connect and import outside the timing
        conn.execute(text("SELECT 1"))
    base_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    window = Window("fraud", "3", "v7", "7", T0, T0 + SPAN + 1)
    start = time.perf_counter()
    ev = collect_evidence(engine, window, mode="canary", streamed=streamed)
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    step = Step.model_validate(
        {
            "name": "canary",
            "mode": "canary",
            "weight": 0.5,
            "gate": {
                "checks": [
                    {"check": "accuracy", "margin": 0.01},
                    {"check": "latency_p95_ms", "max": 80},
                    {"check": "error_rate", "max": 0.02},
                    {"check": "prediction_drift", "max_statistic": 0.05},
                    {"check": "business", "event": "conversion", "margin": 0.01},
                    {"check": "srm"},
                ]
            },
        }
    )
    gate = evaluate_gate(step, ev, elapsed_s=1e9)
    ev.collected_at = 0.0
    return {
        "seconds": seconds,
        "base_rss_mb": base_kb / 1024,
        "peak_rss_mb": peak_kb / 1024,
        "evidence": ev.to_dict(),
        "gate": [(c.name, c.status, c.value) for c in gate.checks],
    }


def _child(url: str, streamed: bool) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", url] + (["--streamed"] if streamed else [])
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def part_analysis(base_url: str, rows: int, streamed: bool, keep: bool) -> None:
    with schema(base_url, keep) as (name, url):
        engine = make_engine(url)
        upgrade(engine)
        print(f"(b) analysis: {rows:,} predictions in one window (schema {name})")
        print(f"    load (generate_series, indexes, VACUUM ANALYZE): {load(engine, rows):.0f} s")
        with engine.connect() as conn:
            size = conn.execute(
                text(
                    "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = :s AND c.relkind = 'r'"
                ),
                {"s": name},
            ).scalar_one()
        engine.dispose()
        print(f"    event log size (tables and indexes): {size / 2**30:.1f} GiB")
        ours = _child(url, streamed=False)
        print(
            f"  SQL aggregates (ours):   {ours['seconds']:8.1f} s, peak RSS "
            f"{ours['peak_rss_mb']:7.0f} MB (before: {ours['base_rss_mb']:.0f} MB)"
        )
        if streamed:
            peer = _child(url, streamed=True)
            print(
                f"  streamed rows (before):  {peer['seconds']:8.1f} s, peak RSS "
                f"{peer['peak_rss_mb']:7.0f} MB (before: {peer['base_rss_mb']:.0f} MB)"
            )
            grow_ours = max(1.0, ours["peak_rss_mb"] - ours["base_rss_mb"])
            grow_peer = peer["peak_rss_mb"] - peer["base_rss_mb"]
            print(
                f"  ratio: time {peer['seconds'] / ours['seconds']:.2f}x (streamed / ours), "
                f"memory growth {grow_peer / grow_ours:.1f}x (streamed / ours)"
            )
            same = [a[:2] for a in ours["gate"]] == [b[:2] for b in peer["gate"]]
            print(f"  same gate statuses: {same}; ours: {ours['gate']}")
            if not same:
                print(f"  streamed: {peer['gate']}")
        else:
            print(f"  gate: {ours['gate']}")
        print(json.dumps(ours["evidence"]["challenger"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("ACCUGUARD_TEST_POSTGRES_URL"))
    parser.add_argument("--part", choices=["ingest", "analysis", "both"], default="both")
    parser.add_argument("--ingest-rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--big-batch", type=int, default=5000, help="a second batch size")
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--no-streamed", action="store_true", help="skip the former reader")
    parser.add_argument("--keep", action="store_true", help="keep the analysis schema")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--streamed", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(analyse(args.child, args.streamed)))
        return
    if not args.url:
        sys.exit("set ACCUGUARD_TEST_POSTGRES_URL or pass --url postgresql+psycopg://...")
    if args.part in ("ingest", "both"):
        part_ingest(args.url, args.ingest_rows, args.repeats, args.big_batch)
    if args.part in ("analysis", "both"):
        part_analysis(args.url, args.rows, not args.no_streamed, args.keep)


if __name__ == "__main__":
    main()
