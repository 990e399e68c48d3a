"""The verdict that Argo Rollouts and Flagger ask for: pass, fail or inconclusive.

:func:`rollout_verdict` reads one row of ``rollouts`` (the latest rollout of a
deployment, as the controller left it) and says whether the challenger has earned
the next move:

============================================  ================================
the rollout                                    verdict
============================================  ================================
none, or not of the ``version`` asked for      inconclusive (nothing to judge)
``rolled_back``                                fail
``promoted``                                   pass
``paused``                                     inconclusive (an operator decides)
running, gate of the current step fails        fail
running, gate of the current step passes       pass
running, gate not yet evaluated for this step  inconclusive
running, last gate older than ``max_age_s``    inconclusive (is the controller up?)
============================================  ================================

With ``step`` (a step name of the plan) the question is "has the rollout passed
that step?": pass once the rollout is past it (or promoted), the gate's answer while
it is at that step, inconclusive before it; a rollback is a fail whatever the step.
``final=True`` asks the same about the last step (used before a promotion).

No evidence, stale evidence or errors never give a pass (PEERS.md: argo-rollouts
#4479, flagger #1581).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from accuguard.errors import InputError
from accuguard.rollout.machine import PAUSED, PROMOTED, ROLLED_BACK, RUNNING
from accuguard.rollout.state import RolloutRecord

Status = Literal["pass", "fail", "inconclusive"]
DEFAULT_MAX_AGE_S = 300.0
_VERSION = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass(frozen=True)
class Verdict:
    """The answer: status, why, and the rollout and gate behind it (for humans)."""

    deployment: str
    status: Status
    reason: str
    record: RolloutRecord | None = None
    gate: dict[str, Any] | None = None
    age_s: float | None = None
    matched: bool = True  # False: the latest rollout is of another version than asked

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form: ``{"deployment", "verdict", "reason", "rollout", "gate"}``."""
        rollout = None
        if self.record is not None:
            r = self.record
            steps = r.plan.get("steps", [])
            name = steps[r.step_index].get("name") if r.step_index < len(steps) else None
            rollout = {
                "id": r.id,
                "state": r.state,
                "variant": r.variant,
                "model": r.model,
                "champion_version": r.champion_version,
                "challenger_version": r.challenger_version,
                "step": {"index": r.step_index, "name": name, "of": len(steps)},
                "last_decision": r.last_decision,
                "reason": r.reason,
                "checked_at": r.checked_at,
                "age_s": self.age_s,
            }
        return {
            "deployment": self.deployment,
            "verdict": self.status,
            "reason": self.reason,
            "rollout": rollout,
            "gate": self.gate,
        }


def check_version(value: str | None, where: str = "version") -> str | None:
    """``value`` if it looks like an MLflow model version (``7``); InputError otherwise."""
    if value is None or value == "":
        return None
    if not _VERSION.match(value):
        raise InputError(f"{where} must be a model version such as 7, got {value!r}")
    return value


def check_max_age(value: str | float | None, where: str = "max_age_s") -> float:
    """Seconds in (0, 30 days]; the default when ``value`` is None or empty."""
    if value is None or value == "":
        return DEFAULT_MAX_AGE_S
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{where} must be a number of seconds, got {value!r}") from None
    if not 0 < seconds <= 30 * 86400:
        raise InputError(f"{where} must be in (0, 2592000] seconds, got {value!r}")
    return seconds


def rollout_verdict(
    deployment: str,
    record: RolloutRecord | None,
    *,
    now: float,
    version: str | None = None,
    step: str | None = None,
    final: bool = False,
    max_age_s: float = DEFAULT_MAX_AGE_S,
) -> Verdict:
    """The verdict on ``record`` (the deployment's latest rollout) at ``now``.

    ``record.gate`` is what the controller stores (``accuguard.rollout.evaluate``):
    ``{"status", "gate": {"status", "reason", "step", "checks", ...}, "policy", "at"}``;
    ``status`` is the gate's status after the plan's policy.

    Raises :class:`InputError` when ``step`` is not a step of the rollout's plan.
    """
    if record is None:
        return Verdict(deployment, "inconclusive", f"deployment {deployment!r} has no rollout")
    if version is not None and record.challenger_version != version:
        return Verdict(
            deployment,
            "inconclusive",
            f"the latest rollout of {deployment!r} is of version "
            f"{record.challenger_version}, not {version}: start the rollout of version "
            f"{version} first",
            record,
            matched=False,
        )
    steps = [str(s.get("name")) for s in record.plan.get("steps", [])]
    target = _target_index(steps, step, final)
    gate = record.gate
    age = None if record.checked_at is None else max(0.0, now - record.checked_at)
    if record.state == ROLLED_BACK:
        return Verdict(deployment, "fail", f"rolled back: {record.reason}", record, gate, age)
    if record.state == PROMOTED:
        return Verdict(deployment, "pass", f"promoted: {record.reason}", record, gate, age)
    if record.state == PAUSED:
        return Verdict(deployment, "inconclusive", f"paused: {record.reason}", record, gate, age)
    if record.state != RUNNING:  # pragma: no cover - the machine has no other state
        return Verdict(deployment, "inconclusive", f"state {record.state}", record, gate, age)
    current = steps[record.step_index] if record.step_index < len(steps) else None
    if target is not None and record.step_index > target:
        return Verdict(
            deployment,
            "pass",
            f"step {steps[target]!r} passed; the rollout is now at {current!r}",
            record,
            gate,
            age,
        )
    if target is not None and record.step_index < target:
        return Verdict(
            deployment,
            "inconclusive",
            f"the rollout is at step {current!r}, before {steps[target]!r}",
            record,
            gate,
            age,
        )
    return _current_gate(deployment, record, current, gate, age, max_age_s)


def _target_index(steps: list[str], step: str | None, final: bool) -> int | None:
    if step is not None:
        if step not in steps:
            raise InputError(f"step {step!r} is not in the rollout's plan; its steps: {steps}")
        return steps.index(step)
    return len(steps) - 1 if final and steps else None


def _current_gate(
    deployment: str,
    record: RolloutRecord,
    current: str | None,
    gate: dict[str, Any] | None,
    age: float | None,
    max_age_s: float,
) -> Verdict:
    inner = (gate or {}).get("gate") or {}
    if gate is None or inner.get("step") != current:
        why = f"the gate of step {current!r} has not been evaluated yet"
        return Verdict(deployment, "inconclusive", why, record, gate, age)
    status = gate.get("status")
    reason = str(inner.get("reason", ""))
    policy = gate.get("policy") or {}
    if status != inner.get("status") and policy.get("reason"):
        reason = f"policy: {policy['reason']}"
    if status == "fail":  # the controller rolls back on its next write; say so now
        return Verdict(deployment, "fail", reason, record, gate, age)
    if age is None or age > max_age_s:
        why = (
            f"the last gate result is {age:.0f} s old (more than {max_age_s:g} s): "
            "is the rollout controller running?"
            if age is not None
            else "the gate has no evaluation time"
        )
        return Verdict(deployment, "inconclusive", why, record, gate, age)
    if status == "pass":
        return Verdict(deployment, "pass", reason, record, gate, age)
    return Verdict(deployment, "inconclusive", reason or "collecting evidence", record, gate, age)
