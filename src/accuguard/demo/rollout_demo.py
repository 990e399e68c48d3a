"""The live part of ``accuguard demo``: a champion in production, two rollouts, a drift alert.

Timeline (every step goes through the product's own paths):

1. train and register ``fraud-live`` v1 (the champion), v2 (a better challenger) and
   v3 (a challenger whose training data lost one country: weak on Brazil);
2. start the gateway with its rollout controller and admin API (uvicorn on loopback);
3. replay transactions with labels arriving a second later (``POST /v1/feedback``);
4. roll out v2 through the admin API: shadow, canary 50 %, promoted;
5. roll out v3 while Brazilian traffic surges: its recall falls short in shadow and the
   controller rolls it back;
6. inject input drift (amounts and distances grow): the champion's monitor raises an
   alert delivered to a (signed) retraining webhook;
7. verify the audit chain, write the HTML report, say where to look next.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
from rich.console import Console

from accuguard.demo.data import FEATURES, Shift, transactions
from accuguard.demo.live import LiveServer, ReplayStats, TrafficReplayer
from accuguard.demo.live_models import FRAUD_OFFSET, MODEL, register_models, train_models
from accuguard.demo.live_monitor import DEPLOYMENT, INPUT_DRIFT, monitor_phase
from accuguard.demo.live_outcome import LiveOutcome, RolloutRun, Timeline, short

BRAZIL_SURGE = Shift(country_mix=0.4)

__all__ = [
    "FULL",
    "INPUT_DRIFT",
    "QUICK",
    "LiveOutcome",
    "Sizes",
    "plan_yaml",
    "run_live_demo",
    "where_next",
]


@dataclass(frozen=True)
class Sizes:
    """How much data and evidence the demo uses (full run or ``--quick``)."""

    train_rows: int
    pool_rows: int
    shadow_labels: int  # labelled shadow pairs before the shadow gate may pass
    shadow_positives: int  # labelled frauds among them before recall is compared
    canary_requests: int
    step_seconds: float
    phase_timeout_s: float
    drift_rows: int


FULL = Sizes(30_000, 12_000, 1_500, 250, 400, 4.0, 150.0, 2_400)
QUICK = Sizes(12_000, 6_000, 600, 120, 200, 2.0, 120.0, 1_200)


def plan_yaml(sizes: Sizes) -> str:
    """The rollout plan both challengers follow (short steps for the demo)."""
    return f"""\
# Demo plan: shadow (paired comparison on the same requests), then canary 50 %, then promote.
on_inconclusive: rollback
steps:
  - name: shadow
    mode: shadow
    min_duration_s: {sizes.step_seconds:g}
    max_duration_s: {sizes.phase_timeout_s * 0.6:g}
    min_labels: {sizes.shadow_labels}
    gate:
      checks:
        - {{check: recall, margin: 0.04, min_labels: {sizes.shadow_positives}}}
        - {{check: error_rate, max: 0.01}}
        - {{check: latency_p95_ms, max: 1500}}
  - name: canary-50
    mode: canary
    weight: 0.5
    min_duration_s: {sizes.step_seconds:g}
    max_duration_s: {sizes.phase_timeout_s * 0.4:g}
    min_requests: {sizes.canary_requests}
    gate:
      checks:
        - {{check: error_rate, max: 0.01, min_samples: {sizes.canary_requests}}}
        - {{check: latency_p95_ms, max: 1500, min_samples: {sizes.canary_requests}}}
"""


def _records(table: Any) -> tuple[list[dict[str, Any]], list[int]]:
    rows = table.select(FEATURES).to_pylist()
    labels = [int(v) for v in table.column("is_fraud").to_pylist()]
    return rows, labels


class _Api:
    """The rollout admin API, as an operator."""

    def __init__(self, url: str, token: str) -> None:
        self.client = httpx.Client(
            base_url=url, timeout=30, headers={"Authorization": f"Bearer {token}"}
        )

    def start(self, version: str, plan: str) -> dict[str, Any]:
        r = self.client.post(
            f"/v1/rollouts/{DEPLOYMENT}/start",
            json={"challenger": f"models:/{MODEL}/{version}", "plan": plan},
        )
        if r.status_code != 201:
            raise RuntimeError(f"starting the rollout failed: HTTP {r.status_code}: {r.text}")
        body: dict[str, Any] = r.json()
        return body

    def status(self) -> dict[str, Any]:
        r = self.client.get(f"/v1/rollouts/{DEPLOYMENT}")
        r.raise_for_status()
        body: dict[str, Any] = r.json()
        return body

    def close(self) -> None:
        self.client.close()


def _rollout(
    api: _Api,
    replayer: TrafficReplayer,
    pool: tuple[list[dict[str, Any]], list[int]],
    version: str,
    label: str,
    sizes: Sizes,
    say: Timeline,
    console: Console,
) -> RolloutRun:
    """Start a rollout, replay traffic until it ends, narrate its transitions."""
    t0 = time.monotonic()
    started = api.start(version, plan_yaml(sizes))
    say(
        f"rollout of v{version} ({label}) started by operator 'demo': step "
        f"{started['step']['name']!r}, {started['next']}"
    )
    seen: dict[str, Any] = {
        "step": started["step"]["name"],
        "state": started["state"],
        "status": started,
    }
    steps = [str(started["step"]["name"])]

    def finished() -> bool:
        try:
            status = api.status()
        except httpx.HTTPError:
            return False
        seen["status"] = status
        step = status["step"]["name"]
        if status["state"] == "running" and step != seen["step"]:
            say(
                f"v{version}: gate passed, advanced to {step!r} "
                f"({status['traffic']['mode']} {status['traffic']['weight']:.0%})"
            )
            recall = _check_detail(status.get("gate"), str(seen["step"]), "recall")
            if recall:
                say(f"   recall in {seen['step']!r}: {short(recall, 200)}")
            steps.append(str(step))
        seen["step"] = step
        done = status["state"] in ("promoted", "rolled_back")
        return done

    stats = ReplayStats()
    with console.status(f"replaying traffic for v{version}...") as spinner:

        def until() -> bool:
            spinner.update(
                f"v{version}: step {seen['step']!r}; {stats.rows:,} rows sent, "
                f"{stats.labels_sent:,} labels; {short(seen['status'].get('reason', ''))}"
            )
            return finished()

        replayer.replay(*pool, until=_every(0.5, until), max_s=sizes.phase_timeout_s, stats=stats)
    status = api.status()
    if status["state"] not in ("promoted", "rolled_back"):
        finished()
        status = seen["status"]
    state = str(status["state"])
    reason = str(status.get("reason", ""))
    if state == "promoted":
        say(
            f"v{version} PROMOTED: @champion now points to v{version} (v"
            f"{status['champion_version']} kept as @previous)",
            "promote",
        )
    elif state == "rolled_back":
        say(
            f"v{version} ROLLED BACK automatically in step {seen['step']!r}: traffic to zero, "
            f"@champion unchanged",
            "rollback",
        )
    else:
        say(f"v{version} did not finish in {sizes.phase_timeout_s:g}s (state {state})", "fail")
    say(f"   reason: {short(reason, 300)}")
    if stats.errors:
        say(f"   {stats.errors} request errors (last: {stats.last_error})", "fail")
    return RolloutRun(
        version,
        label,
        state,
        reason,
        time.monotonic() - t0,
        steps,
        dict(stats.by_variant),
        status.get("gate"),
    )


def _check_detail(gate: dict[str, Any] | None, step: str, name: str) -> str | None:
    """The detail of check ``name`` in a stored gate result of ``step``, if it is there."""
    inner = (gate or {}).get("gate") or {}
    if inner.get("step") != step:
        return None  # the controller already evaluated the next step
    for check in inner.get("checks") or []:
        if check.get("name") == name:
            return str(check.get("detail", ""))
    return None


def _every(period_s: float, fn: Callable[[], bool]) -> Callable[[], bool]:
    last = {"at": 0.0, "value": False}

    def wrapped() -> bool:
        now = time.monotonic()
        if now - last["at"] >= period_s:
            last["at"], last["value"] = now, fn()
        return bool(last["value"])

    return wrapped


def run_live_demo(
    out: Path, console: Console, *, quick: bool = False, tracking_uri: str | None = None
) -> LiveOutcome:
    """Run the live demo into ``out`` (see the module docstring); return its outcome."""
    from accuguard.audit import AuditLog
    from accuguard.auth import TokenStore
    from accuguard.gateway.app import create_app
    from accuguard.gateway.config import GatewayConfig
    from accuguard.store.engine import make_engine
    from accuguard.store.migrate import upgrade

    sizes = QUICK if quick else FULL
    logging.getLogger("accuguard.monitor").setLevel(logging.ERROR)  # the timeline says it
    outcome = LiveOutcome()
    say = Timeline(console, outcome)
    out.mkdir(parents=True, exist_ok=True)
    live = out / "live"
    if live.exists():
        shutil.rmtree(live)
    live.mkdir()
    tracking_uri = tracking_uri or f"sqlite:///{(out / 'mlflow.db').resolve()}"

    say(
        f"training 3 models on {sizes.train_rows:,} transactions "
        f"(v1 champion, v2 better, v3 trained without Brazilian rows)"
    )
    models = train_models(sizes.train_rows)
    versions = register_models(models, tracking_uri, out)
    v1, v2, v3 = versions["champion"], versions["good"], versions["bad"]
    say(f"registered {MODEL} v{v1} @champion, v{v2} and v{v3} in {tracking_uri}")

    (live / "plan.yaml").write_text(plan_yaml(sizes), encoding="utf-8")
    reference = transactions(sizes.pool_rows, seed=22, fraud_offset=FRAUD_OFFSET)
    pq.write_table(reference, live / "reference.parquet")
    normal = _records(transactions(sizes.pool_rows, seed=23, fraud_offset=FRAUD_OFFSET))
    surge = _records(
        transactions(sizes.pool_rows, seed=24, shift=BRAZIL_SURGE, fraud_offset=FRAUD_OFFSET)
    )
    drifted = _records(
        transactions(sizes.drift_rows, seed=25, shift=INPUT_DRIFT, fraud_offset=FRAUD_OFFSET)
    )

    store_url = f"sqlite:///{(live / 'accuguard.db').resolve()}"
    engine = make_engine(store_url)
    upgrade(engine)
    operator = TokenStore(engine).create("demo", "operator")
    config = GatewayConfig.model_validate(
        {
            "store_url": store_url,
            "spool_dir": str(live / "spool"),
            "mlflow_tracking_uri": tracking_uri,
            "reload_interval_s": 0,
            "controller": {"interval_s": 0.5, "lease_ttl_s": 5, "traffic_poll_s": 0.5},
            "deployments": {DEPLOYMENT: {"model": MODEL, "timeout_ms": 5000}},
        }
    )
    app = create_app(
        config, privacy_salt=secrets.token_hex(16), admin_token=secrets.token_urlsafe(24)
    )
    server = LiveServer(app)
    ready = server.start()
    serving = ready["deployments"][DEPLOYMENT]["champion"]
    say(
        f"gateway + controller up at {server.url} (champion v{serving['version']}); "
        f"event log {store_url}"
    )
    api = _Api(server.url, operator)
    replayer = TrafficReplayer(
        server.url, DEPLOYMENT, threads=4, rows_per_request=8, label_delay_s=1.0
    )
    try:
        warm = replayer.replay(normal[0][:800], normal[1][:800], max_s=30)
        say(f"warm-up: {warm.rows:,} transactions scored by the champion, labels 1 s later")
        outcome.rollouts.append(
            _rollout(api, replayer, normal, v2, "better model", sizes, say, console)
        )
        say("Brazilian traffic surges to ~45 % of transactions", "alert")
        outcome.rollouts.append(
            _rollout(api, replayer, surge, v3, "lost Brazil in training", sizes, say, console)
        )
        monitor_phase(outcome, engine, app, replayer, live, drifted, say)
    finally:
        api.close()
        server.stop()
    audit = AuditLog(engine)
    report = audit.verify()
    outcome.audit_ok, outcome.audit_checked = bool(report.ok), int(report.checked)
    outcome.audit_problem = None if report.ok else str(report.problem)
    say(
        f"audit chain verified: {report.checked} entries, "
        f"{'OK' if report.ok else 'BROKEN: ' + str(report.problem)}",
        "ok" if report.ok else "fail",
    )
    from accuguard.demo.live_report import write_live_report

    outcome.report = write_live_report(outcome, audit.entries(), out / "rollout-report.html")
    engine.dispose()
    return outcome


def where_next(outcome: LiveOutcome, out: Path, tracking_uri: str, console: Console) -> None:
    """The summary and the places to look next."""
    store = f"sqlite:///{(out / 'live' / 'accuguard.db').resolve()}"
    console.rule("[bold]summary")
    console.print(
        f"promotions: {outcome.promotions}, automatic rollbacks: {outcome.rollbacks}, "
        f"monitor alerts: {len(outcome.alerts)}, audit chain: "
        f"{'OK' if outcome.audit_ok else 'BROKEN'} ({outcome.audit_checked} entries)"
    )
    console.print("[bold]Where to look next[/]")
    console.print(f"  - the live report: {outcome.report} (JSON next to it)")
    console.print(f"  - the validation report: {out / 'report.html'}")
    console.print(f"  - the rollout plan both challengers followed: {out / 'live' / 'plan.yaml'}")
    console.print(f"  - every decision: .venv/bin/accuguard audit show --store-url {store}")
    console.print(
        f"  - check the chain yourself: .venv/bin/accuguard audit verify --store-url {store}"
    )
    console.print(
        f"  - the registry (aliases, accuguard.* tags): .venv/bin/mlflow ui "
        f"--backend-store-uri {tracking_uri}"
    )
    console.print(
        "  - run it for real: .venv/bin/accuguard serve, then .venv/bin/accuguard rollout start "
        f"{DEPLOYMENT} --challenger models:/{MODEL}/<version> --plan <plan.yaml> (docs/rollout.md)"
    )
