"""A real Prometheus scrapes a real gateway on loopback, evaluates the shipped rules and
answers every dashboard query.

The gateway serves ``fraud`` (its champion's last hour in the event log is 55 %
accurate, under a monitor floor of 80 %) and ``broken`` (an alias that does not exist,
so the gateway never becomes ready). The rules are the shipped ones with every
``for:`` set to 0 s, so the alerts fire within seconds instead of minutes (the
durations themselves are checked by ``promtool test rules``).
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import yaml

from tests.gateway.conftest import (  # noqa: F401 (session fixture)
    ROW,
    SALT,
    _registry_uri,
    client_for,
    make_config,
    registry,
)
from tests.gateway.test_http import free_port
from tests.monitor.conftest import log_predictions
from tests.prometheus.conftest import RULES, documented_config
from tests.prometheus.promql import exported_names, metric_names
from tests.prometheus.test_dashboard import expressions
from tests.rollout.support_controller import store

DEADLINE_S = 60.0


def _until(what: str, check, deadline: float, pause: float = 0.25):
    """Call ``check()`` until it returns something truthy, or fail at ``deadline``."""
    last = None
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            last = check()
            if last:
                return last
        time.sleep(pause)
    raise AssertionError(f"{what}: not seen in time (last: {last!r})")


@contextlib.contextmanager
def gateway_on_loopback(uri: str, tmp_path: Path) -> Iterator[str]:
    """The gateway described in the module docstring, served by uvicorn in a thread."""
    import mlflow
    import uvicorn

    from accuguard.gateway import create_app

    tmp_path.mkdir(parents=True, exist_ok=True)
    engine = store(tmp_path)
    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.3).astype(int)
    pred = np.where(rng.random(400) < 0.55, y, 1 - y)
    log_predictions(
        engine,
        [{}] * 400,
        t0=time.time() - 60,
        dt=0.05,
        outputs=[int(p) for p in pred],
        labels=[int(v) for v in y],
    )
    monitor = tmp_path / "fraud-monitor.yaml"
    monitor.write_text(
        "deployment: fraud\nwindow_s: 600\nmin_rows: 100\n"
        "drift: {enabled: false}\nprediction_drift: {enabled: false}\n"
        "accuracy: {floor: 0.8, rollback: false}\n"
    )
    config = make_config(
        uri,
        {"fraud": {"model": "fraud"}, "broken": {"model": "fraud", "champion_alias": "missing"}},
        store_url=f"sqlite:///{tmp_path / 'events.db'}",
        spool_dir=str(tmp_path / "spool"),
        controller={"enabled": False, "interval_s": 1, "traffic_poll_s": 0.5},
        monitoring={"files": [str(monitor)], "interval_s": 0.5},
    )
    app = create_app(config, privacy_salt=SALT, store_engine=engine)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        mlflow.set_tracking_uri(None)
        engine.dispose()


@contextlib.contextmanager
def prometheus_scraping(binary: str, target: str, tmp_path: Path) -> Iterator[str]:
    """``prometheus`` on a free loopback port, scraping ``target`` every second."""
    rules = yaml.safe_load(RULES.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule["for"] = "0s"
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules))
    config = documented_config()  # the quick start's, with 1 s intervals and our paths
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(tmp_path / "rules.yml")]
    config["scrape_configs"][0]["static_configs"] = [{"targets": [target]}]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = (tmp_path / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def _firing(api: httpx.Client) -> dict[str, dict]:
    alerts = api.get("/api/v1/alerts").json()["data"]["alerts"]
    return {a["labels"]["alertname"]: a for a in alerts if a["state"] == "firing"}


def _query(api: httpx.Client, expr: str) -> dict:
    return api.get("/api/v1/query", params={"query": expr}).json()


def _grafana_to_promql(expr: str) -> str:
    """Grafana's variables replaced as Grafana would (all deployments, a 1 minute range)."""
    return re.sub(r"\$__(rate_interval|range|interval)", "1m", expr).replace("$deployment", ".*")


def test_prometheus_scrapes_the_gateway_and_fires_the_shipped_alerts(
    _registry_uri,  # noqa: F811
    prometheus,
    tmp_path,
):
    with gateway_on_loopback(_registry_uri, tmp_path / "gw") as url:
        http = httpx.Client(base_url=url, timeout=10)
        start = time.monotonic()

        def fraud_loaded():
            return "fraud" in http.get("/readyz").json()["deployments"]

        _until("the fraud models loaded", fraud_loaded, start + 120)
        for i in range(20):
            r = http.post("/v1/deployments/fraud/predict", json={"row": ROW, "unit_id": f"u{i}"})
            assert r.status_code == 200, r.text
        exposition = http.get("/metrics").text
        target = url.removeprefix("http://")
        with (
            prometheus_scraping(prometheus, target, tmp_path / "prom") as prom,
            httpx.Client(base_url=prom, timeout=10) as api,
        ):
            deadline = time.monotonic() + DEADLINE_S
            _until("prometheus ready", lambda: api.get("/-/ready").status_code == 200, deadline)

            def both_firing():
                firing = _firing(api)
                wanted = {"AccuguardGatewayNotReady", "AccuguardAccuracyBelowFloor"}
                return firing if wanted <= set(firing) else None

            firing = _until("the two alerts firing", both_firing, deadline)
            targets = api.get("/api/v1/targets").json()["data"]["activeTargets"]
            served = _query(api, 'sum(accuguard_requests_total{deployment="fraud"})')
            checks = {e: _query(api, _grafana_to_promql(e)) for e in expressions()}
            rules = api.get("/api/v1/rules").json()["data"]["groups"]
    assert [t["health"] for t in targets] == ["up"]
    assert float(served["data"]["result"][0]["value"][1]) == 20.0
    accuracy = firing["AccuguardAccuracyBelowFloor"]
    assert accuracy["labels"]["deployment"] == "fraud"
    assert accuracy["labels"]["severity"] == "critical"
    assert accuracy["annotations"]["summary"] == (
        "fraud: the champion's accuracy is below its floor"
    )
    ready = firing["AccuguardGatewayNotReady"]
    assert ready["labels"]["instance"] == target
    assert {"AccuguardHighErrorRate", "AccuguardHighLatencyP95"}.isdisjoint(firing)
    assert all(r["health"] == "ok" for g in rules for r in g["rules"]), json.dumps(rules)
    bad = {e: c for e, c in checks.items() if c.get("status") != "success"}
    assert not bad, bad
    used = set().union(*(metric_names(e) for e in expressions()))
    assert used <= exported_names(exposition), sorted(used - exported_names(exposition))
    assert time.monotonic() - start < 120


def test_accuguard_ready_turns_1_without_anyone_calling_readyz(registry):  # noqa: F811
    from accuguard.gateway import create_app
    from tests.gateway.conftest import MemorySink

    app = create_app(
        make_config(registry[0], {"fraud": {"model": "fraud"}}),
        sink=MemorySink(),
        privacy_salt=SALT,
    )
    with client_for(app) as client:
        deadline = time.monotonic() + 60

        def ready_metric():
            return "\naccuguard_ready 1.0\n" in client.get("/metrics").text

        _until("accuguard_ready 1", ready_metric, deadline, pause=0.05)
        assert client.get("/readyz").status_code == 200
