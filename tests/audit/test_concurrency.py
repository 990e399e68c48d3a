"""Several processes appending at once still build one linear, valid chain."""

from __future__ import annotations

import itertools
import multiprocessing as mp
from collections import Counter

from sqlalchemy import text

from accuguard.audit import GENESIS_HASH, AuditLog
from accuguard.store import make_engine

WORKERS = 3
PER_WORKER = 30


def _append_many(url: str, name: str, n: int, start: object) -> None:
    engine = make_engine(url)
    try:
        log = AuditLog(engine)
        log.entries(limit=1)  # connect before the start line
        start.wait()  # type: ignore[attr-defined]
        for i in range(n):
            log.append(action="test.append", actor=name, reason=str(i), evidence={"i": i})
    finally:
        engine.dispose()


def run_concurrently(url: str) -> None:
    ctx = mp.get_context("spawn")
    start = ctx.Barrier(WORKERS)
    procs = [
        ctx.Process(target=_append_many, args=(url, f"w{k}", PER_WORKER, start))
        for k in range(WORKERS)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0] * WORKERS


def assert_one_linear_chain(url: str) -> None:
    engine = make_engine(url)
    try:
        log = AuditLog(engine)
        report = log.verify()
        assert report.ok, report.problem
        total = WORKERS * PER_WORKER
        assert report.checked == total
        entries = log.entries()
        assert [e.seq for e in entries] == list(range(1, total + 1))
        assert entries[0].prev_hash == GENESIS_HASH
        # every append landed exactly once, each writer's in its own order
        assert Counter(e.actor for e in entries) == {f"w{k}": PER_WORKER for k in range(WORKERS)}
        for k in range(WORKERS):
            mine = [int(e.reason) for e in entries if e.actor == f"w{k}"]
            assert mine == list(range(PER_WORKER))
        # the writers really interleaved (otherwise this test proves nothing)
        switches = sum(a.actor != b.actor for a, b in itertools.pairwise(entries))
        assert switches >= 2
        with engine.connect() as conn:
            hashes = conn.execute(text("SELECT COUNT(DISTINCT hash) FROM audit_log")).scalar()
        assert hashes == total
    finally:
        engine.dispose()


def test_concurrent_appenders_on_sqlite_keep_a_linear_chain(sqlite_store):
    run_concurrently(sqlite_store)
    assert_one_linear_chain(sqlite_store)


def test_concurrent_appenders_on_postgresql_keep_a_linear_chain():
    from accuguard.store import upgrade
    from tests.store.conftest import postgres_schema

    with postgres_schema() as schema:
        upgrade(schema.url)
        run_concurrently(schema.url)
        assert_one_linear_chain(schema.url)
