"""A step's gate over its evidence: pass, fail or inconclusive, with a reason.

The rule (docs/rollout.md, "Plans and gates"):

- any check fails -> **fail** (at once, even before the step's minimums: a clearly
  worse challenger is pulled out as soon as the evidence says so);
- every check passes and the step's minimums (``min_duration_s``, ``min_requests``,
  ``min_labels``) are met -> **pass**;
- otherwise -> **inconclusive** (keep collecting). ``expired`` tells the controller
  that ``max_duration_s`` has passed, so the plan's ``on_inconclusive`` applies.

A gate with business checks on a canary step also runs the sample-ratio-mismatch
check (default settings) unless the gate lists its own ``srm`` check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from accuguard.rollout.checks import CheckResult, finite, run_check
from accuguard.rollout.evidence import Evidence
from accuguard.rollout.plan import Check, SrmCheck, Step

Status = Literal["pass", "fail", "inconclusive"]

__all__ = ["CheckResult", "GateResult", "evaluate_gate", "gate_checks"]


@dataclass
class GateResult:
    """The decision of a gate: status, the checks behind it and a readable reason."""

    status: Status
    checks: list[CheckResult]
    reason: str
    expired: bool = False
    step: str | None = None
    elapsed_s: float | None = None

    @property
    def failed(self) -> list[CheckResult]:
        """The checks that failed."""
        return [c for c in self.checks if c.status == "fail"]

    @property
    def waiting(self) -> list[CheckResult]:
        """The checks (and minimums) still inconclusive."""
        return [c for c in self.checks if c.status == "inconclusive"]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form for the audit log, the API and the CLI."""
        return {
            "status": self.status,
            "reason": self.reason,
            "expired": self.expired,
            "step": self.step,
            "elapsed_s": finite(self.elapsed_s),
            "checks": [c.to_dict() for c in self.checks],
        }


def gate_checks(step: Step) -> list[Check]:
    """The checks a step runs: its gate's, plus SRM when business checks need it."""
    checks = list(step.gate.checks)
    kinds = {c.check for c in checks}
    if step.mode == "canary" and "business" in kinds and "srm" not in kinds:
        checks.append(SrmCheck(check="srm"))
    return checks


def _minimums(step: Step, evidence: Evidence, elapsed_s: float) -> list[CheckResult]:
    out = []
    for name, have, need, unit in (
        ("min_duration_s", elapsed_s, step.min_duration_s, "s"),
        ("min_requests", float(evidence.requests), float(step.min_requests), " requests"),
        ("min_labels", float(evidence.labels), float(step.min_labels), " labels"),
    ):
        if need <= 0:
            continue
        met = have >= need
        out.append(
            CheckResult(
                name,
                "pass" if met else "inconclusive",
                have,
                need,
                detail=f"{have:g}{unit} of {need:g}{unit}" + ("" if met else " so far"),
            )
        )
    return out


def evaluate_gate(step: Step, evidence: Evidence, *, elapsed_s: float) -> GateResult:
    """Evaluate ``step``'s gate on ``evidence`` gathered over ``elapsed_s`` seconds.

    Returns a :class:`GateResult` whose ``reason`` names the deciding checks, e.g.
    ``"fail: recall: challenger 0.61 vs champion 0.72: difference -0.11 (95% CI -0.15
    to -0.07) is entirely below the -0.02 margin"``.
    """
    results = [run_check(c, evidence, step.gate, step.weight) for c in gate_checks(step)]
    minimums = _minimums(step, evidence, elapsed_s)
    checks = results + minimums
    failed = [c for c in results if c.status == "fail"]
    waiting = [c for c in checks if c.status == "inconclusive"]
    expired = step.max_duration_s is not None and elapsed_s >= step.max_duration_s
    if failed:
        status: Status = "fail"
        reason = "fail: " + "; ".join(f"{c.name}: {c.detail}" for c in failed)
        expired = False
    elif waiting:
        status = "inconclusive"
        reason = "inconclusive: " + "; ".join(f"{c.name}: {c.detail}" for c in waiting)
        if expired:
            reason += f" (max_duration_s {step.max_duration_s:g} reached)"
    else:
        status = "pass"
        expired = False
        passed = ", ".join(c.name for c in results) or "no checks"
        reason = f"pass: step {step.name!r} met its minimums and every check passed ({passed})"
    return GateResult(status, checks, reason, expired, step.name, elapsed_s)
