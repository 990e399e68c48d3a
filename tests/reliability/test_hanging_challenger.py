"""A challenger that hangs forever: the champion keeps answering within its bound.

The ``hang`` model sleeps an hour in ``predict``. It serves as a canary (half the
units, 150 ms timeout: the champion answers those units instead) and as a shadow
(every request mirrored, 100 ms timeout, at most 4 calls in flight). Both failures
are counted in /metrics and stored with ``error`` set; SIGTERM still shuts the
gateway down cleanly with the hung model threads.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import text

from accuguard.assign import bucket
from accuguard.store import make_engine

from .conftest import ROW, gateway_config
from .procs import GatewayProcess, metric, wait_until

N = 120


def test_a_hanging_canary_and_shadow_never_break_the_champions_answers(
    registry_uri, pg_url, gateways, tmp_path
):
    deployment = {
        "model": "fraud",
        "timeout_ms": 20_000,  # the champion's bound: past it the caller would get 504
        "challengers": [
            {
                "name": "stuck",
                "model": "hang",
                "alias": "champion",
                "mode": "canary",
                "weight": 0.5,
                "timeout_ms": 150,
            },
            {
                "name": "mirror",
                "model": "hang",
                "version": 2,  # not the canary's version: a worker thread of its own
                "mode": "shadow",
                "timeout_ms": 100,
            },
        ],
    }
    config = gateway_config(
        registry_uri,
        pg_url,
        deployments={"fraud": deployment},
        shadow_max_in_flight=4,
        shutdown_timeout_s=5,  # how long a shutdown waits for the hung calls
    )
    gateway = GatewayProcess(tmp_path, config)
    gateways.append(gateway.start())
    gateway.wait_ready()

    def ask(i: int) -> httpx.Response:
        return gateway.predict(f"hang-{i}", f"user-{i}", ROW)

    with ThreadPoolExecutor(8) as pool:  # 8 callers at a time
        answers = list(pool.map(ask, range(N)))
    canary_units = {i for i in range(N) if bucket("fraud/stuck", f"user-{i}") < 5000}
    wait_until(
        lambda: gateway.metric("accuguard_shadow_errors_total", shadow="mirror", reason="timeout"),
        30,
        "a shadow timeout counted",
    )
    metrics = gateway.metrics()
    assert gateway.terminate()  # SIGTERM with model threads stuck in sleep: clean exit

    print(
        f"\n{N} requests: statuses {sorted({a.status_code for a in answers})}, canary "
        f"fallbacks {metric(metrics, 'accuguard_fallbacks_total'):.0f}, shadow timeouts "
        f"{metric(metrics, 'accuguard_shadow_errors_total'):.0f}, shadow calls dropped "
        f"{metric(metrics, 'accuguard_shadow_dropped_total'):.0f}"
    )
    assert [a.status_code for a in answers] == [200] * N
    assert {a.json()["variant"] for a in answers} == {"champion"}
    fallbacks = metric(metrics, "accuguard_fallbacks_total", variant="stuck", reason="timeout")
    assert fallbacks == len(canary_units) > 0
    assert metric(metrics, "accuguard_shadow_errors_total", shadow="mirror") >= 1
    # bounded: at most 4 calls in flight to the hung shadow, the rest dropped and counted
    assert metric(metrics, "accuguard_shadow_dropped_total", shadow="mirror") > 0
    engine = make_engine(pg_url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT request_id, variant, error FROM predictions "
                "WHERE request_id LIKE 'hang-%' AND mode != 'shadow'"
            )
        ).all()
    engine.dispose()
    assert len(rows) == N  # one answer stored per request
    stuck = {r.request_id for r in rows if r.variant == "stuck"}
    assert stuck == {f"hang-{i}" for i in canary_units}
    assert all("timed out after 150 ms" in r.error for r in rows if r.variant == "stuck")
