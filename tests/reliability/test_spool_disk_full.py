"""The store is down and the spool's disk fills up: the gateway keeps serving and says so.

The spool directory is a 64 KiB tmpfs (``mount -t tmpfs``, needs root or
CAP_SYS_ADMIN). With the private PostgreSQL stopped, the spool fills after a few
hundred predictions; from then on every prediction still gets its answer, /readyz
answers 503 naming the full spool, and /metrics shows ``spool_full`` 1, the rows
dropped and ``accuguard_ready`` 0. When the server is back, the spool is replayed and
the gateway is ready again; exactly the rows not dropped are stored.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import ROW, gateway_config
from .procs import (
    GatewayProcess,
    LoadDriver,
    caught_up,
    metric,
    skip_or_fail,
    stored_ids,
    wait_until,
)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs mounted in the test's directory."""
    where = tmp_path / "small-disk"
    where.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        skip_or_fail(
            f"mounting a small tmpfs for the spool needs root (CAP_SYS_ADMIN): "
            f"{done.stderr.strip()}"
        )
    try:
        yield where
    finally:
        with contextlib.suppress(subprocess.SubprocessError):
            subprocess.run(["umount", "-l", str(where)], check=False, timeout=30)


def test_a_full_spool_disk_keeps_serving_and_reports_it_until_the_store_is_back(
    registry_uri, private_pg, gateways, tmp_path, small_disk
):
    config = gateway_config(registry_uri, private_pg.url, spool_dir=str(small_disk / "spool"))
    gateway = GatewayProcess(tmp_path, config)
    gateways.append(gateway.start())
    gateway.wait_ready()
    load = LoadDriver([gateway], ROW, "full").start()
    try:
        load.wait_for(100)
        private_pg.stop()
        wait_until(lambda: gateway.event_stats()["spool_full"] == 1, 60, "the spool full")
        load.wait_for(100)  # answers go on with the disk full
        ready = gateway.get("/readyz")
        health = gateway.get("/healthz")
        during = gateway.metrics()
        private_pg.start()
        wait_until(lambda: gateway.get("/readyz").status_code == 200, 30, "ready again")
        load.wait_for(100)
    finally:
        load.stop()
    wait_until(lambda: caught_up(gateway), 30, "the spool replayed")
    stats = gateway.event_stats()
    ids = stored_ids(private_pg.url, "full")

    print(
        f"\naccepted {len(load.accepted)}, stored {len(ids)} ({len(set(ids))} distinct), "
        f"dropped {stats['dropped']:.0f}, spooled {stats['spooled']:.0f}, "
        f"replayed {stats['replayed']:.0f}; /readyz while full: {ready.status_code}"
    )
    assert set(load.statuses) == {200}, load.statuses
    assert ready.status_code == 503 and health.status_code == 200
    (reason,) = ready.json()["reasons"]
    assert "spool cannot be written" in reason and "predictions are still served" in reason
    assert metric(during, "accuguard_event_log", stat="spool_full") == 1
    assert metric(during, "accuguard_event_log", stat="dropped") > 0
    assert metric(during, "accuguard_ready") == 0
    assert stats["spool_full"] == 0 and stats["replayed"] == stats["spooled"] > 0
    assert len(ids) == len(set(ids)) and set(ids) <= set(load.accepted)
    # every row is stored once, except exactly the rows counted as dropped
    assert len(load.accepted) - len(ids) == stats["dropped"] > 0
    assert gateway.terminate()
