"""The verdict table of accuguard.integrations.verdict, on rollout rows built by hand."""

from __future__ import annotations

import dataclasses

import pytest

from accuguard.errors import InputError
from accuguard.integrations.kubernetes import FLAGGER_HOOKS, flagger_proceeds
from accuguard.integrations.verdict import check_max_age, check_version, rollout_verdict
from accuguard.rollout.state import RolloutRecord

NOW = 1_800_000_000.0
PLAN = {"steps": [{"name": "shadow", "mode": "shadow"}, {"name": "canary-10", "mode": "canary"}]}


def record(**changes) -> RolloutRecord:
    base = RolloutRecord(
        id=1,
        deployment="fraud",
        model="fraud",
        champion_alias="champion",
        champion_version="1",
        challenger_version="2",
        plan=PLAN,
        plan_hash="h",
        state="running",
        step_index=0,
        step_started_at=NOW - 100,
        paused_at=None,
        paused_s=0.0,
        weight_override=None,
        evidence=None,
        gate=None,
        last_decision="start",
        reason="started",
        pending=None,
        started_by="otto",
        started_at=NOW - 100,
        updated_at=NOW - 100,
        checked_at=None,
        finished_at=None,
        row_version=1,
    )
    return dataclasses.replace(base, **changes)


def gate(status: str, step: str = "shadow", policy: dict | None = None) -> dict:
    """The shape the controller stores (accuguard.rollout.evaluate.Evaluation.gate)."""
    inner = {"status": status, "reason": f"{status}: because", "step": step, "checks": []}
    top = policy["status"] if policy else status
    return {"status": top, "gate": inner, "policy": policy, "elapsed_s": 1.0, "at": NOW}


def verdict(rec, **kw):
    return rollout_verdict("fraud", rec, now=NOW, **kw)


def test_no_rollout_or_another_version_is_inconclusive_never_pass():
    assert verdict(None).status == "inconclusive"
    v = verdict(record(gate=gate("pass"), checked_at=NOW), version="7")
    assert v.status == "inconclusive" and not v.matched
    assert "version 2, not 7" in v.reason


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"state": "rolled_back", "reason": "gate failed"}, "fail"),
        ({"state": "promoted"}, "pass"),
        ({"state": "paused", "gate": gate("pass"), "checked_at": NOW}, "inconclusive"),
        ({}, "inconclusive"),  # not evaluated yet
        ({"gate": gate("pass"), "checked_at": NOW - 5}, "pass"),
        ({"gate": gate("inconclusive"), "checked_at": NOW - 5}, "inconclusive"),
        ({"gate": gate("fail"), "checked_at": NOW - 5}, "fail"),
        ({"gate": gate("fail"), "checked_at": NOW - 5000}, "fail"),  # a fail never ages
        ({"gate": gate("pass"), "checked_at": NOW - 301}, "inconclusive"),  # stale
        # advanced after the pass: the new step's gate is not evaluated yet
        ({"step_index": 1, "gate": gate("pass", "shadow"), "checked_at": NOW}, "inconclusive"),
    ],
)
def test_current_step_verdicts(changes, expected):
    assert verdict(record(**changes)).status == expected


def test_a_policy_that_overrides_a_passing_gate_is_named():
    closed = {"status": "inconclusive", "reason": "outside the change window"}
    v = verdict(record(gate=gate("pass", policy=closed), checked_at=NOW))
    assert v.status == "inconclusive" and v.reason == "policy: outside the change window"


def test_stale_gate_says_the_controller_may_be_down():
    v = verdict(record(gate=gate("pass"), checked_at=NOW - 400))
    assert "controller running" in v.reason
    assert verdict(record(gate=gate("pass"), checked_at=NOW - 400), max_age_s=600).status == "pass"


def test_a_named_step_passes_once_the_rollout_is_past_it():
    at_canary = record(step_index=1, gate=gate("inconclusive", "canary-10"), checked_at=NOW)
    assert verdict(at_canary, step="shadow").status == "pass"
    assert verdict(at_canary, step="canary-10").status == "inconclusive"
    assert verdict(record(), step="canary-10").status == "inconclusive"  # not there yet
    assert verdict(record(state="rolled_back"), step="shadow").status == "fail"
    final = record(step_index=1, gate=gate("pass", "canary-10"), checked_at=NOW)
    assert verdict(final, final=True).status == "pass"
    assert verdict(record(gate=gate("pass"), checked_at=NOW), final=True).status == ("inconclusive")
    with pytest.raises(InputError, match="'canary-99' is not in the rollout's plan"):
        verdict(record(), step="canary-99")


def test_flagger_hooks_follow_the_verdict():
    running = verdict(record(gate=gate("inconclusive"), checked_at=NOW))
    passing = verdict(record(gate=gate("pass"), checked_at=NOW))
    failing = verdict(record(state="rolled_back"))
    none = verdict(None)
    other = verdict(record(), version="9")
    table = {
        hook: [flagger_proceeds(hook, v) for v in (none, other, running, passing, failing)]
        for hook in FLAGGER_HOOKS
    }
    assert table == {
        "confirm-rollout": [False, False, True, True, False],
        "pre-rollout": [False, False, True, True, False],
        "rollout": [False, False, True, True, False],
        "confirm-traffic-increase": [False, False, False, True, False],
        "confirm-promotion": [False, False, False, True, False],
        "rollback": [False, False, False, False, True],
        "post-rollout": [True] * 5,
        "event": [True] * 5,
    }


def test_parameters_are_checked_with_the_field_named():
    assert check_version("7") == "7" and check_version(None) is None
    with pytest.raises(InputError, match="version must be a model version"):
        check_version("7; rm -rf")
    assert check_max_age(None) == 300.0 and check_max_age("60") == 60.0
    for bad in ("soon", "0", "-5", "1e9"):
        with pytest.raises(InputError, match="max_age_s"):
            check_max_age(bad)


def test_the_examples_in_the_docstrings_hold():
    import doctest

    import accuguard.integrations.kubernetes as kubernetes
    import accuguard.integrations.verdict as verdict_module

    for module in (kubernetes, verdict_module):
        assert doctest.testmod(module).failed == 0
