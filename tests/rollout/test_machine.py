"""The pure state machine: every plan transition, inconclusive limits, manual actions."""

from __future__ import annotations

import pytest

from accuguard.rollout import machine
from accuguard.rollout.machine import Position, TransitionError
from accuguard.rollout.plan import parse_plan

T0 = 1_000.0


def plan(on_inconclusive: str = "rollback", **shadow: object):
    return parse_plan(
        {
            "on_inconclusive": on_inconclusive,
            "steps": [
                {"name": "shadow", "mode": "shadow", "max_duration_s": 600, **shadow},
                {"name": "canary-5", "mode": "canary", "weight": 0.05, "min_duration_s": 60},
                {"name": "canary-50", "mode": "canary", "weight": 0.5},
            ],
        }
    )


def at(step: int, state: str = "running", started: float = T0, **kw: object) -> Position:
    return Position(state, step, started, **kw)  # type: ignore[arg-type]


def test_pass_advances_to_the_next_step_and_restarts_its_clock():
    d = machine.decide(plan(), at(0), "pass", T0 + 10)
    assert d.action == "advance"
    assert d.position == Position("running", 1, T0 + 10)
    assert "'canary-5'" in d.reason


def test_pass_at_the_last_step_promotes():
    d = machine.decide(plan(), at(2), "pass", T0 + 5)
    assert d.action == "promote"
    assert d.position.state == "promoted"
    assert d.position.step_index == 2


def test_fail_rolls_back_from_any_step():
    for step in range(3):
        d = machine.decide(plan(), at(step), "fail", T0 + 1, gate_reason="error_rate too high")
        assert (d.action, d.position.state) == ("rollback", "rolled_back")
        assert "error_rate too high" in d.reason


def test_pass_before_min_duration_holds():
    d = machine.decide(plan(), at(1), "pass", T0 + 59)
    assert d.action == "hold" and not d.changed
    assert machine.decide(plan(), at(1), "pass", T0 + 60).action == "advance"


def test_inconclusive_holds_until_max_duration():
    d = machine.decide(plan(), at(0), "inconclusive", T0 + 599.9)
    assert d.action == "hold"
    assert d.position == at(0)


@pytest.mark.parametrize(
    ("choice", "action", "state", "step"),
    [
        ("rollback", "rollback", "rolled_back", 0),
        ("promote", "advance", "running", 1),  # proceeds as on a pass: next step
        ("hold", "hold", "running", 0),
    ],
)
def test_inconclusive_past_max_duration_follows_on_inconclusive(choice, action, state, step):
    d = machine.decide(plan(choice), at(0), "inconclusive", T0 + 600)
    assert (d.action, d.position.state, d.position.step_index) == (action, state, step)
    assert "max_duration_s 600" in d.reason


def test_on_inconclusive_promote_at_the_last_step_promotes():
    p = parse_plan(
        {
            "on_inconclusive": "promote",
            "steps": [{"name": "c", "mode": "canary", "weight": 0.1, "max_duration_s": 30}],
        }
    )
    assert machine.decide(p, at(0), "inconclusive", T0 + 30).action == "promote"


def test_a_step_without_max_duration_holds_forever_when_inconclusive():
    assert machine.decide(plan(), at(2), "inconclusive", T0 + 1e9).action == "hold"


def test_paused_time_does_not_count_toward_the_limit():
    p = plan()
    paused = machine.pause(at(0), T0 + 100).position
    assert machine.elapsed(paused, T0 + 10_000) == pytest.approx(100)
    resumed = machine.resume(paused, T0 + 1_000).position  # 900 s paused
    assert resumed.paused_s == pytest.approx(900)
    assert machine.decide(p, resumed, "inconclusive", T0 + 1_499).action == "hold"  # 599 s
    assert machine.decide(p, resumed, "inconclusive", T0 + 1_500).action == "rollback"


def test_a_paused_rollout_is_not_moved_by_gates():
    paused = machine.pause(at(1), T0).position
    assert machine.decide(plan(), paused, "fail", T0 + 1).action == "hold"


def test_manual_actions_and_their_preconditions():
    running = at(1)
    assert machine.pause(running, T0).position.state == "paused"
    with pytest.raises(TransitionError, match="cannot resume a rollout that is running"):
        machine.resume(running, T0)
    paused = machine.pause(running, T0).position
    with pytest.raises(TransitionError, match="cannot pause"):
        machine.pause(paused, T0)
    assert machine.promote(paused, T0 + 5).position.state == "promoted"
    assert machine.rollback(paused, T0 + 5).position.state == "rolled_back"
    done = machine.rollback(running, T0).position
    for action in (machine.promote, machine.rollback, machine.pause, machine.resume):
        with pytest.raises(TransitionError, match="rolled_back"):
            action(done, T0)


def test_weight_override_changes_traffic_until_the_next_step():
    p = plan()
    assert machine.traffic(p, at(1)) == ("canary", 0.05)
    assert machine.traffic(p, at(0)) == ("shadow", 1.0)
    heavier = machine.set_weight(at(1), 0.2).position
    assert machine.traffic(p, heavier) == ("canary", 0.2)
    advanced = machine.decide(p, heavier, "pass", T0 + 100).position
    assert advanced.weight_override is None
    assert machine.traffic(p, advanced) == ("canary", 0.5)
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(TransitionError, match=r"weight must be a number in \[0, 1\]"):
            machine.set_weight(at(1), bad)


def test_finished_rollouts_serve_no_traffic():
    p = plan()
    assert machine.traffic(p, machine.rollback(at(1), T0).position) is None
    assert machine.traffic(p, machine.promote(at(1), T0).position) is None


def test_an_unknown_gate_status_is_an_error():
    with pytest.raises(ValueError, match="pass, fail or inconclusive"):
        machine.decide(plan(), at(0), "maybe", T0)  # type: ignore[arg-type]


def test_a_walk_through_the_whole_plan():
    p = plan()
    pos, now, actions = at(0), T0, []
    for gate, dt in [("inconclusive", 30), ("pass", 30), ("pass", 30), ("pass", 40), ("pass", 5)]:
        now += dt
        d = machine.decide(p, pos, gate, now)  # type: ignore[arg-type]
        actions.append(d.action)
        pos = d.position
    assert actions == ["hold", "advance", "hold", "advance", "promote"]
    assert pos.state == "promoted" and pos.step_index == 2
