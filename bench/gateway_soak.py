"""Soak test: `accuguard serve` at a fixed request rate near its capacity for minutes.

What it does, on loopback:

1. a local MLflow registry (SQLite, temp dir) gets the benchmark's models
   (``bench@champion`` and ``bench@shadow``, see gateway_vs_mlflow.py);
2. ``accuguard serve`` (one worker) serves the champion with the shadow, the event log
   in PostgreSQL (a fresh schema on ``--store-url``, default
   ``$ACCUGUARD_TEST_POSTGRES_URL``) or, without a URL, in a SQLite file;
3. a closed-loop calibration run (``--connections`` connections, as fast as the gateway
   answers) measures the capacity; the soak then sends single-row requests at a fixed
   rate (open loop: request ``i`` is due at ``t0 + i / rate``; a late answer delays no
   later request; latency counts from the due time, so queueing shows) of
   ``--load`` x the capacity, or ``--rate``, for ``--minutes``; with ``--closed-loop``
   it goes on as the calibration ran (at capacity, latency from send to answer);
4. every ``--sample-s`` seconds: the gateway's RSS (/proc/<pid>/status) and its
   event-log counters (/metrics);
5. afterwards: p50/p95/p99 per window and overall, requests accepted (200) vs
   prediction rows stored for those request ids (and distinct), RSS start/end/slope.

Exit status 1 when an accepted request is not stored exactly once, p99 is over
``--p99-bound-ms``, or RSS grew faster than ``--rss-slope-bound`` MiB/min after the
first window.

    .venv/bin/python bench/gateway_soak.py --minutes 5
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gateway_vs_mlflow import FEATURES, VENV_BIN, free_port, register_models, wait_http

PATH = "/v1/deployments/bench/predict"


@dataclass
class Window:
    """Answers of one time window of the soak."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0


@dataclass
class Load:
    """What the load generator sent and got back."""

    sent: int = 0
    accepted: list[str] = field(default_factory=list)  # request ids answered 200
    statuses: dict[int, int] = field(default_factory=dict)
    failures: int = 0  # connection errors
    windows: list[Window] = field(default_factory=list)


async def _one(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    match = re.search(rb"(?i)content-length:\s*(\d+)", head)
    body = await reader.readexactly(int(match.group(1))) if match else b""
    return status, body


def _request(port: int, body: bytes, request_id: str, unit: str) -> bytes:
    return (
        f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"X-Request-Id: {request_id}\r\nX-Unit-Id: {unit}\r\n\r\n"
    ).encode() + body


async def drive(
    port: int,
    body: bytes,
    connections: int,
    seconds: float,
    rate: float | None,
    window_s: float,
    max_requests: int,
    prefix: str,
) -> Load:
    """Send requests for ``seconds`` (open loop at ``rate``, closed loop when None)."""
    load = Load()
    t0 = time.perf_counter()
    n_windows = max(1, int(np.ceil(seconds / window_s)))
    load.windows = [Window() for _ in range(n_windows)]
    counter = iter(range(max_requests))

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for i in counter:
                due = t0 + i / rate if rate else time.perf_counter()
                if due - t0 >= seconds:
                    return
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                request_id = f"{prefix}-{i}"
                load.sent += 1
                try:
                    status, _ = await _one(
                        reader, writer, _request(port, body, request_id, f"user-{i % 10_000}")
                    )
                except (OSError, asyncio.IncompleteReadError):
                    load.failures += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    continue
                done = time.perf_counter()
                load.statuses[status] = load.statuses.get(status, 0) + 1
                window = load.windows[min(n_windows - 1, int((due - t0) / window_s))]
                if status == 200:
                    load.accepted.append(request_id)
                    window.latencies_ms.append((done - due) * 1000)
                else:
                    window.errors += 1
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(connections)))
    return load


def rss_mib(pid: int) -> float:
    """Resident set size of ``pid`` in MiB."""
    text = Path(f"/proc/{pid}/status").read_text()
    kib = int(re.search(r"VmRSS:\s+(\d+)", text).group(1))  # type: ignore[union-attr]
    return kib / 1024


def event_stats(port: int) -> dict[str, float]:
    """``accuguard_event_log{stat}`` from the gateway's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    return {
        m.group(1): float(m.group(2))
        for m in re.finditer(r'^accuguard_event_log\{stat="(\w+)"\} (\S+)$', text, re.M)
    }


async def sample(pid: int, port: int, every: float, out: list[tuple[float, float, dict]]) -> None:
    """Append ``(t, RSS MiB, event stats)`` every ``every`` seconds until cancelled."""
    t0 = time.perf_counter()
    while True:
        stats = await asyncio.to_thread(event_stats, port)
        out.append((time.perf_counter() - t0, rss_mib(pid), stats))
        await asyncio.sleep(every)


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def store_setup(url: str | None, tmp: Path) -> tuple[str, object, Callable[[], None]]:
    """The gateway's store URL, an engine to count rows, and how to drop what was made
    (a fresh PostgreSQL schema; SQLite lives in ``tmp``)."""
    from sqlalchemy import text

    from accuguard.store import make_engine

    if not url:
        store = f"sqlite:///{tmp / 'events.db'}"
        return store, make_engine(store), lambda: None
    admin = make_engine(url)
    schema = f"soak_{uuid.uuid4().hex[:10]}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    store = admin.url.update_query_dict({"options": f"-csearch_path={schema}"})
    rendered = store.render_as_string(hide_password=False)
    engine = make_engine(rendered)

    def drop() -> None:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return rendered, engine, drop


def stored_counts(engine: object, prefix: str) -> tuple[int, int]:
    from sqlalchemy import text

    with engine.connect() as conn:  # type: ignore[attr-defined]
        row = conn.execute(
            text(
                "SELECT count(*), count(DISTINCT request_id) FROM predictions "
                "WHERE mode != 'shadow' AND request_id LIKE :p"
            ),
            {"p": f"{prefix}-%"},
        ).one()
    return int(row[0]), int(row[1])


def wait_drained(port: int, timeout: float = 120.0) -> dict[str, float]:
    """Wait until the writer's queue is empty and nothing waits in the spool."""
    deadline = time.time() + timeout
    while True:
        stats = event_stats(port)
        done = stats.get("queue_depth", 1) == 0 and stats.get("spool_bytes", 1) == 0
        if done or time.time() > deadline:
            return stats
        time.sleep(0.5)


def slope_per_min(points: list[tuple[float, float]]) -> float:
    if len(points) < 2:
        return float("nan")
    t = np.array([p[0] for p in points]) / 60
    y = np.array([p[1] for p in points])
    return float(np.polyfit(t, y, 1)[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="soak duration")
    parser.add_argument("--rate", type=float, help="requests/s (default: --load x capacity)")
    parser.add_argument("--load", type=float, default=0.9, help="share of measured capacity")
    parser.add_argument(
        "--closed-loop",
        action="store_true",
        help="soak as the calibration runs: --connections connections, each sending its "
        "next request when the last is answered (throughput = capacity; no fixed rate)",
    )
    parser.add_argument("--calibrate-s", type=float, default=20.0)
    parser.add_argument("--connections", type=int, default=8, help="calibration connections")
    parser.add_argument("--max-connections", type=int, default=64, help="soak connections")
    parser.add_argument("--window-s", type=float, default=30.0)
    parser.add_argument("--sample-s", type=float, default=5.0)
    parser.add_argument("--max-requests", type=int, default=2_000_000)
    parser.add_argument("--store-url", default=os.environ.get("ACCUGUARD_TEST_POSTGRES_URL"))
    parser.add_argument("--p99-bound-ms", type=float, default=100.0)
    parser.add_argument("--rss-slope-bound", type=float, default=2.0, help="MiB/min")
    parser.add_argument(
        "--keep-store", action="store_true", help="keep the PostgreSQL schema afterwards"
    )
    args = parser.parse_args()
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    rng = np.random.default_rng(1)
    row = {f: round(float(v), 4) for f, v in zip(FEATURES, rng.normal(size=20), strict=True)}
    body = ('{"row": ' + __import__("json").dumps(row) + "}").encode()
    with tempfile.TemporaryDirectory(prefix="accuguard-soak-") as d:
        tmp = Path(d)
        uri = register_models(tmp)
        store_url, engine, drop_store = store_setup(args.store_url, tmp)
        port = free_port()
        cfg = tmp / "deployments.yaml"
        cfg.write_text(
            f"store_url: '{store_url}'\nspool_dir: {tmp / 'spool'}\n"
            f"mlflow_tracking_uri: {uri}\nreload_interval_s: 0\n"
            "deployments:\n  bench:\n    model: bench\n    challengers:\n"
            "      - {name: shadow, alias: shadow, mode: shadow}\n"
        )
        env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "ACCUGUARD_PRIVACY_SALT": "soak-salt"}
        cmd = [str(VENV_BIN / "accuguard"), "serve", "--config", str(cfg), "--port", str(port)]
        with (tmp / "gateway.log").open("w") as log:
            proc = subprocess.Popen(
                [*cmd, "--log-level", "warning"], env=env, stdout=log, stderr=log
            )
        try:
            wait_http(f"http://127.0.0.1:{port}/readyz")
            cal = asyncio.run(
                drive(port, body, args.connections, args.calibrate_s, None, 1e9, 10**9, "cal")
            )
            capacity = len(cal.accepted) / args.calibrate_s
            cal_lat = cal.windows[0].latencies_ms
            rate = None if args.closed_loop else args.rate or args.load * capacity
            seconds = args.minutes * 60
            how = (
                f"closed loop, {args.connections} connections"
                if rate is None
                else f"{rate:,.0f} req/s, open loop, up to {args.max_connections} connections"
            )
            print(
                f"calibration: {args.connections} connections, closed loop, "
                f"{args.calibrate_s:g} s: {capacity:,.0f} req/s, p50 {pct(cal_lat, 50):.2f} ms, "
                f"p99 {pct(cal_lat, 99):.2f} ms",
                flush=True,
            )
            print(f"soak: {args.minutes:g} min, {how}; {os.cpu_count()} cores", flush=True)
            samples: list[tuple[float, float, dict]] = []

            async def soak() -> Load:
                sampler = asyncio.create_task(sample(proc.pid, port, args.sample_s, samples))
                try:
                    return await drive(
                        port,
                        body,
                        args.connections if rate is None else args.max_connections,
                        seconds,
                        rate,
                        args.window_s,
                        args.max_requests,
                        "soak",
                    )
                finally:
                    sampler.cancel()

            rss_before = rss_mib(proc.pid)
            load = asyncio.run(soak())
            final = wait_drained(port)
            rss_after = rss_mib(proc.pid)
            total, distinct = stored_counts(engine, "soak")
        finally:
            proc.terminate()
            proc.wait(timeout=60)
            if not args.keep_store:
                drop_store()

    print(f"\n{'window':>8} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for k, w in enumerate(load.windows):
        lat = w.latencies_ms
        start = k * args.window_s
        span = min(args.window_s, seconds - start)
        print(
            f"{start:>7.0f}s {len(lat) / span:>8,.0f} {pct(lat, 50):>8.2f} {pct(lat, 95):>8.2f} "
            f"{pct(lat, 99):>8.2f} {w.errors:>7}"
        )
    lat_all = [x for w in load.windows for x in w.latencies_ms]
    p50, p95, p99 = (pct(lat_all, q) for q in (50, 95, 99))
    print(
        f"{'all':>8} {len(lat_all) / seconds:>8,.0f} {p50:>8.2f} {p95:>8.2f} {p99:>8.2f} "
        f"{sum(w.errors for w in load.windows):>7}"
    )
    steady = [(t, rss) for t, rss, _ in samples if t >= args.window_s]
    slope = slope_per_min(steady)
    accepted = len(load.accepted)
    print(f"\nsent {load.sent}, statuses {load.statuses}, connection errors {load.failures}")
    print(
        f"accepted (200) {accepted}, stored {total}, distinct {distinct}, "
        f"lost {accepted - distinct}"
    )
    print(
        "writer: "
        + ", ".join(
            f"{k} {int(final.get(k, 0))}"
            for k in ("accepted", "written", "spooled", "replayed", "dropped", "failed_batches")
        )
    )
    max_depth = max((s.get("queue_depth", 0) for _, _, s in samples), default=0)
    print(f"event queue depth: max {max_depth:.0f} at the {len(samples)} samples")
    print(
        f"RSS MiB: before {rss_before:.1f}, after the first window "
        f"{steady[0][1] if steady else float('nan'):.1f}, end of load "
        f"{samples[-1][1] if samples else float('nan'):.1f}, after drain {rss_after:.1f}; "
        f"slope after the first window {slope:+.2f} MiB/min "
        f"(median {statistics.median(r for _, r in steady) if steady else float('nan'):.1f})"
    )
    ok = accepted == total == distinct and p99 <= args.p99_bound_ms
    ok = ok and not slope > args.rss_slope_bound
    print(
        f"\nresult: {'PASS' if ok else 'FAIL'} (stored == accepted, p99 <= "
        f"{args.p99_bound_ms:g} ms, RSS slope <= {args.rss_slope_bound:g} MiB/min)"
    )
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
