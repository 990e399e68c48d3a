"""`accuguard demo --quick` end to end, as `make demo` runs it: one promotion, one rollback,
a drift alert delivered to a signed webhook, and an audit chain that verifies."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from accuguard.demo.rollout_demo import FULL, QUICK, plan_yaml
from accuguard.rollout.plan import plan_from_yaml

ACCUGUARD = Path(sys.executable).with_name("accuguard")


@pytest.mark.parametrize("sizes", [QUICK, FULL], ids=["quick", "full"])
def test_demo_plan_is_a_valid_rollout_plan(sizes):
    plan = plan_from_yaml(plan_yaml(sizes), "demo plan")
    assert [s.mode for s in plan.steps] == ["shadow", "canary"]
    assert plan.on_inconclusive == "rollback"
    recall = plan.steps[0].gate.checks[0]
    assert recall.check == "recall" and recall.min_labels == sizes.shadow_positives


@pytest.mark.slow
def test_quick_demo_promotes_one_rolls_back_one_and_verifies_the_audit_chain(tmp_path):
    from mlflow import MlflowClient

    from accuguard.audit import AuditLog
    from accuguard.store.engine import make_engine

    out = tmp_path / "demo-output"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "ACCUGUARD_"))}
    proc = subprocess.run(
        [str(ACCUGUARD), "demo", "--quick", "--out", str(out)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "promotions: 1, automatic rollbacks: 1" in " ".join(proc.stdout.split())

    report = json.loads((out / "rollout-report.json").read_text())
    assert report["promotions"] == 1 and report["rollbacks"] == 1
    good, bad = report["rollouts"]
    assert good["state"] == "promoted" and good["steps"] == ["shadow", "canary-50"]
    assert bad["state"] == "rolled_back" and "recall" in bad["reason"]
    assert report["audit"]["ok"] is True
    assert [a["monitor"] for a in report["alerts"]][:1] == ["input_drift"]
    assert report["webhook_deliveries"] >= 1
    assert (out / "rollout-report.html").read_text().count("<table") >= 3
    assert (out / "report.html").exists()  # the validation part still runs first

    # the audit chain, checked independently of the demo's own verdict
    engine = make_engine(f"sqlite:///{out / 'live' / 'accuguard.db'}")
    audit = AuditLog(engine)
    verdict = audit.verify()
    assert verdict.ok and verdict.checked == report["audit"]["checked"]
    actions = [(e.actor, e.action) for e in audit.entries()]
    assert ("controller", "rollout.promote") in actions
    assert ("controller", "rollout.rollback") in actions
    assert ("monitor", "monitor.input_drift") in actions
    engine.dispose()

    # the registry followed the decisions: v2 is the champion, v1 is kept as previous
    client = MlflowClient(tracking_uri=f"sqlite:///{out / 'mlflow.db'}")
    assert str(client.get_model_version_by_alias("fraud-live", "champion").version) == "2"
    assert str(client.get_model_version_by_alias("fraud-live", "previous").version) == "1"
