"""docs/feature-skew.md stays true: its quick start runs as written and prints what it shows."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from accuguard.cli import main

DOC = Path(__file__).resolve().parents[2] / "docs" / "feature-skew.md"


def _quick_start() -> tuple[list[str], list[str]]:
    """The documented command (as an argument list) and the output block after it."""
    section = DOC.read_text().split("## Quick start", 1)[1]
    blocks = re.findall(r"```(\w*)\n(.*?)```", section, re.S)
    command = next(body for lang, body in blocks if lang == "bash")
    output = next(body for lang, body in blocks if lang == "")
    lines = [ln for ln in command.replace("\\\n", " ").splitlines() if ln.startswith("accuguard")]
    assert len(lines) == 1, lines
    return shlex.split(lines[0]), output.strip().splitlines()


def test_quick_start_command_prints_the_documented_report_and_exits_1(world, monkeypatch, capsys):
    argv, shown = _quick_start()
    monkeypatch.setenv("ACCUGUARD_FEAST_PYTHON", world.feast_python)
    monkeypatch.chdir(world.folder)
    with pytest.raises(SystemExit) as exit_info:
        main(argv[1:])  # what the `accuguard` console script runs, in this process
    err = capsys.readouterr().err
    assert exit_info.value.code == 1, err
    printed = [" ".join(line.split()) for line in err.strip().splitlines()]
    assert printed == [" ".join(line.split()) for line in shown]
    report = json.loads((world.folder / "report.json").read_text())
    assert report["schema_version"] == "accuguard.skew/v1"
    assert report["passed"] is False
    expected = world.expected_mismatches()
    compared = world.compared()
    assert report["compared"] == compared
    for name, feature in report["features"].items():
        assert feature["mismatches"] == expected[name]
        assert feature["mismatch_rate"] == expected[name] / compared
    gates = {g["expression"]: g["passed"] for g in report["gates"]}
    assert gates == {
        "mismatch_rate(txn_count_7d) <= 0.01": True,
        "mismatch_rate(amount_avg_7d) <= 0.01": False,
    }
    assert report["drift"]["features"] == ["balance"]


def test_python_example_prints_the_documented_rates(world, monkeypatch, capsys):
    section = DOC.read_text().split("## In Python", 1)[1]
    code, shown = re.findall(r"```\w*\n(.*?)```", section, re.S)[:2]
    monkeypatch.chdir(world.folder)
    exec(code.replace("/opt/feast-env/bin/python", world.feast_python), {})
    assert capsys.readouterr().out.strip() == shown.strip()
    report = json.loads((world.folder / "report-python.json").read_text())
    assert [g["passed"] for g in report["gates"]] == [True, False]
