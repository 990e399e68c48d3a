"""The event-log database stops and starts under load; a gateway is SIGKILLed mid-outage.

A private PostgreSQL server (procs.PrivatePostgres) is stopped like a crash
(``pg_ctl -m immediate``) while a load driver sends predictions with unique request
ids; the gateway spools to disk and replays when the server is back. Afterwards the
stored request ids are compared with the ids the gateway answered 200.
"""

from __future__ import annotations

import time

from .conftest import ROW, gateway_config
from .procs import GatewayProcess, LoadDriver, caught_up, stored_ids, wait_until


def test_postgres_stopped_and_started_mid_load_loses_and_duplicates_nothing(
    registry_uri, private_pg, gateways, tmp_path
):
    gateway = GatewayProcess(tmp_path, gateway_config(registry_uri, private_pg.url))
    gateways.append(gateway.start())
    gateway.wait_ready()
    load = LoadDriver([gateway], ROW, "outage").start()
    try:
        load.wait_for(100)
        private_pg.stop()  # like a crash: every connection dies at once
        wait_until(lambda: gateway.event_stats()["spooled"] > 0, 30, "batches spooled")
        load.wait_for(200)  # still answering while the store is down
        during = gateway.get("/readyz")
        private_pg.start()
        wait_until(lambda: gateway.event_stats()["replayed"] > 0, 30, "the spool replayed")
        load.wait_for(100)
    finally:
        load.stop()
    wait_until(lambda: caught_up(gateway), 30, "the spool fully replayed")
    stats = gateway.event_stats()
    ids = stored_ids(private_pg.url, "outage")

    print(
        f"\naccepted {len(load.accepted)}, stored {len(ids)} ({len(set(ids))} distinct), "
        f"spooled {stats['spooled']:.0f}, replayed {stats['replayed']:.0f}, "
        f"dropped {stats['dropped']:.0f}"
    )
    assert during.status_code == 200, during.text  # the spool takes the events: ready
    assert set(load.statuses) == {200}, load.statuses
    assert len(ids) == len(set(ids))  # no duplicates
    assert set(ids) == set(load.accepted)  # every accepted request stored, nothing else
    assert stats["dropped"] == 0 and stats["recoveries"] >= 1
    assert stats["replayed"] == stats["spooled"] > 0
    assert gateway.terminate()


def test_a_replica_killed_mid_outage_replays_its_spool_when_restarted(
    registry_uri, private_pg, gateways, tmp_path
):
    gateway = GatewayProcess(tmp_path, gateway_config(registry_uri, private_pg.url))
    gateways.append(gateway.start())
    gateway.wait_ready()
    load = LoadDriver([gateway], ROW, "killed").start()
    try:
        load.wait_for(100)
        private_pg.stop()
        wait_until(lambda: gateway.event_stats()["spooled"] >= 200, 60, "200 rows spooled")
        spooled_before_kill = gateway.event_stats()["spooled"]
        gateway.kill()  # SIGKILL mid-load: no shutdown code runs
        killed_at = time.monotonic()
    finally:
        load.stop()
    spool_files = list((tmp_path / "spool-gw").glob("batches-*.jsonl"))
    private_pg.start()
    gateway.start()  # the same config, so the same spool directory
    gateway.wait_ready()
    wait_until(lambda: caught_up(gateway), 30, "the dead process's spool replayed")
    stats = gateway.event_stats()
    ids = stored_ids(private_pg.url, "killed")
    lost = set(load.accepted) - set(ids)

    assert spool_files, "the killed gateway left no spool"
    assert stats["replayed"] >= spooled_before_kill  # every fsynced row came back
    assert len(ids) == len(set(ids))  # no duplicates
    assert set(ids) <= load.sent  # nothing stored that was never sent
    # SIGKILL loses only the rows still in the writer's memory (its last ~50 ms batch):
    # every request answered more than 2 s before the kill is stored
    assert all(load.accepted[i] > killed_at - 2.0 for i in lost), sorted(lost)[:5]
    print(
        f"\naccepted {len(load.accepted)}, stored {len(ids)}, spooled before the kill "
        f"{spooled_before_kill:.0f}, replayed after restart {stats['replayed']:.0f}, "
        f"lost in memory at SIGKILL {len(lost)}"
    )
    assert gateway.terminate()
