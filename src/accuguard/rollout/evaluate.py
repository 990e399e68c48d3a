"""One look at a running rollout: its step's evidence, gate and (when due) policy.

:class:`Evaluator` reads the step's window ``[step_started_at, now)`` from the event
log (:func:`accuguard.rollout.evidence.collect_evidence`), evaluates the step's gate
(:func:`accuguard.rollout.gates.evaluate_gate`) and, before the first canary step and
before promotion, the plan's policy (:func:`accuguard.rollout.policy.evaluate_policy`,
on the challenger version's MLflow tags). The combined status is the worst of the two
(fail > inconclusive > pass). Nothing is written here: the controller decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from accuguard.rollout import machine
from accuguard.rollout.evidence import Window, collect_evidence, load_reference_profile
from accuguard.rollout.gates import GateResult, evaluate_gate
from accuguard.rollout.machine import GateStatus
from accuguard.rollout.plan import Plan, Step
from accuguard.rollout.policy import evaluate_policy
from accuguard.rollout.state import RolloutRecord

_RANK = {"pass": 0, "inconclusive": 1, "fail": 2}


@dataclass(frozen=True)
class Evaluation:
    """What the evidence says about a rollout's current step at ``at``."""

    step: Step
    status: GateStatus
    reason: str
    elapsed_s: float
    at: float
    window: dict[str, Any]
    evidence: dict[str, Any]
    gate: dict[str, Any]  # {"status", "gate", "policy", "elapsed_s", "at"}

    def past_limit(self) -> bool:
        """Inconclusive past the step's ``max_duration_s``."""
        limit = self.step.max_duration_s
        return self.status == "inconclusive" and limit is not None and self.elapsed_s >= limit


def policy_due(plan: Plan, step_index: int) -> bool:
    """The policy is checked before the first canary step and before promotion."""
    steps = plan.steps
    if step_index + 1 >= len(steps):
        return True
    return steps[step_index + 1].mode == "canary" and all(
        s.mode != "canary" for s in steps[: step_index + 1]
    )


class Evaluator:
    """Evaluates rollouts on ``engine``'s event log (reference profiles are cached)."""

    def __init__(self, engine: Engine, client: Any) -> None:
        self.engine = engine
        self.client = client
        self._references: dict[str, Any] = {}

    def reference(self, plan: Plan) -> Any:
        """The plan's reference profile (loaded once); None without a reference."""
        if plan.reference is None:
            return None
        if plan.reference not in self._references:
            self._references[plan.reference] = load_reference_profile(plan.reference)
        return self._references[plan.reference]

    def policy(self, plan: Plan, model: str, version: str, now: float) -> GateResult:
        """The plan's policy for ``model`` version ``version`` at ``now``."""
        found = self.client.get_model_version(model, version)
        tags = {str(k): str(v) for k, v in (getattr(found, "tags", None) or {}).items()}
        return evaluate_policy(plan.policy, version_tags=tags, now=now)

    def evaluate(self, record: RolloutRecord, plan: Plan, now: float) -> Evaluation:
        """Evidence, gate and policy of ``record``'s current step at ``now``."""
        step = plan.steps[record.step_index]
        spent = machine.elapsed(record.position, now)
        window = Window(
            deployment=record.deployment,
            champion_version=record.champion_version,
            challenger_variant=record.variant,
            challenger_version=record.challenger_version,
            start=record.step_started_at,
            end=now,
        )
        evidence = collect_evidence(
            self.engine, window, reference_profile=self.reference(plan), mode=step.mode
        )
        gate = evaluate_gate(step, evidence, elapsed_s=spent)
        status: GateStatus = gate.status
        reason = gate.reason
        policy_dict = None
        if status == "pass" and policy_due(plan, record.step_index):
            policy = self.policy(plan, record.model, record.challenger_version, now)
            policy_dict = policy.to_dict()
            if _RANK[policy.status] > _RANK[status]:
                status, reason = policy.status, f"policy: {policy.reason}"
        return Evaluation(
            step=step,
            status=status,
            reason=reason,
            elapsed_s=spent,
            at=now,
            window={
                "deployment": window.deployment,
                "variant": window.challenger_variant,
                "champion_version": window.champion_version,
                "challenger_version": window.challenger_version,
                "start": window.start,
                "end": window.end,
            },
            evidence=evidence.to_dict(),
            gate={
                "status": status,
                "gate": gate.to_dict(),
                "policy": policy_dict,
                "elapsed_s": spent,
                "at": now,
            },
        )
