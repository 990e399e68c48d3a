"""Variant choice: canary and A/B proportions, stickiness, independence from the process."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from accuguard.assign import Split, buckets
from accuguard.gateway.config import DeploymentConfig
from accuguard.gateway.routing import Router

UNITS = [f"user-{i}" for i in range(20_000)]


def router(challengers):
    return Router(
        "fraud", DeploymentConfig.model_validate({"model": "fraud", "challengers": challengers})
    )


def within_binomial(count: int, n: int, p: float, z: float = 4.0) -> bool:
    return abs(count - n * p) <= z * math.sqrt(n * p * (1 - p))


@pytest.mark.parametrize("weight", [0.05, 0.25, 0.5])
def test_canary_serves_its_weight_of_units_within_binomial_error(weight):
    r = router([{"name": "v2", "version": 2, "mode": "canary", "weight": weight}])
    served = sum(r.choose(u).variant == "v2" for u in UNITS)
    assert within_binomial(served, len(UNITS), weight)


def test_canary_choice_is_bucket_below_weight_times_10000_with_the_default_salt():
    r = router([{"name": "v2", "version": 2, "mode": "canary", "weight": 0.3}])
    expected = buckets("fraud/v2", UNITS) < 3000  # independent, vectorised computation
    got = np.array([r.choose(u).variant == "v2" for u in UNITS])
    assert (got == expected).all()


def test_raising_the_canary_weight_keeps_every_unit_already_in_it():
    small = router([{"name": "v2", "version": 2, "mode": "canary", "weight": 0.05}])
    large = router([{"name": "v2", "version": 2, "mode": "canary", "weight": 0.25}])
    in_small = {u for u in UNITS if small.choose(u).variant == "v2"}
    in_large = {u for u in UNITS if large.choose(u).variant == "v2"}
    assert in_small < in_large


def test_assignment_is_sticky_across_calls_and_processes():
    r = router([{"name": "v2", "version": 2, "mode": "canary", "weight": 0.5}])
    here = [r.choose(u).variant for u in UNITS[:200]]
    assert here == [r.choose(u).variant for u in UNITS[:200]]
    code = (
        "from accuguard.gateway.config import DeploymentConfig\n"
        "from accuguard.gateway.routing import Router\n"
        "cfg = DeploymentConfig.model_validate({'model': 'fraud', 'challengers': "
        "[{'name': 'v2', 'version': 2, 'mode': 'canary', 'weight': 0.5}]})\n"
        "r = Router('fraud', cfg)\n"
        "print(','.join(r.choose(f'user-{i}').variant for i in range(200)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out.split(",") == here  # Python's hash() is salted per process; ours is not


def test_ab_split_follows_the_experiment_salt_and_weights():
    split = {"champion": 70, "b": 30}
    r = router([{"name": "b", "alias": "b", "mode": "ab", "salt": "exp-1", "split": split}])
    got = [r.choose(u) for u in UNITS]
    arms = Split.from_weights(list(split.items())).variants_for(buckets("exp-1", UNITS))
    assert [c.variant for c in got] == arms.tolist()
    assert {c.mode for c in got if c.variant == "b"} == {"ab"}
    assert within_binomial(sum(c.variant == "b" for c in got), len(UNITS), 0.3)


def test_two_arms_of_one_experiment_share_its_split():
    split = {"champion": 1, "b": 1, "c": 1}
    r = router(
        [
            {"name": "b", "alias": "b", "mode": "ab", "salt": "exp-2", "split": split},
            {"name": "c", "alias": "c", "mode": "ab", "salt": "exp-2", "split": split},
        ]
    )
    counts = {v: 0 for v in ("champion", "b", "c")}
    for u in UNITS:
        counts[r.choose(u).variant] += 1
    for arm in counts:
        assert within_binomial(counts[arm], len(UNITS), 1 / 3)


def test_canaries_take_their_units_before_the_experiment():
    r = router(
        [
            {"name": "can", "version": 3, "mode": "canary", "weight": 0.1},
            {
                "name": "b",
                "alias": "b",
                "mode": "ab",
                "salt": "e",
                "split": {"champion": 1, "b": 1},
            },
        ]
    )
    canary = buckets("fraud/can", UNITS) < 1000
    choices = [r.choose(u).variant for u in UNITS]
    assert all(c == "can" for c, in_canary in zip(choices, canary, strict=True) if in_canary)
    rest = [c for c, in_canary in zip(choices, canary, strict=True) if not in_canary]
    assert within_binomial(sum(c == "b" for c in rest), len(rest), 0.5)


def test_shadows_mirror_every_unit_by_default_or_their_weight():
    r = router(
        [
            {"name": "s1", "alias": "challenger", "mode": "shadow"},
            {"name": "s2", "alias": "challenger", "mode": "shadow", "weight": 0.2},
        ]
    )
    mirrored = [r.shadows(u) for u in UNITS]
    assert all("s1" in m for m in mirrored)
    assert within_binomial(sum("s2" in m for m in mirrored), len(UNITS), 0.2)
    assert {r.choose(u).variant for u in UNITS} == {"champion"}  # shadows answer nobody


def test_zero_weight_canary_serves_nobody():
    r = router([{"name": "v2", "version": 2, "mode": "canary", "weight": 0.0}])
    assert {r.choose(u).variant for u in UNITS[:2000]} == {"champion"}
