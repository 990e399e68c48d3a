"""Several gateway replicas on one PostgreSQL store, without talking to each other.

Three ``accuguard serve`` processes on loopback share a schema of the test server:
every unit gets the same variant from each replica (the reference is
:func:`accuguard.assign.bucket`, not the gateway's router), every answered request is
stored once, and the rollout controller, running in each, holds its lease in one
replica at a time; when that replica is SIGKILLed another takes over after the lease
expires, and one stopped with SIGTERM hands it over at once.
"""

from __future__ import annotations

from sqlalchemy import text

from accuguard.assign import bucket
from accuguard.rollout.controller import LEASE_NAME
from accuguard.store import make_engine

from .conftest import ROW, gateway_config
from .procs import GatewayProcess, stored_ids, wait_until

UNITS = [f"user-{i}" for i in range(150)]
CANARY = {"name": "v2", "alias": "challenger", "mode": "canary", "weight": 0.3}


def start_replicas(tmp_path, config, gateways, n=3) -> list[GatewayProcess]:
    replicas = [GatewayProcess(tmp_path, config, name=f"replica{k}") for k in range(n)]
    for replica in replicas:
        gateways.append(replica.start())
    for replica in replicas:
        replica.wait_ready()
    return replicas


def lease_holder_pid(url: str) -> int | None:
    """The pid in the controller lease's holder (``host:pid:random``), if unexpired."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            holder = conn.execute(
                text(
                    "SELECT holder FROM leases WHERE name = :name "
                    "AND expires_at > extract(epoch FROM now())"
                ),
                {"name": LEASE_NAME},
            ).scalar()
    finally:
        engine.dispose()
    return int(holder.split(":")[1]) if holder else None


def drained(replica: GatewayProcess) -> bool:
    """Everything the replica accepted is written to the store."""
    stats = replica.event_stats()
    return stats["queue_depth"] == 0 and stats["written"] == stats["accepted"] > 0


def test_replicas_agree_on_units_store_every_answer_once_and_hand_the_lease_over(
    registry_uri, pg_url, gateways, tmp_path
):
    deployment = {"model": "fraud", "timeout_ms": 20_000, "challengers": [CANARY]}
    config = gateway_config(
        registry_uri,
        pg_url,
        deployments={"fraud": deployment},
        controller={"interval_s": 0.5, "lease_ttl_s": 3},
    )
    replicas = start_replicas(tmp_path, config, gateways)
    by_pid = {r.pid: r for r in replicas}
    variants = {
        unit: [r.predict(f"{unit}-{r.name}", unit, ROW).json()["variant"] for r in replicas]
        for unit in UNITS
    }
    for replica in replicas:
        wait_until(lambda r=replica: drained(r), 60, f"{replica.name}'s events written")

    first = wait_until(lambda: lease_holder_pid(pg_url), 30, "a lease holder")
    # the same replica keeps it while it lives (it renews every tick)
    seen = {lease_holder_pid(pg_url) for _ in range(10)}
    by_pid[first].kill()  # dies holding the lease: the others wait for it to expire
    second = wait_until(
        lambda: (p := lease_holder_pid(pg_url)) not in (None, first) and p, 30, "a new holder"
    )
    assert by_pid[second].terminate()  # releases the lease on the way out
    third = wait_until(
        lambda: (p := lease_holder_pid(pg_url)) not in (None, first, second) and p,
        30,
        "the last replica holding the lease",
    )
    assert by_pid[third].terminate()

    expected = {u: "v2" if bucket("fraud/v2", u) < 3000 else "champion" for u in UNITS}
    assert {u: set(v) for u, v in variants.items()} == {u: {e} for u, e in expected.items()}
    assert 0 < sum(e == "v2" for e in expected.values()) < len(UNITS)
    ids = stored_ids(pg_url, "user")
    print(f"\n{len(UNITS)} units x {len(replicas)} replicas: stored {len(ids)}")
    assert sorted(ids) == sorted(f"{u}-{r.name}" for u in UNITS for r in replicas)
    assert first in by_pid and seen == {first}
    assert second in by_pid and third in by_pid
    assert len({first, second, third}) == 3
