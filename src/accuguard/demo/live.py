"""The live part of the demo's machinery: the gateway on loopback, traffic, a webhook receiver.

- :class:`LiveServer` runs an ASGI app (the gateway, with its rollout controller and
  admin API) under uvicorn on ``127.0.0.1`` in a background thread.
- :class:`TrafficReplayer` sends generated transactions to ``/predict`` from a few
  threads (one unit per request, several rows each) and posts each row's true label to
  ``/v1/feedback`` a little later, as a fraud team's chargeback feed would.
- :class:`WebhookReceiver` is a tiny HTTP server that stands in for a retraining
  service: it checks the HMAC signature of every alert it receives.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from accuguard.monitor.hooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature

__all__ = ["LiveServer", "ReplayStats", "TrafficReplayer", "WebhookReceiver"]


class LiveServer:
    """``app`` under uvicorn on a free loopback port, in a daemon thread."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = int(self._sock.getsockname()[1])
        config = uvicorn.Config(
            app, log_level="warning", lifespan="on", access_log=False, timeout_graceful_shutdown=10
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 120.0) -> dict[str, Any]:
        """Start and wait for ``/readyz``; return its body. ``RuntimeError`` on timeout."""
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        last = "no answer"
        while time.monotonic() < deadline:
            if not self._thread.is_alive():
                raise RuntimeError("the gateway stopped while starting (see the log above)")
            with contextlib.suppress(httpx.HTTPError):
                r = httpx.get(f"{self.url}/readyz", timeout=5)
                if r.status_code == 200:
                    body: dict[str, Any] = r.json()
                    return body
                last = "; ".join(r.json().get("reasons", [])) or f"HTTP {r.status_code}"
            time.sleep(0.2)
        raise RuntimeError(f"the gateway was not ready after {timeout_s:g}s: {last}")

    def stop(self, timeout_s: float = 30.0) -> None:
        """Ask uvicorn to exit (the gateway drains and flushes its events) and wait."""
        self.server.should_exit = True
        self._thread.join(timeout_s)
        with contextlib.suppress(OSError):
            self._sock.close()


@dataclass
class ReplayStats:
    """Counters of a replay (read by the progress display while it runs)."""

    requests: int = 0
    rows: int = 0
    labels_sent: int = 0
    errors: int = 0
    by_variant: dict[str, int] = field(default_factory=dict)
    last_error: str | None = None


class TrafficReplayer:
    """Predict requests from ``threads`` threads; labels follow after ``label_delay_s``."""

    def __init__(
        self,
        base_url: str,
        deployment: str,
        *,
        threads: int = 4,
        rows_per_request: int = 8,
        label_delay_s: float = 1.0,
        timeout_s: float = 30.0,
    ) -> None:
        self.base_url = base_url
        self.deployment = deployment
        self.threads = threads
        self.rows_per_request = rows_per_request
        self.label_delay_s = label_delay_s
        self.timeout_s = timeout_s
        self._unit = 0
        self._lock = threading.Lock()

    def _next_unit(self) -> str:
        with self._lock:
            self._unit += 1
            return f"card-{self._unit:07d}"

    def replay(
        self,
        rows: Sequence[dict[str, Any]],
        labels: Sequence[Any],
        *,
        until: Callable[[], bool] | None = None,
        max_s: float = 120.0,
        stats: ReplayStats | None = None,
    ) -> ReplayStats:
        """Send ``rows`` (cycling) until ``until()`` is true, the rows run out (no
        ``until``) or ``max_s`` passes; then send the labels still due and return."""
        stats = stats or ReplayStats()
        stop = threading.Event()
        pending: deque[tuple[float, list[dict[str, Any]]]] = deque()
        chunks = _chunks(len(rows), self.rows_per_request, cycle=until is not None)
        chunk_lock = threading.Lock()

        def next_chunk() -> tuple[int, int] | None:
            with chunk_lock:
                return next(chunks, None)

        def worker() -> None:
            with httpx.Client(base_url=self.base_url, timeout=self.timeout_s) as client:
                while not stop.is_set():
                    span = next_chunk()
                    if span is None:
                        return
                    self._send(client, rows, labels, span, pending, stats)

        def feeder() -> None:
            with httpx.Client(base_url=self.base_url, timeout=self.timeout_s) as client:
                while True:
                    done = stop.is_set()
                    self._send_labels(client, pending, stats, flush=done)
                    if done:
                        return
                    time.sleep(0.2)

        workers = [threading.Thread(target=worker, daemon=True) for _ in range(self.threads)]
        labeller = threading.Thread(target=feeder, daemon=True)
        for t in [*workers, labeller]:
            t.start()
        deadline = time.monotonic() + max_s
        while time.monotonic() < deadline and any(t.is_alive() for t in workers):
            if until is not None and until():
                break
            time.sleep(0.1)
        stop.set()
        for t in workers:
            t.join(self.timeout_s)
        labeller.join(self.timeout_s + 10)
        return stats

    def _send(
        self,
        client: httpx.Client,
        rows: Sequence[dict[str, Any]],
        labels: Sequence[Any],
        span: tuple[int, int],
        pending: deque[tuple[float, list[dict[str, Any]]]],
        stats: ReplayStats,
    ) -> None:
        start, stop = span
        batch = [rows[i] for i in range(start, stop)]
        body = {"rows": batch, "unit_id": self._next_unit()}
        try:
            r = client.post(f"/v1/deployments/{self.deployment}/predict", json=body)
        except httpx.HTTPError as exc:
            stats.errors += 1
            stats.last_error = f"{type(exc).__name__}: {exc}"
            return
        if r.status_code != 200:
            stats.errors += 1
            stats.last_error = f"HTTP {r.status_code}: {r.text[:200]}"
            return
        answer = r.json()
        rid = answer["request_id"]
        ids = [rid] if len(batch) == 1 else [f"{rid}:{i}" for i in range(len(batch))]
        items = [{"request_id": ids[k], "label": labels[start + k]} for k in range(len(batch))]
        with self._lock:
            stats.requests += 1
            stats.rows += len(batch)
            variant = str(answer.get("variant"))
            stats.by_variant[variant] = stats.by_variant.get(variant, 0) + len(batch)
            pending.append((time.monotonic() + self.label_delay_s, items))

    def _send_labels(
        self,
        client: httpx.Client,
        pending: deque[tuple[float, list[dict[str, Any]]]],
        stats: ReplayStats,
        *,
        flush: bool,
    ) -> None:
        now = time.monotonic()
        due: list[dict[str, Any]] = []
        with self._lock:
            while pending and (flush or pending[0][0] <= now):
                due.extend(pending.popleft()[1])
        for i in range(0, len(due), 1000):
            part = due[i : i + 1000]
            try:
                r = client.post("/v1/feedback", json={"items": part})
                ok = r.status_code == 202
            except httpx.HTTPError:
                ok = False
            if ok:
                stats.labels_sent += len(part)
            else:
                stats.errors += 1


def _chunks(n: int, size: int, *, cycle: bool) -> Iterator[tuple[int, int]]:
    while True:
        for start in range(0, n, size):
            yield start, min(start + size, n)
        if not cycle:
            return


@dataclass
class Delivery:
    """One webhook call as the receiver saw it."""

    path: str
    event: str
    signature_ok: bool
    body: dict[str, Any]


class WebhookReceiver:
    """An HTTP server on loopback that records alerts and checks their signatures."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret
        self.deliveries: list[Delivery] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(min(length, 1_048_576))
                ok = verify_signature(
                    receiver.secret,
                    raw,
                    self.headers.get(TIMESTAMP_HEADER, ""),
                    self.headers.get(SIGNATURE_HEADER, ""),
                )
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {}
                receiver.deliveries.append(
                    Delivery(self.path, str(body.get("event", "")), ok, body)
                )
                self.send_response(202 if ok else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>/retrain``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/retrain"

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)
