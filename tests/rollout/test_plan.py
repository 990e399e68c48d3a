"""Plan YAML: the documented example loads; every error names the file and the field."""

from __future__ import annotations

import hashlib
import json
import pathlib
import re

import pytest

from accuguard.errors import ConfigError
from accuguard.rollout.plan import (
    BusinessCheck,
    MetricCheck,
    Plan,
    load_plan,
    parse_plan,
    plan_from_yaml,
    plan_hash,
)

DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs" / "rollout.md"


def docs_example() -> str:
    text = DOCS.read_text()
    block = re.search(r"```yaml\n(# plans/fraud.yaml\n.*?)```", text, re.S)
    assert block, "docs/rollout.md lost its example plan"
    return block.group(1)


def write(tmp_path, text, name="plan.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_documented_plan_loads_with_its_steps_checks_and_policy(tmp_path):
    path = write(tmp_path, docs_example())
    plan = load_plan(path)
    assert [s.name for s in plan.steps] == ["shadow", "canary-5", "canary-25", "canary-50"]
    assert [s.weight for s in plan.steps[1:]] == [0.05, 0.25, 0.5]
    shadow = plan.steps[0]
    assert (shadow.min_requests, shadow.min_labels) == (5000, 500)
    assert isinstance(shadow.gate.checks[0], MetricCheck) and shadow.gate.checks[0].margin == 0.02
    assert plan.steps[1].min_duration_s == 1800
    assert isinstance(plan.steps[2].gate.checks[2], BusinessCheck)
    assert plan.policy.require_validation and plan.policy.change_window.start_hour == 8
    assert plan.reference == str((tmp_path / "../data/reference.parquet").resolve())


def test_defaults_are_filled_in():
    plan = parse_plan({"steps": [{"name": "s", "mode": "shadow"}]})
    assert plan.on_inconclusive == "rollback" and plan.reference is None
    assert plan.steps[0].gate.sequential and plan.steps[0].gate.confidence == 0.95
    assert plan.policy.opa is None and not plan.policy.require_validation


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("steps:\n  - {name: c, mode: canary}\n", "steps.0.weight: Value error, a canary step"),
        (
            "steps:\n  - {name: s, mode: shadow, gate: {checks: [{check: recall, margin: -1}]}}\n",
            "steps.0.gate.checks.0.recall.margin: Input should be greater than or equal to 0",
        ),
        (
            "steps:\n  - {name: s, mode: shadow, gate: {checks: [{check: recal}]}}\n",
            "steps.0.gate.checks.0: Input tag 'recal' found using 'check' does not match",
        ),
        (
            "steps:\n  - {name: s, mode: shadow, gate: {checks: [{check: srm}]}}\n",
            "steps.0: Value error, check 'srm' applies to canary steps only",
        ),
        (
            "steps:\n  - {name: c, mode: canary, weight: 0.1, gate: {checks: "
            "[{check: disagreement_rate, max: 0.1}]}}\n",
            "check 'disagreement_rate' applies to shadow steps only",
        ),
        ("steps:\n  - {name: s, mode: blue}\n", "steps.0.mode: Input should be 'shadow' or"),
        ("steps:\n  - {name: s, mode: shadow, colour: red}\n", "steps.0.colour: unknown field"),
        ("steps: []\n", "steps: List should have at least 1 item"),
        (
            "steps:\n  - {name: a, mode: shadow}\n  - {name: a, mode: canary, weight: 0.5}\n",
            "step names must be unique; 'a' appears twice",
        ),
        (
            "steps:\n  - {name: s, mode: shadow, min_duration_s: 60, max_duration_s: 30}\n",
            "max_duration_s (30) is below min_duration_s (60)",
        ),
        (
            "steps:\n  - {name: s, mode: shadow, gate: {checks: [{check: input_drift}]}}\n",
            "set 'reference' to the reference data file",
        ),
        (
            "on_inconclusive: maybe\nsteps:\n  - {name: s, mode: shadow}\n",
            "on_inconclusive: Input should be 'rollback', 'promote' or 'hold'",
        ),
        (
            "policy: {opa: {url: 'opa:8181', path: x}}\nsteps:\n  - {name: s, mode: shadow}\n",
            "policy.opa.url: Value error, expected an http(s) URL",
        ),
        (
            "policy: {change_window: {start_hour: 18, end_hour: 9}}\n"
            "steps:\n  - {name: s, mode: shadow}\n",
            "end_hour (9) must be after start_hour (18)",
        ),
        ("- just\n- a list\n", "expected a mapping at the top level, got list"),
        ("", "the plan is empty"),
        ("steps: [\n", "malformed YAML at line 2"),
    ],
)
def test_errors_name_the_file_and_the_field(tmp_path, text, message):
    path = write(tmp_path, text, "fraud.yaml")
    with pytest.raises(ConfigError) as err:
        load_plan(path)
    assert str(err.value).startswith(f"{path}: ")
    assert message in str(err.value)


def test_a_missing_plan_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"nope.yaml: plan file not found"):
        load_plan(tmp_path / "nope.yaml")


def test_plan_hash_is_sha256_of_canonical_json_and_ignores_formatting():
    a = plan_from_yaml("steps:\n  - {name: s, mode: shadow, min_labels: 5}\n")
    b = plan_from_yaml("steps:\n- mode: shadow\n  min_labels: 5\n  name: s\n# comment\n")
    c = plan_from_yaml("steps:\n  - {name: s, mode: shadow, min_labels: 6}\n")
    assert plan_hash(a) == plan_hash(b) != plan_hash(c)
    canonical = json.dumps(a.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    assert plan_hash(a) == hashlib.sha256(canonical.encode()).hexdigest()


def test_a_plan_round_trips_through_json():
    plan = plan_from_yaml(docs_example(), "docs")
    again = Plan.model_validate(json.loads(plan.model_dump_json()))
    assert again == plan and plan_hash(again) == plan_hash(plan)
