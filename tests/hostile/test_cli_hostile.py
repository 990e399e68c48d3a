"""The ``accuguard`` console script (a real process) on files built to break it:
names and fields holding rich markup, YAML nested 10,000 deep."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.hostile.test_cli_fuzz import GOOD


def accuguard(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "accuguard.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_clean_refusal(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    line = proc.stderr.replace("\n", "")
    assert line.startswith("error:"), proc.stderr
    for needle in needles:
        assert needle in line, proc.stderr


def test_a_field_that_looks_like_rich_markup_is_printed_as_text(tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text('steps:\n  - {name: s, mode: shadow, "[/x]": 1, "[bold]": 2}\n')
    proc = accuguard(
        "rollout",
        "start",
        "fraud",
        "--challenger",
        "models:/fraud/2",
        "--plan",
        str(plan),
        "--url",
        "http://127.0.0.1:9",
    )
    assert_clean_refusal(proc, str(plan), "steps.0.[/x]: unknown field", "[bold]")


def test_a_path_holding_a_closing_markup_tag_is_named_in_full(tmp_path):
    folder = tmp_path / "runs["  # with the file name "]ref.csv": ".../runs[/]ref.csv"
    folder.mkdir()
    data = folder / "]ref.csv"
    data.write_bytes(b"\x00\xff garbage")
    good = tmp_path / "cur.csv"
    good.write_bytes(GOOD["csv"])
    proc = accuguard(
        "experiment",
        "analyze",
        "-e",
        str(data),
        "--unit",
        "user",
        "--variant",
        "variant",
        "-m",
        "conv",
    )
    assert_clean_refusal(proc, str(data))


@pytest.mark.parametrize(
    "nested", ["[" * 10_000 + "]" * 10_000, "{a: " * 10_000 + "1" + "}" * 10_000]
)
def test_yaml_nested_10000_deep_is_refused_naming_the_file(tmp_path, nested):
    config = tmp_path / "gates.yaml"
    config.write_text(nested)
    out = tmp_path / "out"
    out.mkdir()
    ref = tmp_path / "ref.csv"
    ref.write_bytes(GOOD["csv"])
    proc = accuguard(
        "validate",
        "-r",
        str(ref),
        "-c",
        str(ref),
        "--config",
        str(config),
        "-o",
        str(out / "r.json"),
        "-q",
    )
    assert_clean_refusal(proc, str(config), "nested too deeply")
    assert list(out.iterdir()) == []


def test_the_module_entry_point_is_the_console_script():
    proc = accuguard("--help")
    assert proc.returncode == 0 and "validate" in proc.stdout
