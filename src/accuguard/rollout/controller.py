"""The rollout controller: one tick = evidence -> gate -> transition, for every rollout.

``Controller.tick()`` first takes (or renews) the controller lease; without it, it
does nothing (another replica acts). With it, for each running rollout:

1. the step's window (``step_started_at`` .. now) is summarised from the event log
   (:func:`accuguard.rollout.evidence.collect_evidence`);
2. the step's gate says pass, fail or inconclusive; before the first canary step and
   before promotion, the plan's policy must pass too;
3. :func:`accuguard.rollout.machine.decide` gives the decision, written with a
   compare-and-set on the row's ``row_version`` (a transition is applied once, even
   with two controllers racing or a retry after a crash);
4. the effects run: audit entry (config hash = plan hash, data window, model
   versions, evidence, gate), MLflow tags, alias moves on promotion, then
   ``on_change(deployment)`` so an in-process gateway applies the new traffic at once.

Everything lives in the database: a controller killed mid-step is replaced by a new
one that finds the same step, the same ``step_started_at`` and the last evidence.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from accuguard.audit import AuditLog
from accuguard.errors import InputError
from accuguard.rollout import effects, machine
from accuguard.rollout.evaluate import Evaluator
from accuguard.rollout.machine import Decision, TransitionError
from accuguard.rollout.plan import Plan, parse_plan, plan_from_yaml, plan_hash
from accuguard.rollout.state import (
    RolloutConflict,
    RolloutRecord,
    acquire_lease,
    active_rollout,
    compare_and_set,
    create_rollout,
    latest_rollout,
    pending_rollouts,
    release_lease,
)

log = logging.getLogger("accuguard.rollout")
LEASE_NAME = "accuguard.rollout.controller"


class RolloutNotFound(InputError):
    """No rollout (or no active one) for the deployment named."""


@dataclass(frozen=True)
class TickOutcome:
    """What one tick did to one rollout."""

    deployment: str
    rollout_id: int
    action: str  # hold | advance | promote | rollback | effects | skipped
    reason: str


def _default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Controller:
    """Drives the rollouts stored in ``engine`` (see the module docstring).

    ``mlflow_client``: an ``MlflowClient`` (tags, aliases); ``audit``: the audit log;
    ``holder``: this controller's name in the lease (default host:pid:random);
    ``on_change(deployment)``: called after every transition (any thread).
    """

    def __init__(
        self,
        engine: Engine,
        mlflow_client: Any,
        audit: AuditLog,
        *,
        holder: str | None = None,
        lease_ttl_s: float = 30.0,
        on_change: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
        lease_name: str = LEASE_NAME,
    ) -> None:
        self.engine = engine
        self.client = mlflow_client
        self.audit = audit
        self.holder = holder or _default_holder()
        self.lease_ttl_s = lease_ttl_s
        self.on_change = on_change
        self.clock = clock
        self.lease_name = lease_name
        self.is_leader = False
        self.evaluator = Evaluator(engine, mlflow_client)

    # -- the loop ------------------------------------------------------------------

    def tick(self) -> list[TickOutcome]:
        """One pass over the rollouts if this controller holds the lease; else ``[]``."""
        now = self.clock()
        self.is_leader = acquire_lease(
            self.engine, self.lease_name, self.holder, self.lease_ttl_s, now=now
        )
        if not self.is_leader:
            return []
        outcomes = []
        for record in pending_rollouts(self.engine):
            try:
                outcomes.append(self._tick_one(record, self.clock()))
            except Exception as exc:  # one broken rollout must not stop the others
                log.exception("rollout %s of %s: tick failed", record.id, record.deployment)
                outcomes.append(
                    TickOutcome(
                        record.deployment, record.id, "error", f"{type(exc).__name__}: {exc}"
                    )
                )
        return outcomes

    def release(self) -> None:
        """Give the lease up (at shutdown) so another replica takes over at once."""
        if self.is_leader:
            release_lease(self.engine, self.lease_name, self.holder)
            self.is_leader = False

    def _tick_one(self, record: RolloutRecord, now: float) -> TickOutcome:
        if record.pending:
            # effects left by a transition whose maker may have died; its maker runs
            # them at once, so wait one lease period before taking them over
            if now - float(record.pending[0].get("at", 0.0)) < self.lease_ttl_s:
                return TickOutcome(record.deployment, record.id, "skipped", "effects pending")
            record = self._run_effects(record)
            if record.pending:  # still failing (registry down?): keep them, retry later
                return TickOutcome(record.deployment, record.id, "skipped", "effects failed")
            if record.state != machine.RUNNING:
                return TickOutcome(record.deployment, record.id, "effects", "effects completed")
        plan = parse_plan(record.plan, f"rollout {record.id} plan")
        seen = self.evaluator.evaluate(record, plan, now)
        decision = machine.decide(plan, record.position, seen.status, now, gate_reason=seen.reason)
        window_dict, ev, gate_dict = seen.window, seen.evidence, seen.gate
        if not decision.changed:
            limit = seen.past_limit() and plan.on_inconclusive == "hold"
            marker = machine.HOLD_LIMIT if limit else "hold"
            first_limit = limit and record.last_decision != machine.HOLD_LIMIT
            pending = None
            if first_limit:  # audit (once) that the rollout now waits for an operator
                spec = effects.effect(
                    action="hold",
                    actor="controller",
                    reason=decision.reason,
                    at=now,
                    step_from=record.step_index,
                    window=window_dict,
                    evidence=ev,
                    gate=gate_dict,
                )
                spec["transition"] = f"{record.id}:{record.row_version + 1}"
                pending = [spec]
            new = compare_and_set(
                self.engine,
                record.id,
                record.row_version,
                evidence=ev,
                gate=gate_dict,
                checked_at=now,
                reason=decision.reason,
                last_decision=marker,
                pending=pending,
            )
            if new is not None and pending:
                self._run_effects(new, notify=False)
            return TickOutcome(record.deployment, record.id, "hold", decision.reason)
        new = self._apply(
            record,
            decision,
            actor="controller",
            now=now,
            window=window_dict,
            evidence=ev,
            gate=gate_dict,
        )
        if new is None:
            return TickOutcome(record.deployment, record.id, "skipped", "changed meanwhile")
        return TickOutcome(record.deployment, record.id, decision.action, decision.reason)

    # -- transitions and their effects ---------------------------------------------

    def _apply(
        self,
        record: RolloutRecord,
        decision: Decision,
        *,
        actor: str,
        now: float,
        window: dict[str, Any] | None = None,
        evidence: dict[str, Any] | None = None,
        gate: dict[str, Any] | None = None,
    ) -> RolloutRecord | None:
        """Write ``decision`` (compare-and-set), then run its effects; None if it lost."""
        pos = decision.position
        spec = effects.effect(
            action=decision.action,
            actor=actor,
            reason=decision.reason,
            at=now,
            step_from=record.step_index,
            window=window,
            evidence=evidence,
            gate=gate,
        )
        spec["transition"] = f"{record.id}:{record.row_version + 1}"
        changes: dict[str, Any] = {
            "state": pos.state,
            "step_index": pos.step_index,
            "step_started_at": pos.step_started_at,
            "paused_at": pos.paused_at,
            "paused_s": pos.paused_s,
            "weight_override": pos.weight_override,
            "reason": decision.reason,
            "last_decision": decision.action,
            "pending": [*(record.pending or []), spec],  # earlier effects not done are kept
            "updated_at": now,
        }
        if evidence is not None:
            changes.update(evidence=evidence, gate=gate, checked_at=now)
        if pos.state in machine.FINAL_STATES:
            changes["finished_at"] = now
        new = compare_and_set(self.engine, record.id, record.row_version, **changes)
        if new is None:
            return None
        log.info("%s: %s (%s)", record.deployment, decision.action, decision.reason)
        return self._run_effects(new)

    def _run_effects(self, record: RolloutRecord, *, notify: bool = True) -> RolloutRecord:
        """Run ``record.pending`` and clear it; on failure leave it for a later tick."""
        if notify and self.on_change is not None:
            try:  # traffic first: a rollback must not wait for MLflow
                self.on_change(record.deployment)
            except Exception:
                log.exception("on_change(%s) failed", record.deployment)
        for spec in record.pending or []:
            try:
                effects.run(record, spec, self.audit, self.client)
            except Exception:
                log.exception(
                    "rollout %s: effects of %s failed; retried later", record.id, spec["action"]
                )
                return record
        moved = any(spec["action"] == "promote" for spec in record.pending or [])
        if moved and notify and self.on_change is not None:
            try:  # the champion alias moved: serve the new champion now
                self.on_change(record.deployment)
            except Exception:
                log.exception("on_change(%s) failed", record.deployment)
        cleared = compare_and_set(self.engine, record.id, record.row_version, pending=None)
        return cleared if cleared is not None else record

    def _manual(
        self,
        deployment: str,
        make: Callable[[RolloutRecord, float], Decision],
        actor: str,
        *,
        attempts: int = 5,
    ) -> RolloutRecord:
        for _ in range(attempts):
            record = active_rollout(self.engine, deployment)
            if record is None:
                raise RolloutNotFound(f"deployment {deployment!r} has no active rollout")
            now = self.clock()
            decision = make(record, now)
            new = self._apply(record, decision, actor=actor, now=now)
            if new is not None:
                return new
        raise RolloutConflict(f"rollout of {deployment!r} keeps changing; try again")

    # -- public actions --------------------------------------------------------------

    def start_rollout(
        self,
        deployment: str,
        challenger: str,
        plan: Plan | Mapping[str, Any] | str,
        *,
        actor: str,
        model: str | None = None,
        champion_alias: str = "champion",
    ) -> RolloutRecord:
        """Start rolling ``challenger`` (``models:/name/7``) out on ``deployment``.

        ``plan``: a :class:`Plan`, its dict, or YAML/JSON text. ``model``: the
        deployment's registered model (the challenger must be a version of it).
        Raises :class:`InputError` for a bad URI, plan or version,
        :class:`RolloutConflict` when a rollout is already active,
        :class:`TransitionError` when the policy forbids a first canary step now.
        """
        plan = _as_plan(plan)
        name, version, champion = effects.resolve_challenger(
            self.client, challenger, deployment=deployment, model=model, alias=champion_alias
        )
        now = self.clock()
        self.evaluator.reference(plan)  # a missing or unreadable reference: InputError now
        if plan.steps[0].mode == "canary":
            self._check_policy(plan, name, version, now)
        spec = effects.effect(
            action="start",
            actor=actor,
            at=now,
            step_from=0,
            reason=f"{actor} started {challenger} (version {version}) against champion {champion}",
        )
        record = create_rollout(
            self.engine,
            deployment=deployment,
            model=name,
            champion_alias=champion_alias,
            champion_version=champion,
            challenger_version=version,
            plan=plan.model_dump(mode="json"),
            plan_hash=plan_hash(plan),
            actor=actor,
            now=now,
            pending=[spec],
        )
        return self._run_effects(record)

    def _check_policy(self, plan: Plan, model: str, version: str, now: float) -> None:
        result = self.evaluator.policy(plan, model, version, now)
        if result.status != "pass":
            raise TransitionError(f"policy {result.status}: {result.reason}")

    def pause(self, deployment: str, *, actor: str, reason: str = "") -> RolloutRecord:
        """Pause the deployment's rollout (its traffic stays as it is)."""
        return self._manual(
            deployment, lambda r, now: machine.pause(r.position, now, reason), actor
        )

    def resume(self, deployment: str, *, actor: str, reason: str = "") -> RolloutRecord:
        """Resume a paused rollout."""
        return self._manual(
            deployment, lambda r, now: machine.resume(r.position, now, reason), actor
        )

    def promote(
        self, deployment: str, *, actor: str, reason: str = "", force: bool = False
    ) -> RolloutRecord:
        """Promote now (moves the aliases); the plan's policy must pass unless ``force``."""

        def make(record: RolloutRecord, now: float) -> Decision:
            if not force:
                plan = parse_plan(record.plan, f"rollout {record.id} plan")
                self._check_policy(plan, record.model, record.challenger_version, now)
            return machine.promote(record.position, now, reason or f"promoted by {actor}")

        return self._manual(deployment, make, actor)

    def rollback(self, deployment: str, *, actor: str, reason: str = "") -> RolloutRecord:
        """Roll back now: the challenger's traffic goes to zero; aliases stay."""
        return self._manual(
            deployment,
            lambda r, now: machine.rollback(r.position, now, reason or f"rolled back by {actor}"),
            actor,
        )

    def set_weight(
        self, deployment: str, weight: float, *, actor: str, reason: str = ""
    ) -> RolloutRecord:
        """Override the current step's weight until the next step."""
        return self._manual(
            deployment, lambda r, now: machine.set_weight(r.position, weight, reason), actor
        )

    def rollback_to_previous(
        self,
        deployment: str,
        reason: str,
        actor: str,
        *,
        model: str | None = None,
        champion_alias: str | None = None,
    ) -> dict[str, Any]:
        """After a promotion: move the champion alias back to ``previous``.

        An active rollout of the deployment is rolled back first. The model and alias
        default to those of the deployment's latest rollout. Returns
        ``{"model", "champion", "demoted"}``.
        """
        last = latest_rollout(self.engine, deployment)
        model = model or (last.model if last else None)
        alias = champion_alias or (last.champion_alias if last else "champion")
        if model is None:
            raise RolloutNotFound(
                f"deployment {deployment!r} has no rollout; name the model to roll back"
            )
        if last is not None and last.active:
            self.rollback(deployment, actor=actor, reason=f"champion rolled back: {reason}")
        previous, current = effects.restore_previous(self.client, model, alias, reason)
        now = self.clock()
        if (
            last is not None
            and last.state == machine.PROMOTED
            and last.challenger_version == current
        ):
            compare_and_set(
                self.engine,
                last.id,
                last.row_version,
                state=machine.ROLLED_BACK,
                reason=f"rolled back to previous: {reason}",
                last_decision="rollback_to_previous",
                updated_at=now,
            )
        self.audit.append(
            action="rollout.rollback_to_previous",
            actor=actor,
            deployment=deployment,
            decision="rollback",
            reason=reason,
            config_hash=last.plan_hash if last else None,
            model_versions={"model": model, "champion": previous, "demoted": current},
        )
        if self.on_change is not None:
            self.on_change(deployment)
        return {"model": model, "champion": previous, "demoted": current}


def _as_plan(plan: Plan | Mapping[str, Any] | str) -> Plan:
    if isinstance(plan, Plan):
        return plan
    if isinstance(plan, str):
        return plan_from_yaml(plan, "plan")  # JSON is YAML too
    return parse_plan(plan, "plan")
