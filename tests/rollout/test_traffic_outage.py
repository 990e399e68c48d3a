"""TrafficSync during a store outage: one warning, no traceback per poll, then recovery."""

from __future__ import annotations

import asyncio
import logging

from accuguard.rollout.traffic import TrafficSync
from accuguard.store import make_engine, upgrade
from tests.store.conftest import closed_port_url


class _Reloader:  # the sync only reloads when the rollouts changed; none change here
    async def reload(self) -> None:
        raise AssertionError("nothing changed: no reload expected")


def test_an_unreachable_store_is_logged_once_without_a_traceback_then_its_recovery(
    tmp_path, caplog
):
    sync = TrafficSync(make_engine(closed_port_url()), _Reloader(), poll_s=1.0)  # type: ignore[arg-type]
    caplog.set_level(logging.WARNING, logger="accuguard.rollout")

    async def polls(n: int) -> None:
        for _ in range(n):
            await sync._refresh_logged()

    asyncio.run(polls(3))
    warnings = [r for r in caplog.records if r.name == "accuguard.rollout"]
    assert len(warnings) == 1
    assert "store is unreachable" in warnings[0].getMessage()
    assert warnings[0].exc_info is None

    caplog.clear()
    sync.engine = make_engine(f"sqlite:///{tmp_path / 'events.db'}")
    upgrade(sync.engine)
    asyncio.run(polls(2))
    messages = [r.getMessage() for r in caplog.records if r.name == "accuguard.rollout"]
    assert messages == ["the rollouts can be read again"]
