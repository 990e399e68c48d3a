"""The rollout state machine: pure functions from (plan, position, gate, time) to a decision.

No I/O here: the controller loads the rollout's :class:`Position` from the database,
asks :func:`decide` (automatic) or one of the manual actions what comes next, and
writes the result back with a compare-and-set. States:

- ``running``: the challenger serves its step's traffic; gates are evaluated;
- ``paused``: the challenger keeps its current traffic, no gate moves it (an operator
  resumes, promotes or rolls back);
- ``promoted`` / ``rolled_back``: finished; the challenger serves nothing more (after a
  promotion it is the champion).

Automatic decisions on a running rollout (``gate`` is ``pass``, ``fail`` or
``inconclusive``; ``elapsed`` is the time spent in the step, pauses excluded):

==============  ============================================  =========================
gate            condition                                     decision
==============  ============================================  =========================
fail            any                                           ``rollback``
pass            elapsed < step.min_duration_s                 ``hold``
pass            not the last step                             ``advance`` (next step)
pass            last step                                     ``promote``
inconclusive    no max_duration_s, or elapsed below it        ``hold``
inconclusive    elapsed >= step.max_duration_s                ``plan.on_inconclusive``:
                                                              ``rollback``; ``promote``
                                                              (proceed as on a pass:
                                                              next step, or promote after
                                                              the last); ``hold`` (stay,
                                                              flagged ``hold_limit``)
==============  ============================================  =========================
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal, Protocol

from accuguard.errors import AccuguardError

RUNNING = "running"
PAUSED = "paused"
PROMOTED = "promoted"
ROLLED_BACK = "rolled_back"
ACTIVE_STATES = frozenset({RUNNING, PAUSED})
FINAL_STATES = frozenset({PROMOTED, ROLLED_BACK})
GateStatus = Literal["pass", "fail", "inconclusive"]
Action = Literal["hold", "advance", "promote", "rollback", "pause", "resume", "weight"]
#: ``last_decision`` marker of a rollout held past its step's limit (plan.on_inconclusive=hold)
HOLD_LIMIT = "hold_limit"


class TransitionError(AccuguardError):
    """An action that the rollout's state does not allow (e.g. resuming a finished one)."""


class StepLike(Protocol):
    """What the machine reads of a plan step."""

    @property
    def name(self) -> str: ...
    @property
    def mode(self) -> str: ...
    @property
    def weight(self) -> float: ...
    @property
    def min_duration_s(self) -> float: ...
    @property
    def max_duration_s(self) -> float | None: ...


class PlanLike(Protocol):
    """What the machine reads of a plan."""

    @property
    def steps(self) -> Sequence[StepLike]: ...
    @property
    def on_inconclusive(self) -> str: ...


@dataclass(frozen=True)
class Position:
    """Where a rollout is: state, step, when the step started, pause bookkeeping."""

    state: str
    step_index: int
    step_started_at: float
    paused_at: float | None = None
    paused_s: float = 0.0
    weight_override: float | None = None


@dataclass(frozen=True)
class Decision:
    """What to do: the action, the position after it and why."""

    action: Action
    position: Position
    reason: str

    @property
    def changed(self) -> bool:
        """True when the decision changes the rollout (anything but ``hold``)."""
        return self.action != "hold"


def elapsed(position: Position, now: float) -> float:
    """Seconds spent in the current step, pauses excluded (never negative)."""
    paused = position.paused_s
    if position.paused_at is not None:
        paused += max(0.0, now - position.paused_at)
    return max(0.0, now - position.step_started_at - paused)


def decide(
    plan: PlanLike, position: Position, gate: GateStatus, now: float, *, gate_reason: str = ""
) -> Decision:
    """The automatic decision for ``position`` given the step's gate result at ``now``.

    A rollout that is not running is held (the controller only asks for running ones).

    >>> from types import SimpleNamespace as NS
    >>> step = NS(name="shadow", mode="shadow", weight=0.0, min_duration_s=0.0,
    ...           max_duration_s=60.0)
    >>> plan = NS(steps=[step, step], on_inconclusive="rollback")
    >>> decide(plan, Position("running", 0, 100.0), "pass", 110.0).action
    'advance'
    >>> decide(plan, Position("running", 1, 100.0), "inconclusive", 170.0).action
    'rollback'
    """
    if position.state != RUNNING:
        return Decision("hold", position, f"the rollout is {position.state}")
    steps = plan.steps
    if not 0 <= position.step_index < len(steps):
        raise TransitionError(
            f"step {position.step_index} does not exist; the plan has {len(steps)} steps"
        )
    step = steps[position.step_index]
    spent = elapsed(position, now)
    why = f" ({gate_reason})" if gate_reason else ""
    where = f"step {position.step_index + 1}/{len(steps)} {step.name!r}"
    if gate == "fail":
        return _finish(position, ROLLED_BACK, now, f"gate failed at {where}{why}")
    if gate == "pass":
        if spent < step.min_duration_s:
            return Decision(
                "hold",
                position,
                f"gate passed at {where} but only {spent:.0f} s of the "
                f"{step.min_duration_s:g} s minimum have passed",
            )
        return _proceed(plan, position, now, f"gate passed at {where}{why}")
    if gate != "inconclusive":
        raise ValueError(f"gate status must be pass, fail or inconclusive, got {gate!r}")
    limit = step.max_duration_s
    if limit is None or spent < limit:
        return Decision("hold", position, f"collecting evidence at {where}{why}")
    over = f"inconclusive after {spent:.0f} s at {where}, past max_duration_s {limit:g}{why}"
    choice = plan.on_inconclusive
    if choice == "rollback":
        return _finish(position, ROLLED_BACK, now, f"{over}; plan.on_inconclusive is rollback")
    if choice == "promote":
        return _proceed(plan, position, now, f"{over}; plan.on_inconclusive is promote")
    return Decision("hold", position, f"{over}; plan.on_inconclusive is hold: an operator decides")


def _proceed(plan: PlanLike, position: Position, now: float, reason: str) -> Decision:
    if position.step_index + 1 >= len(plan.steps):
        return _finish(position, PROMOTED, now, reason)
    nxt = plan.steps[position.step_index + 1]
    after = Position(RUNNING, position.step_index + 1, now)
    return Decision("advance", after, f"{reason}; next: {nxt.name!r}")


def _finish(position: Position, state: str, now: float, reason: str) -> Decision:
    after = replace(position, state=state, paused_at=None, weight_override=None)
    if position.paused_at is not None:
        after = replace(after, paused_s=position.paused_s + max(0.0, now - position.paused_at))
    return Decision("promote" if state == PROMOTED else "rollback", after, reason)


def pause(position: Position, now: float, reason: str = "") -> Decision:
    """Pause a running rollout: its traffic stays as it is, gates stop moving it."""
    if position.state != RUNNING:
        raise TransitionError(f"cannot pause a rollout that is {position.state}")
    return Decision("pause", replace(position, state=PAUSED, paused_at=now), reason or "paused")


def resume(position: Position, now: float, reason: str = "") -> Decision:
    """Resume a paused rollout; the paused time does not count toward the step's limits."""
    if position.state != PAUSED:
        raise TransitionError(f"cannot resume a rollout that is {position.state}")
    paused_s = position.paused_s + max(0.0, now - (position.paused_at or now))
    after = replace(position, state=RUNNING, paused_at=None, paused_s=paused_s)
    return Decision("resume", after, reason or "resumed")


def promote(position: Position, now: float, reason: str = "") -> Decision:
    """Promote now (manual override), from any step of a running or paused rollout."""
    _check_active(position, "promote")
    return _finish(position, PROMOTED, now, reason or "promoted by an operator")


def rollback(position: Position, now: float, reason: str = "") -> Decision:
    """Roll back now: the challenger's traffic goes to zero."""
    _check_active(position, "roll back")
    return _finish(position, ROLLED_BACK, now, reason or "rolled back by an operator")


def set_weight(position: Position, weight: float, reason: str = "") -> Decision:
    """Override the current step's weight (canary share, or shadow mirroring share).

    The override lasts until the next step.
    """
    _check_active(position, "change the weight of")
    if not (math.isfinite(weight) and 0.0 <= weight <= 1.0):
        raise TransitionError(f"weight must be a number in [0, 1], got {weight!r}")
    return Decision(
        "weight", replace(position, weight_override=weight), reason or f"weight set to {weight:g}"
    )


def traffic(plan: PlanLike, position: Position) -> tuple[str, float] | None:
    """``(mode, weight)`` the challenger serves at ``position``; None once finished.

    A shadow's weight is the share of requests mirrored (1 unless overridden).
    """
    if position.state not in ACTIVE_STATES:
        return None
    step = plan.steps[position.step_index]
    if position.weight_override is not None:
        return step.mode, position.weight_override
    return step.mode, (1.0 if step.mode == "shadow" else float(step.weight))


def _check_active(position: Position, what: str) -> None:
    if position.state not in ACTIVE_STATES:
        raise TransitionError(f"cannot {what} a rollout that is {position.state}")
