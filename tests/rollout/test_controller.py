"""The controller on a real SQLite event log and a real MLflow registry (copied per test)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from accuguard.audit import AuditLog
from accuguard.errors import InputError
from accuguard.rollout.controller import RolloutNotFound
from accuguard.rollout.machine import TransitionError
from accuguard.rollout.plan import parse_plan, plan_hash
from accuguard.rollout.state import RolloutConflict, active_rollout, latest_rollout
from accuguard.rollout.traffic import Traffic, read_traffic
from accuguard.store import make_engine, upgrade
from tests.gateway.conftest import _registry_uri  # noqa: F401 (session fixture)
from tests.rollout.support_controller import (
    PLAN,
    Clock,
    add_predictions,
    controller,
    copy_registry,
    mlflow_client,
    store,
)
from tests.store.conftest import postgres_schema

CANARY_FIRST = {
    "on_inconclusive": "rollback",
    "steps": [
        {
            "name": "canary-10",
            "mode": "canary",
            "weight": 0.1,
            "min_requests": 20,
            "max_duration_s": 600,
            "gate": {"checks": [{"check": "error_rate", "max": 0.2, "min_samples": 20}]},
        }
    ],
}


@pytest.fixture
def registry(_registry_uri, tmp_path):  # noqa: F811
    return copy_registry(_registry_uri, tmp_path)


@pytest.fixture
def client(registry):
    return mlflow_client(registry)


def alias(client, name: str) -> str | None:
    try:
        return str(client.get_model_version_by_alias("fraud", name).version)
    except Exception:
        return None


def tags(client, version: str) -> dict[str, str]:
    return dict(client.get_model_version("fraud", version).tags)


def test_shadow_then_canary_then_promote_moves_the_aliases(tmp_path, client):
    engine, clock, changes = store(tmp_path), Clock(), []
    ctl = controller(engine, client, clock, on_change=changes.append)
    r = ctl.start_rollout("fraud", "models:/fraud/2", PLAN, actor="alice", model="fraud")
    assert (r.champion_version, r.challenger_version, r.variant) == ("1", "2", "v2")
    assert read_traffic(engine) == {"fraud": Traffic("fraud", "fraud", "2", "shadow", 1.0)}

    clock.now += 10
    [held] = ctl.tick()
    assert held.action == "hold" and "min_requests" in held.reason

    add_predictions(
        engine,
        variant="v2",
        mode="shadow",
        version="2",
        at=r.step_started_at + 1,
        n=30,
        pair_with_champion="1",
    )
    clock.now += 10
    [advanced] = ctl.tick()
    assert advanced.action == "advance", advanced.reason
    row = active_rollout(engine, "fraud")
    assert (row.step_index, row.step_started_at) == (1, clock.now)
    assert read_traffic(engine)["fraud"] == Traffic("fraud", "fraud", "2", "canary", 0.1)

    [entry] = AuditLog(engine).entries(actions=["rollout.advance"])
    assert entry.actor == "controller" and entry.deployment == "fraud"
    assert entry.config_hash == plan_hash(parse_plan(PLAN))
    assert entry.window["start"] == r.step_started_at and entry.window["end"] == clock.now
    assert entry.model_versions["champion"] == "1"
    assert entry.model_versions["challenger"] == "2"
    assert entry.evidence["evidence"]["requests"] == 30  # the rows written above
    assert entry.evidence["gate"]["status"] == "pass"
    assert tags(client, "2")["accuguard.rollout.decision"] == "advance"

    add_predictions(engine, variant="v2", mode="canary", version="2", at=clock.now + 1, n=25)
    clock.now += 10
    [promoted] = ctl.tick()
    assert promoted.action == "promote"
    assert (alias(client, "champion"), alias(client, "previous")) == ("2", "1")
    assert tags(client, "2")["accuguard.rollout.decision"] == "promote"
    assert tags(client, "1")["accuguard.rollout.decision"] == "replaced"
    assert read_traffic(engine) == {}
    assert latest_rollout(engine, "fraud").state == "promoted"
    assert changes == ["fraud"] * 4  # start, advance, promote (traffic, then aliases)
    actions = [e.action for e in AuditLog(engine).entries(deployment="fraud")]
    assert actions == ["rollout.start", "rollout.advance", "rollout.promote"]
    assert AuditLog(engine).verify().ok

    done = ctl.rollback_to_previous("fraud", "accuracy floor breached", "oncall")
    assert done == {"model": "fraud", "champion": "1", "demoted": "2"}
    assert (alias(client, "champion"), alias(client, "previous")) == ("1", None)
    assert latest_rollout(engine, "fraud").state == "rolled_back"
    last = AuditLog(engine).entries(deployment="fraud")[-1]
    assert (last.action, last.actor) == ("rollout.rollback_to_previous", "oncall")
    with pytest.raises(TransitionError, match="no 'previous' version"):
        ctl.rollback_to_previous("fraud", "again", "oncall")


def test_a_failing_canary_is_rolled_back_and_the_champion_alias_stays(tmp_path, client):
    engine, clock = store(tmp_path), Clock()
    ctl = controller(engine, client, clock)
    r = ctl.start_rollout("fraud", "models:/fraud/2", CANARY_FIRST, actor="alice")
    add_predictions(
        engine, variant="v2", mode="canary", version="1", at=r.step_started_at, n=25, errors=25
    )
    clock.now += 5
    [out] = ctl.tick()
    assert out.action == "rollback" and "error_rate" in out.reason
    assert read_traffic(engine) == {}  # no traffic at once
    assert (alias(client, "champion"), alias(client, "previous")) == ("1", None)
    assert tags(client, "2")["accuguard.rollout.decision"] == "rollback"
    entry = AuditLog(engine).entries(actions=["rollout.rollback"])[0]
    assert entry.evidence["evidence"]["challenger"]["errors"] == 25
    assert ctl.tick() == []  # nothing left to drive


@pytest.mark.parametrize(("choice", "state"), [("rollback", "rolled_back"), ("hold", "running")])
def test_inconclusive_past_max_duration_applies_on_inconclusive(tmp_path, client, choice, state):
    engine, clock = store(tmp_path), Clock()
    ctl = controller(engine, client, clock)
    ctl.start_rollout(
        "fraud", "models:/fraud/2", {**CANARY_FIRST, "on_inconclusive": choice}, actor="a"
    )
    clock.now += 599
    assert ctl.tick()[0].action == "hold"
    clock.now += 1
    ctl.tick()
    clock.now += 5
    ctl.tick()
    row = latest_rollout(engine, "fraud")
    assert row.state == state
    assert "max_duration_s 600" in row.reason
    if choice == "hold":  # waits for an operator; audited once, not every tick
        assert len(AuditLog(engine).entries(actions=["rollout.hold"])) == 1
        assert row.last_decision == "hold_limit"


def test_policy_is_checked_before_the_first_canary_step(tmp_path, client):
    engine, clock = store(tmp_path), Clock()
    ctl = controller(engine, client, clock)
    strict = {**PLAN, "policy": {"require_validation": True}}
    with pytest.raises(TransitionError, match="no validation report"):
        ctl.start_rollout(
            "fraud", "models:/fraud/2", {**CANARY_FIRST, "policy": strict["policy"]}, actor="a"
        )
    r = ctl.start_rollout("fraud", "models:/fraud/2", strict, actor="a")
    add_predictions(
        engine,
        variant="v2",
        mode="shadow",
        version="2",
        at=r.step_started_at,
        n=30,
        pair_with_champion="1",
    )
    clock.now += 5
    [out] = ctl.tick()  # the gate passes, the policy fails
    assert out.action == "rollback" and "validation" in out.reason


def test_start_refuses_bad_input_and_a_second_rollout(tmp_path, client):
    ctl = controller(store(tmp_path), client, Clock())
    with pytest.raises(InputError, match="models:/fraud/7"):
        ctl.start_rollout("fraud", "runs:/abc/model", PLAN, actor="a")
    with pytest.raises(InputError, match="serves model 'risk'"):
        ctl.start_rollout("fraud", "models:/fraud/2", PLAN, actor="a", model="risk")
    with pytest.raises(InputError, match="already the champion"):
        ctl.start_rollout("fraud", "models:/fraud/1", PLAN, actor="a")
    with pytest.raises(InputError, match="not found"):
        ctl.start_rollout("fraud", "models:/fraud/99", PLAN, actor="a")
    with pytest.raises(InputError, match="steps"):
        ctl.start_rollout("fraud", "models:/fraud/2", "steps: []", actor="a")
    drift = {
        "reference": str(tmp_path / "missing.parquet"),
        "steps": [{"name": "s", "mode": "shadow", "gate": {"checks": [{"check": "input_drift"}]}}],
    }
    with pytest.raises(InputError, match=r"missing\.parquet"):
        ctl.start_rollout("fraud", "models:/fraud/2", drift, actor="a")
    ctl.start_rollout("fraud", "models:/fraud@challenger", PLAN, actor="a")
    with pytest.raises(RolloutConflict, match="already has an active rollout"):
        ctl.start_rollout("fraud", "models:/fraud/2", PLAN, actor="a")


def test_manual_actions_are_applied_and_audited_with_the_actor(tmp_path, client):
    engine, clock = store(tmp_path), Clock()
    ctl = controller(engine, client, clock)
    with pytest.raises(RolloutNotFound):
        ctl.pause("fraud", actor="bob")
    ctl.start_rollout("fraud", "models:/fraud/2", CANARY_FIRST, actor="alice")
    ctl.pause("fraud", actor="bob", reason="looking at a dashboard")
    clock.now += 10_000  # far past max_duration: a paused rollout does not move
    assert ctl.tick() == []
    ctl.resume("fraud", actor="bob")
    assert ctl.set_weight("fraud", 0.3, actor="bob").weight_override == 0.3
    assert read_traffic(engine)["fraud"].weight == 0.3
    ctl.promote("fraud", actor="carol", reason="looks good")
    assert alias(client, "champion") == "2"
    entries = AuditLog(engine).entries(deployment="fraud")
    assert [(e.action, e.actor) for e in entries] == [
        ("rollout.start", "alice"),
        ("rollout.pause", "bob"),
        ("rollout.resume", "bob"),
        ("rollout.weight", "bob"),
        ("rollout.promote", "carol"),
    ]
    assert entries[1].reason == "looking at a dashboard"
    with pytest.raises(RolloutNotFound):
        ctl.rollback("fraud", actor="bob")


class FlakyRegistry:
    """The real client, with alias moves failing while ``down`` (a registry outage)."""

    def __init__(self, client):
        self.client, self.down = client, True

    def set_registered_model_alias(self, *args):
        if self.down:
            raise ConnectionError("registry unreachable")
        return self.client.set_registered_model_alias(*args)

    def __getattr__(self, name):
        return getattr(self.client, name)


def test_effects_interrupted_by_an_outage_complete_later_exactly_once(tmp_path, client):
    engine, clock = store(tmp_path), Clock()
    flaky = FlakyRegistry(client)
    ctl = controller(engine, flaky, clock)
    r = ctl.start_rollout("fraud", "models:/fraud/2", CANARY_FIRST, actor="a")
    add_predictions(engine, variant="v2", mode="canary", version="2", at=r.step_started_at, n=25)
    clock.now += 5
    assert ctl.tick()[0].action == "promote"
    row = latest_rollout(engine, "fraud")
    assert row.state == "promoted" and row.pending  # decided, effects pending
    assert read_traffic(engine) == {} and alias(client, "champion") == "1"
    flaky.down = False
    clock.now += 5
    assert ctl.tick()[0].action == "skipped"  # its maker may still be at it
    clock.now += 30
    assert ctl.tick()[0].action == "effects"
    assert alias(client, "champion") == "2" and latest_rollout(engine, "fraud").pending is None
    clock.now += 30
    assert ctl.tick() == []
    assert len(AuditLog(engine).entries(actions=["rollout.promote"])) == 1
    with engine.connect() as conn:  # SQL NULL (not JSON null): the tick's query skips it
        assert conn.execute(text("SELECT count(*) FROM rollouts WHERE pending IS NULL")).scalar()


class TagOutage(FlakyRegistry):
    """Tags fail while ``down``; aliases work."""

    def set_registered_model_alias(self, *args):
        return self.client.set_registered_model_alias(*args)

    def set_model_version_tag(self, *args):
        if self.down:
            raise ConnectionError("registry unreachable")
        return self.client.set_model_version_tag(*args)


def test_effects_of_earlier_transitions_survive_later_ones(tmp_path, client):
    engine, clock = store(tmp_path), Clock()
    flaky = TagOutage(client)
    flaky.down = False
    ctl = controller(engine, flaky, clock)
    r = ctl.start_rollout("fraud", "models:/fraud/2", PLAN, actor="alice")
    flaky.down = True
    add_predictions(
        engine,
        variant="v2",
        mode="shadow",
        version="2",
        at=r.step_started_at,
        n=30,
        pair_with_champion="1",
    )
    clock.now += 5
    assert ctl.tick()[0].action == "advance"  # decided; its tags failed
    ctl.pause("fraud", actor="bob")  # a later transition while the first is pending
    assert [p["action"] for p in latest_rollout(engine, "fraud").pending] == ["advance", "pause"]
    flaky.down = False
    clock.now += 31
    assert ctl.tick()[0].action == "effects"
    actions = [e.action for e in AuditLog(engine).entries(deployment="fraud")]
    assert actions == ["rollout.start", "rollout.advance", "rollout.pause"]
    assert latest_rollout(engine, "fraud").pending is None


CRASHING_CONTROLLER = """
import sys, time
from mlflow import MlflowClient
from accuguard.audit import AuditLog
from accuguard.rollout.controller import Controller
from accuguard.store import make_engine
from tests.rollout.support_controller import PLAN, add_predictions

engine = make_engine(sys.argv[1])
ctl = Controller(engine, MlflowClient(tracking_uri=sys.argv[2]), AuditLog(engine),
                 holder="doomed", lease_ttl_s=30)
r = ctl.start_rollout("fraud", "models:/fraud/2", PLAN, actor="alice")
add_predictions(engine, variant="v2", mode="shadow", version="2", at=r.step_started_at,
                n=12, pair_with_champion="1")
time.sleep(0.05)
print(ctl.tick()[0].action, flush=True)
time.sleep(3600)  # mid-step, holding the lease, until killed
"""


def test_kill_9_mid_step_resumes_at_the_same_step_with_the_same_evidence(tmp_path, registry):
    db = f"sqlite:///{tmp_path / 'events.db'}"
    upgrade(db)
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(CRASHING_CONTROLLER), db, registry],
        stdout=subprocess.PIPE,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    try:
        assert proc.stdout.readline().strip() == b"hold"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    engine = make_engine(db)
    before = active_rollout(engine, "fraud")
    assert before.evidence["requests"] == 12
    clock = Clock(time.time() + 1)
    ctl = controller(engine, mlflow_client(registry), clock, holder="successor")
    assert ctl.tick() == []  # the dead controller's lease has not expired yet
    clock.now += 30
    [out] = ctl.tick()
    assert out.action == "hold"
    after = active_rollout(engine, "fraud")
    assert (after.id, after.step_index, after.step_started_at) == (
        before.id,
        0,
        before.step_started_at,
    )
    for key in ("requests", "labels", "champion", "challenger", "paired"):
        assert after.evidence[key] == before.evidence[key], key
    add_predictions(
        engine,
        variant="v2",
        mode="shadow",
        version="2",
        at=before.step_started_at + 1,
        n=10,
        pair_with_champion="1",
    )
    assert ctl.tick()[0].action == "advance"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'race.db'}"
        upgrade(url)
        yield url
    else:
        with postgres_schema() as schema:
            upgrade(schema.url)
            yield schema.url


def test_two_controllers_racing_only_one_acts(db_url, client):
    clock = Clock()
    engines = [make_engine(db_url), make_engine(db_url)]
    ctls = [controller(e, client, clock, holder=f"replica-{i}") for i, e in enumerate(engines)]
    r = ctls[0].start_rollout("fraud", "models:/fraud/2", PLAN, actor="alice")
    add_predictions(
        engines[0],
        variant="v2",
        mode="shadow",
        version="2",
        at=r.step_started_at,
        n=30,
        pair_with_champion="1",
    )
    acted: list[set[int]] = []
    for _ in range(3):
        clock.now += 5
        barrier = threading.Barrier(2)
        results: dict[int, list] = {}

        def run(i: int, barrier: threading.Barrier, results: dict[int, list]) -> None:
            barrier.wait()
            results[i] = ctls[i].tick()

        threads = [threading.Thread(target=run, args=(i, barrier, results)) for i in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        acted.append({i for i, out in results.items() if out})
    assert all(len(a) == 1 for a in acted), acted
    assert acted[0] == acted[1] == acted[2]  # the leader keeps renewing its lease
    audit = AuditLog(engines[0])
    assert len(audit.entries(actions=["rollout.advance"])) == 1
    assert active_rollout(engines[0], "fraud").step_index == 1
    for e in engines:
        e.dispose()
