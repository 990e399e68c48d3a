"""The shipped alert rules: valid for promtool, unit-tested, and each one documented."""

from __future__ import annotations

import re
import subprocess

import yaml

from tests.prometheus.conftest import DOC, RULE_TESTS, RULES, documented_config

EXPECTED = {
    "AccuguardAccuracyBelowFloor",
    "AccuguardDriftAboveThreshold",
    "AccuguardSampleRatioMismatch",
    "AccuguardHighLatencyP95",
    "AccuguardHighErrorRate",
    "AccuguardEventSpoolGrowing",
    "AccuguardGatewayNotReady",
}


def _alerts() -> list[dict]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=RULES.parent)


def test_promtool_accepts_the_rules_file(promtool):
    result = _run(promtool, "check", "rules", RULES.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(_alerts())} rules found" in result.stdout


def test_every_rule_unit_test_passes_under_promtool(promtool):
    result = _run(promtool, "test", "rules", RULE_TESTS.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_documented_prometheus_config_loads_the_rules_under_promtool(promtool, tmp_path):
    config = documented_config()
    assert config["rule_files"] == [RULES.name]
    assert config["scrape_configs"][0]["metrics_path"] == "/metrics"
    (tmp_path / RULES.name).write_text(RULES.read_text())
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [promtool, "check", "config", "prometheus.yml"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(_alerts())} rules found" in result.stdout


def test_every_alert_is_unit_tested():
    tested = set(re.findall(r"alertname: (\w+)", RULE_TESTS.read_text()))
    assert tested == {a["alert"] for a in _alerts()} == EXPECTED


def test_every_alert_has_a_duration_a_severity_and_a_runbook_section():
    anchors = {
        re.sub(r"[^a-z0-9-]", "", h.strip().lower().replace(" ", "-"))
        for h in re.findall(r"^#+ (.+)$", DOC.read_text(), flags=re.M)
    }
    for alert in _alerts():
        name = alert["alert"]
        assert "for" in alert, name
        assert alert["labels"]["severity"] in {"critical", "warning"}, name
        notes = alert["annotations"]
        assert {"summary", "description", "runbook_url"} <= set(notes), name
        where = "$labels.deployment" if "deployment" in alert["expr"] else "$labels.instance"
        assert where in notes["summary"] and where in notes["description"], name
        page, _, anchor = notes["runbook_url"].partition("#")
        assert page == "docs/prometheus.md" and anchor in anchors, (name, anchor)
