"""A real Feast repository and a real event log with known, injected feature skew.

Feast runs in its own virtual environment (it needs pandas < 3): ``.ci/run`` builds it
with ``.ci/build-feast-venv`` and exports ``ACCUGUARD_TEST_FEAST_PYTHON``. Without it
the Feast tests skip locally and fail in CI.

The world (module scope, built once): 200 accounts with two feature snapshots in a
Parquet file (at BASE and BASE + 6 h, every feature different between them), applied and
materialized by ``feast_setup.py``; 1,000 served requests of deployment ``fraud`` in
``[BASE + 1 h, BASE + 12 h)`` whose logged features are the values in effect at the
request time, except for injected skew in known rows:

- ``amount_avg_7d``: 30 rows logged as ``1.1 * value + 1``; every other row carries a
  relative error of 1e-12 (within the default tolerance);
- ``segment``: 50 rows logged with another segment;
- ``balance``: 400 rows logged 500 higher (5 standard deviations: a distribution shift);
- 5 rows of accounts Feast does not know (every feature mismatches there);
- ``txn_count_7d``: no injected skew (it differs between the snapshots, so a retrieval
  that is not point-in-time correct would flag it);
- ``merchant``: logged but not in the feature store.

Plus rows the check must leave out: 10 without ``account_id``, 100 shadow rows, 20 rows
before the window and 20 of another deployment.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from accuguard.store import EventRepository, PredictionRecord, make_engine, upgrade

FEAST_ENV = "ACCUGUARD_TEST_FEAST_PYTHON"
HOW_TO_RUN = 'Feast tests skipped: export ACCUGUARD_TEST_FEAST_PYTHON="$(.ci/build-feast-venv)"'
HERE = Path(__file__).resolve().parent
BASE = 1_764_460_800.0  # 2025-11-30T00:00:00Z
HOUR = 3600.0
SINCE, UNTIL = BASE, BASE + 12 * HOUR
SWITCH = BASE + 6 * HOUR  # the second snapshot's timestamp
ACCOUNTS = 200
SEGMENTS = ("retail", "business", "vip")
FEATURES = ("amount_avg_7d", "txn_count_7d", "balance", "segment")


@dataclass
class World:
    folder: Path
    repo: Path
    db: Path
    feast_python: str
    times: list[float] = field(default_factory=list)
    injected: dict[str, set[int]] = field(default_factory=dict)
    unknown: set[int] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"sqlite:///{self.db}"

    def expected_mismatches(self, since: float = SINCE, until: float = UNTIL) -> dict[str, int]:
        """Injected mismatches per feature among the compared rows in the window."""
        rows = {i for i, t in enumerate(self.times) if since <= t < until}
        return {
            name: len((self.injected.get(name, set()) | self.unknown) & rows) for name in FEATURES
        }

    def compared(self, since: float = SINCE, until: float = UNTIL) -> int:
        return sum(since <= t < until for t in self.times)


@pytest.fixture(scope="session")
def feast_python() -> str:
    python = os.environ.get(FEAST_ENV)
    if not python:
        if os.environ.get("CI"):
            pytest.fail(f"{FEAST_ENV} is not set: .ci/run must build the Feast venv")
        pytest.skip(HOW_TO_RUN)
    return python


def _snapshots(rng: np.random.Generator) -> list[dict[str, np.ndarray]]:
    snaps = []
    for _ in range(2):
        snaps.append(
            {
                "amount_avg_7d": np.round(rng.gamma(2.0, 40.0, ACCOUNTS), 4),
                "balance": rng.normal(1000.0, 100.0, ACCOUNTS),
                "segment": rng.integers(0, len(SEGMENTS), ACCOUNTS),
            }
        )
    first = rng.integers(0, 50, ACCOUNTS)
    snaps[0]["txn_count_7d"] = first
    snaps[1]["txn_count_7d"] = first + rng.integers(1, 6, ACCOUNTS)
    return snaps


def _write_source(repo: Path, snaps: list[dict[str, np.ndarray]]) -> None:
    (repo / "data").mkdir(parents=True)
    ids = np.arange(ACCOUNTS, dtype=np.int64)
    micros = [int(BASE * 1e6), int(SWITCH * 1e6)]
    table = pa.table(
        {
            "account_id": np.concatenate([ids, ids]),
            "event_timestamp": pa.array(np.repeat(micros, ACCOUNTS), pa.timestamp("us", tz="UTC")),
            "amount_avg_7d": np.concatenate([s["amount_avg_7d"] for s in snaps]),
            "txn_count_7d": np.concatenate([s["txn_count_7d"] for s in snaps]).astype(np.int64),
            "balance": np.concatenate([s["balance"] for s in snaps]),
            "segment": [SEGMENTS[k] for s in snaps for k in s["segment"]],
        }
    )
    pq.write_table(table, repo / "data" / "accounts.parquet")


def _record(rid: str, t: float, features: dict, mode: str = "champion", **kw) -> PredictionRecord:
    return PredictionRecord(
        request_id=rid,
        deployment=kw.get("deployment", "fraud"),
        variant="champion" if mode != "shadow" else "v2",
        mode=mode,
        model_version="1",
        unit_hash="0" * 32,
        features=features,
        output=0,
        score=0.1,
        latency_ms=1.0,
        created_at=t,
    )


def _requests(world: World, snaps: list[dict[str, np.ndarray]], rng: np.random.Generator) -> list:
    n = 1000
    world.times = sorted(rng.uniform(BASE + HOUR, UNTIL, n).tolist())
    picks = rng.permutation(n - 5)
    world.injected = {
        "amount_avg_7d": set(picks[:30].tolist()),
        "segment": set(picks[30:80].tolist()),
        "balance": set(picks[80:480].tolist()),
    }
    world.unknown = set(range(n - 5, n))
    records = []
    for i, t in enumerate(world.times):
        account = int(rng.integers(0, ACCOUNTS))
        snap = snaps[0] if t < SWITCH else snaps[1]
        f = {
            "account_id": account if i not in world.unknown else 10_000 + i,
            "amount_avg_7d": float(snap["amount_avg_7d"][account]) * (1 + 1e-12),
            "txn_count_7d": int(snap["txn_count_7d"][account]),
            "balance": float(snap["balance"][account]),
            "segment": SEGMENTS[int(snap["segment"][account])],
            "merchant": f"m{i % 7}",
        }
        if i in world.injected["amount_avg_7d"]:
            f["amount_avg_7d"] = f["amount_avg_7d"] * 1.1 + 1
        if i in world.injected["segment"]:
            f["segment"] = SEGMENTS[(SEGMENTS.index(f["segment"]) + 1) % len(SEGMENTS)]
        if i in world.injected["balance"]:
            f["balance"] += 500.0
        records.append(_record(f"req-{i}", t, f))
        if i % 10 == 0:  # a shadow saw the same request: never compared
            records.append(_record(f"req-{i}", t, {"account_id": -1, "balance": 0.0}, "shadow"))
    for j in range(10):  # no entity key
        records.append(_record(f"nokey-{j}", BASE + 2 * HOUR + j, {"balance": 1.0}))
    for j in range(20):  # before the window; another deployment
        records.append(_record(f"early-{j}", BASE - HOUR + j, {"account_id": 1, "balance": 0.0}))
        records.append(
            _record(f"other-{j}", BASE + 2 * HOUR + j, {"account_id": 1}, deployment="other")
        )
    return records


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory, feast_python: str) -> World:
    folder = tmp_path_factory.mktemp("skew")
    w = World(folder, folder / "feature_repo", folder / "accuguard.db", feast_python)
    rng = np.random.default_rng(7)
    snaps = _snapshots(rng)
    _write_source(w.repo, snaps)
    done = subprocess.run(
        [feast_python, "-O", str(HERE / "feast_setup.py"), str(w.repo), str(UNTIL)],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=w.repo,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    engine = make_engine(w.url)
    upgrade(engine)
    EventRepository(engine).insert_predictions(_requests(w, snaps, rng))
    engine.dispose()
    return w
