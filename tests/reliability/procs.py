"""Real processes for the reliability tests: gateways, a private PostgreSQL, a load driver.

- :class:`GatewayProcess`: ``accuguard serve`` in a subprocess on a free loopback port,
  with its own config file, spool directory and log; ``terminate`` (SIGTERM, graceful)
  or ``kill`` (SIGKILL);
- :class:`PrivatePostgres`: a PostgreSQL cluster of the test's own (``initdb`` in a
  temp dir, a free port), so a test can stop and start *its* server without touching
  the machine's shared one; run as the ``postgres`` user when the tests run as root;
- :class:`LoadDriver`: threads sending single-row predictions with unique request ids,
  recording which were accepted (200) and when;
- :func:`stored_ids` (what the store holds, read with SQL, not from the gateway's
  counters) and :func:`caught_up` (the gateway's spool is replayed).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import text

from accuguard.store import make_engine

SALT = "reliability-salt"
VENV_BIN = Path(sys.executable).parent
PG_BIN_ENV = "ACCUGUARD_TEST_PG_BIN"
HOW_TO_RUN_PRIVATE_PG = (
    "needs PostgreSQL's server binaries (initdb, pg_ctl): apt-get install postgresql, or "
    f"export {PG_BIN_ENV}=/usr/lib/postgresql/15/bin"
)


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def skip_or_fail(message: str) -> None:
    """Skip the test, or fail it under CI (env ``CI`` set): CI must run every test."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def wait_until(check: Callable[[], Any], timeout: float, what: str, every: float = 0.1) -> Any:
    """Poll ``check`` until it returns a truthy value; fail naming ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


Sample = tuple[str, dict[str, str], float]
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text: str) -> list[Sample]:
    """Prometheus text -> ``[(name, labels, value)]`` (samples only)."""
    out = []
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            name, _, labels = key.partition("{")
            out.append((name, dict(_LABEL.findall(labels)), float(value)))
    return out


def metric(samples: list[Sample], name: str, **labels: str) -> float:
    """The sum of the samples named ``name`` whose labels include ``labels`` (0 if none)."""
    return sum(
        v
        for n, have, v in samples
        if n == name and all(have.get(k) == x for k, x in labels.items())
    )


class GatewayProcess:
    """``accuguard serve --config <dir>/gateway.yaml`` on a free port."""

    def __init__(self, directory: Path, config: dict[str, Any], name: str = "gw") -> None:
        self.directory = directory
        self.name = name
        self.config = {"spool_dir": str(directory / f"spool-{name}"), **config}
        self.config_path = directory / f"{name}.yaml"
        self.log_path = directory / f"{name}.log"
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.client = httpx.Client(timeout=10)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> GatewayProcess:
        """Start (or restart, on the same config and spool directory) the gateway."""
        self.config_path.write_text(yaml.safe_dump(self.config))
        self.port = free_port()
        env = {**os.environ, "ACCUGUARD_PRIVACY_SALT": SALT}
        cmd = [
            str(VENV_BIN / "accuguard"),
            "serve",
            "--config",
            str(self.config_path),
            "--port",
            str(self.port),
            "--log-level",
            "info",
        ]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        return self

    def get(self, path: str) -> httpx.Response:
        return self.client.get(self.base + path)

    def wait_ready(self, timeout: float = 240.0) -> dict[str, Any]:
        """Wait for ``/readyz`` 200; return its body."""

        def ready() -> dict[str, Any] | None:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited ({self.proc.returncode}): {self.log()}")
            with contextlib.suppress(httpx.TransportError):
                r = self.get("/readyz")
                if r.status_code == 200:
                    return dict(r.json())
            return None

        return dict(wait_until(ready, timeout, f"{self.name} /readyz 200"))

    def predict(
        self, request_id: str, unit: str, row: dict[str, Any], deployment: str = "fraud"
    ) -> httpx.Response:
        return self.client.post(
            f"{self.base}/v1/deployments/{deployment}/predict",
            json={"row": row},
            headers={"X-Request-Id": request_id, "X-Unit-Id": unit},
        )

    def metrics(self) -> list[Sample]:
        return parse_metrics(self.get("/metrics").text)

    def metric(self, name: str, **labels: str) -> float:
        """One metric now (see :func:`metric`)."""
        return metric(self.metrics(), name, **labels)

    def event_stats(self) -> dict[str, float]:
        """``accuguard_event_log{stat}`` as a dict."""
        return {
            labels["stat"]: value
            for name, labels, value in self.metrics()
            if name == "accuguard_event_log"
        }

    def terminate(self, timeout: float = 60.0) -> bool:
        """SIGTERM (graceful: drain, flush the event log); True when it shut down cleanly.

        uvicorn re-raises the signal once its shutdown is complete, so the exit status
        is -SIGTERM (or 0); the log line tells that the app's shutdown ran to its end.
        """
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        return code in (0, -signal.SIGTERM) and "Application shutdown complete" in self.log()

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def close(self) -> None:
        """Stop the process if it still runs (end of test)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.client.close()


def postgres_bin() -> Path | None:
    """The directory of ``initdb`` and ``pg_ctl``, or None."""
    given = os.environ.get(PG_BIN_ENV)
    if given:
        return Path(given) if (Path(given) / "initdb").exists() else None
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PrivatePostgres:
    """A PostgreSQL cluster of one test: ``initdb`` in a temp dir, on a free port.

    As root, the server runs as the ``postgres`` user (it refuses root). ``stop`` uses
    ``pg_ctl -m immediate`` (every backend killed at once, like a crash) unless told.
    """

    def __init__(self) -> None:
        bindir = postgres_bin()
        if bindir is None:
            skip_or_fail(HOW_TO_RUN_PRIVATE_PG)
        assert bindir is not None
        self.bindir = bindir
        self.prefix: list[str] = []
        self.root = Path(tempfile.mkdtemp(prefix="accuguard-pg-"))
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                shutil.rmtree(self.root)
                skip_or_fail("running as root needs a 'postgres' user to run PostgreSQL as")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self.data = self.root / "data"
        self.port = free_port()
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        )

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        cmd = [*self.prefix, str(self.bindir / tool), *args]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed: {done.stdout}{done.stderr}")

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "log"),
            "-w",
            "start",
        )

    def stop(self, mode: str = "immediate") -> None:
        """Stop the server (``immediate``: like a crash; ``fast``: clean)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(AssertionError):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


class LoadDriver:
    """``threads`` threads sending single-row predictions to ``targets`` until ``stop``.

    Request ids are ``<prefix>-<n>``; ``accepted`` maps each id answered 200 to the
    monotonic time of its answer; ``statuses`` counts answers by status.
    """

    def __init__(
        self,
        targets: list[GatewayProcess],
        row: dict[str, Any],
        prefix: str,
        threads: int = 4,
        deployment: str = "fraud",
    ) -> None:
        self.targets = targets
        self.row = row
        self.prefix = prefix
        self.deployment = deployment
        self.accepted: dict[str, float] = {}
        self.sent: set[str] = set()
        self.statuses: dict[int | str, int] = {}
        self._lock = threading.Lock()
        self._counter = iter(range(10**9))
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(k,)) for k in range(threads)]

    def start(self) -> LoadDriver:
        for thread in self._threads:
            thread.start()
        return self

    def _run(self, k: int) -> None:
        with httpx.Client(timeout=10) as client:
            while not self._stop.is_set():
                with self._lock:
                    n = next(self._counter)
                request_id = f"{self.prefix}-{n}"
                target = self.targets[n % len(self.targets)]
                with self._lock:
                    self.sent.add(request_id)
                try:
                    r = client.post(
                        f"{target.base}/v1/deployments/{self.deployment}/predict",
                        json={"row": self.row},
                        headers={"X-Request-Id": request_id, "X-Unit-Id": f"user-{n % 997}"},
                    )
                    status: int | str = r.status_code
                except httpx.TransportError:
                    status = "transport_error"
                    time.sleep(0.05)
                with self._lock:
                    self.statuses[status] = self.statuses.get(status, 0) + 1
                    if status == 200:
                        self.accepted[request_id] = time.monotonic()

    def count(self) -> int:
        with self._lock:
            return len(self.accepted)

    def wait_for(self, n: int, timeout: float = 60.0) -> None:
        """Wait until ``n`` more requests than now were accepted."""
        target = self.count() + n
        wait_until(lambda: self.count() >= target, timeout, f"{n} more accepted requests")

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)


def stored_ids(url: str, prefix: str) -> list[str]:
    """Request ids of the prediction rows stored for ``<prefix>-*`` (with repeats)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT request_id FROM predictions WHERE request_id LIKE :p"),
                {"p": f"{prefix}-%"},
            ).all()
    finally:
        engine.dispose()
    return [r[0] for r in rows]


def caught_up(gateway: GatewayProcess) -> bool:
    """The gateway writes to the store again and has replayed its whole spool."""
    stats = gateway.event_stats()
    return stats["spooling"] == 0 and stats["spool_bytes"] == 0 and stats["queue_depth"] == 0
