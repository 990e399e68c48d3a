"""Monitors outside the library: `accuguard monitor check`, and the loop inside `serve`."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from accuguard.audit import AuditLog
from accuguard.cli import main
from accuguard.errors import ConfigError
from accuguard.gateway.config import load_gateway_config
from accuguard.monitor.cli import app as monitor_app
from accuguard.monitor.runner import MonitorRunner
from tests.monitor.test_service import NOW, config, traffic

runner = CliRunner()


def _store(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'events.db'}"


def _write_monitor(tmp_path, floor: float) -> str:
    path = tmp_path / "monitor.yaml"
    path.write_text(
        "deployment: fraud\nwindow_s: 600\nmin_rows: 100\n"
        f"drift: {{enabled: false}}\nprediction_drift: {{enabled: false}}\n"
        f"accuracy: {{floor: {floor}, min_labels: 100}}\n"
    )
    return str(path)


def _cli(*args: str):
    assert args[0] == "monitor"
    return runner.invoke(monitor_app, list(args[1:]))


@pytest.mark.parametrize(("accuracy", "floor", "code"), [(0.6, 0.8, 1), (0.95, 0.8, 0)])
def test_monitor_check_exits_1_on_an_accuracy_breach_and_0_when_healthy(
    engine, tmp_path, accuracy, floor, code
):
    traffic(engine, 800, 3, accuracy=accuracy)
    result = _cli(
        "monitor", "check", "--config", _write_monitor(tmp_path, floor),
        "--store-url", _store(tmp_path), "--at", str(NOW), "--json",
    )  # fmt: skip
    assert result.exit_code == code, result.output
    report = json.loads(result.output)
    acc = next(r for r in report["results"] if r["monitor"] == "accuracy")
    assert (acc["status"] == "alert") == (code == 1)
    assert report["actions"] == []  # a dry run acts on nothing


def test_monitor_check_act_writes_the_alert_to_the_audit_log(engine, tmp_path):
    traffic(engine, 800, 3, accuracy=0.6)
    result = _cli(
        "monitor", "check", "--config", _write_monitor(tmp_path, 0.8),
        "--store-url", _store(tmp_path), "--at", str(NOW), "--act",
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "accuracy" in result.output
    actions = [e.action for e in AuditLog(engine).entries()]
    assert any(a.startswith("monitor") for a in actions), actions


def test_monitor_check_bad_config_exits_2_naming_the_file_and_field(engine, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("deployment: fraud\naccuracy: {floor: 5}\n")
    result = _cli("monitor", "check", "--config", str(bad), "--store-url", _store(tmp_path))
    assert result.exit_code == 2
    assert "bad.yaml" in result.output and "accuracy.floor" in result.output
    assert "Traceback" not in result.output


def test_the_accuguard_command_mounts_monitor(engine, tmp_path, capsys):
    traffic(engine, 800, 3, accuracy=0.95)
    with pytest.raises(SystemExit) as exit_:
        main(["monitor", "check", "--config", _write_monitor(tmp_path, 0.8),
              "--store-url", _store(tmp_path), "--at", str(NOW)])  # fmt: skip
    assert exit_.value.code == 0
    assert "monitors of fraud" in capsys.readouterr().out


def test_only_the_runner_holding_the_lease_checks(engine):
    traffic(engine, 800, 3, accuracy=0.6)
    cfg = config(accuracy={"floor": 0.8}, drift={"enabled": False})
    a = MonitorRunner(engine, [cfg], interval_s=1.0, lease_ttl_s=30.0)
    b = MonitorRunner(engine, [cfg], interval_s=1.0, lease_ttl_s=30.0)
    a._build()
    b._build()
    first, second = a.run_once(), b.run_once()
    assert len(first) == 1 and second == []
    a.release()
    assert len(b.run_once()) == 1


def test_gateway_config_resolves_monitor_files_from_its_folder(tmp_path):
    (tmp_path / "monitors").mkdir()
    (tmp_path / "monitors" / "fraud.yaml").write_text("deployment: fraud\n")
    gateway = tmp_path / "deployments.yaml"
    gateway.write_text(
        "monitoring: {files: [monitors/fraud.yaml], interval_s: 30}\n"
        "deployments: {fraud: {model: fraud}}\n"
    )
    cfg = load_gateway_config(gateway, env={})
    assert cfg.monitoring.files == [tmp_path / "monitors" / "fraud.yaml"]
    assert cfg.monitoring.interval_s == 30


@pytest.mark.parametrize(
    ("monitor_text", "message"),
    [
        ("deployment: payments\n", "not in deployments (fraud)"),
        ("deployment: fraud\nwindow_s: -1\n", "fraud.yaml: window_s"),
    ],
)
def test_gateway_config_rejects_a_bad_monitor_file(tmp_path, monitor_text, message):
    (tmp_path / "fraud.yaml").write_text(monitor_text)
    gateway = tmp_path / "deployments.yaml"
    gateway.write_text("monitoring: {files: [fraud.yaml]}\ndeployments: {fraud: {model: fraud}}\n")
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_gateway_config(gateway, env={})
