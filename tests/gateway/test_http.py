"""Over real HTTP: uvicorn on loopback, in a thread and as a subprocess stopped by SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

import httpx
import pytest

from accuguard.gateway import create_app
from tests.gateway.conftest import ROW, SALT, MemorySink, make_config


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, timeout: float = 90.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stderr.read().decode()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError("server not ready in time")


@contextlib.contextmanager
def uvicorn_thread(app):
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url)
        yield url
    finally:
        server.should_exit = True
        thread.join(30)


def test_predict_and_errors_over_real_http(registry):
    config = make_config(
        registry[0],
        {
            "fraud": {
                "model": "fraud",
                "challengers": [{"name": "v2", "alias": "challenger", "mode": "shadow"}],
            }
        },
        limits={"max_body_bytes": 4096},
    )
    sink = MemorySink()
    app = create_app(config, sink=sink, privacy_salt=SALT)
    with uvicorn_thread(app) as url, httpx.Client(base_url=url) as client:
        r = client.post("/v1/deployments/fraud/predict", json={"row": ROW, "unit_id": "u1"})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/json"
        assert r.json()["predictions"] == [1]
        big = (
            b'{"rows": [' + b",".join([b'{"amount": 1.0, "age": 3, "country": "fr"}'] * 200) + b"]}"
        )
        r = client.post("/v1/deployments/fraud/predict", content=big)
        assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"
        r = client.post("/v1/deployments/fraud/predict", content=b"[1")
        assert r.status_code == 400
        assert client.get("/metrics").text.count("accuguard_requests_total{") == 1
    assert sink.flushed == 1  # shutdown flushed the given sink
    assert {p.variant for p in sink.predictions} == {"champion", "v2"}  # the shadow ran too


async def _load(url: str, proc: subprocess.Popen, accepted: list[str], term_at: list[float]):
    """Send single-row requests on 8 connections until the server is gone."""

    async def worker(i: int) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            while proc.poll() is None:
                try:
                    r = await client.post(
                        "/v1/deployments/fraud/predict", json={"row": ROW, "unit_id": f"w{i}"}
                    )
                except httpx.HTTPError:
                    if term_at:
                        await asyncio.sleep(0.05)
                        continue
                    raise
                if r.status_code == 200:
                    accepted.append(r.json()["request_id"])
                elif not term_at:
                    raise AssertionError(r.text)

    async def terminate() -> None:
        await asyncio.sleep(1.5)
        proc.send_signal(signal.SIGTERM)
        term_at.append(time.monotonic())

    await asyncio.gather(*(worker(i) for i in range(8)), terminate())


def test_sigterm_under_load_stores_every_accepted_prediction(registry, tmp_path, capsys):
    pytest.importorskip("accuguard.store.writer")
    uri = registry[0]
    db = tmp_path / "events.db"
    config = tmp_path / "deployments.yaml"
    config.write_text(
        f"store_url: sqlite:///{db}\nspool_dir: {tmp_path / 'spool'}\n"
        f"mlflow_tracking_uri: {uri}\nreload_interval_s: 0\nshutdown_timeout_s: 20\n"
        "deployments:\n  fraud:\n    model: fraud\n    challengers:\n"
        "      - {name: v2, alias: challenger, mode: shadow}\n"
    )
    port = free_port()
    env = {**os.environ, "ACCUGUARD_PRIVACY_SALT": SALT, "MLFLOW_TRACKING_URI": uri}
    code = "import typer; from accuguard.gateway.cli import serve_command; typer.run(serve_command)"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "--config", str(config), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        t0 = time.monotonic()
        wait_ready(url, proc=proc)
        ready_s = time.monotonic() - t0
        accepted: list[str] = []
        term_at: list[float] = []
        asyncio.run(_load(url, proc, accepted, term_at))
        proc.wait(60)
        stopped_s = time.monotonic() - term_at[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    log = proc.stderr.read().decode()
    # uvicorn re-raises the SIGTERM it caught once its graceful shutdown is done
    assert proc.returncode in (0, -signal.SIGTERM), log[-3000:]
    assert "Application shutdown complete" in log, log[-3000:]
    with sqlite3.connect(db) as conn:
        stored = {
            row[0]
            for row in conn.execute("SELECT request_id FROM predictions WHERE variant='champion'")
        }
        shadows = conn.execute("SELECT COUNT(*) FROM predictions WHERE variant='v2'").fetchone()[0]
    with capsys.disabled():
        print(
            f"\n[SIGTERM] accepted {len(accepted)}, stored {len(stored)}, shadow rows {shadows}, "
            f"ready after {ready_s:.1f} s, exit {stopped_s:.1f} s after SIGTERM"
        )
    assert len(accepted) > 50
    assert len(set(accepted)) == len(accepted)
    assert stored == set(accepted)  # no accepted request's event lost, none invented
