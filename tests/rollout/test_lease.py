"""The lease and the rollout rows on real databases (SQLite; PostgreSQL when configured)."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from accuguard.rollout.state import (
    RolloutConflict,
    acquire_lease,
    active_rollout,
    compare_and_set,
    create_rollout,
    lease_holder,
    list_rollouts,
    release_lease,
)
from accuguard.store import make_engine, upgrade
from tests.store.conftest import postgres_schema

PLAN = {"steps": [{"name": "shadow", "mode": "shadow"}]}


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'events.db'}"
        upgrade(url)
        yield url
    else:
        with postgres_schema() as schema:
            upgrade(schema.url)
            yield schema.url


@pytest.fixture
def engine(db_url):
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


def new_rollout(engine, deployment="fraud", version="7"):
    return create_rollout(
        engine,
        deployment=deployment,
        model="fraud",
        champion_alias="champion",
        champion_version="3",
        challenger_version=version,
        plan=PLAN,
        plan_hash="h",
        actor="alice",
        now=100.0,
    )


def test_lease_is_exclusive_until_it_expires(engine):
    assert acquire_lease(engine, "ctl", "a", 30, now=1000)
    assert not acquire_lease(engine, "ctl", "b", 30, now=1010)
    assert acquire_lease(engine, "ctl", "a", 30, now=1020)  # renewal extends to 1050
    assert not acquire_lease(engine, "ctl", "b", 30, now=1049)
    assert lease_holder(engine, "ctl", now=1049) == ("a", 1050.0)
    assert acquire_lease(engine, "ctl", "b", 30, now=1050)  # a stopped renewing
    assert not acquire_lease(engine, "ctl", "a", 30, now=1051)


def test_release_lets_another_holder_in_at_once(engine):
    assert acquire_lease(engine, "ctl", "a", 30, now=1000)
    assert not release_lease(engine, "ctl", "b")
    assert release_lease(engine, "ctl", "a")
    assert lease_holder(engine, "ctl", now=1001) is None
    assert acquire_lease(engine, "ctl", "b", 30, now=1001)


def test_leases_are_independent_by_name(engine):
    assert acquire_lease(engine, "one", "a", 30, now=0)
    assert acquire_lease(engine, "two", "b", 30, now=0)


def _race_threads(url: str, n: int, now: float) -> list[str]:
    barrier = threading.Barrier(n)
    winners: list[str] = []
    lock = threading.Lock()

    def contend(i: int) -> None:
        eng = make_engine(url)  # each thread its own engine, like separate processes
        try:
            barrier.wait()
            if acquire_lease(eng, "ctl", f"holder-{i}", 30, now=now):
                with lock:
                    winners.append(f"holder-{i}")
        finally:
            eng.dispose()

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return winners


def test_threads_racing_for_a_free_lease_one_wins(db_url):
    for round_ in range(5):  # a fresh lease, then an expired one each round
        winners = _race_threads(db_url, 6, now=1000.0 + 100 * round_)
        assert len(winners) == 1, winners


def _contend_process(url: str, holder: str, start, results) -> None:
    eng = make_engine(url)
    start.wait()
    results.put((holder, acquire_lease(eng, "ctl", holder, 30, now=5000.0)))
    eng.dispose()


def test_processes_racing_for_the_lease_one_wins(db_url):
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=_contend_process, args=(db_url, f"p{i}", start, results))
        for i in range(3)
    ]
    for p in procs:
        p.start()
    start.set()
    got = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert sum(ok for _, ok in got) == 1, got
    winner = next(h for h, ok in got if ok)
    eng = make_engine(db_url)
    assert lease_holder(eng, "ctl", now=5001.0) == (winner, 5030.0)
    eng.dispose()


def test_one_active_rollout_per_deployment(engine):
    first = new_rollout(engine)
    assert first.state == "running" and first.step_index == 0 and first.variant == "v7"
    with pytest.raises(RolloutConflict, match=r"'fraud' already has an active rollout.*v7"):
        new_rollout(engine, version="8")
    new_rollout(engine, deployment="risk")  # other deployments are independent
    done = compare_and_set(engine, first.id, first.row_version, state="rolled_back")
    assert done is not None and done.state == "rolled_back"
    second = new_rollout(engine, version="8")  # the deployment is free again
    assert active_rollout(engine, "fraud") == second
    assert [r.id for r in list_rollouts(engine, deployment="fraud")] == [second.id, first.id]


def test_compare_and_set_applies_once(engine):
    r = new_rollout(engine)
    a = compare_and_set(engine, r.id, r.row_version, step_index=1, step_started_at=200.0)
    b = compare_and_set(engine, r.id, r.row_version, step_index=1, step_started_at=300.0)
    assert a is not None and a.row_version == r.row_version + 1
    assert b is None  # stale version: the second writer loses
    assert active_rollout(engine, "fraud").step_started_at == 200.0


def test_concurrent_compare_and_set_one_wins(db_url, engine):
    r = new_rollout(engine)
    barrier = threading.Barrier(4)
    wins: list[int] = []

    def writer(i: int) -> None:
        eng = make_engine(db_url)
        barrier.wait()
        if compare_and_set(eng, r.id, r.row_version, step_index=i) is not None:
            wins.append(i)
        eng.dispose()

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    with engine.connect() as conn:
        row = conn.execute(text("SELECT step_index, row_version FROM rollouts")).one()
    assert tuple(row) == (wins[0], r.row_version + 1)
