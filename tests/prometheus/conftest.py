"""Where the Prometheus tools are: `.ci/run` sets the variables (and CI fails without
them); elsewhere the tests that need them skip and say how to run them."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "accuguard-rules.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "accuguard-rules.test.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "accuguard-dashboard.json"
DOC = ROOT / "docs" / "prometheus.md"


def _tool(variable: str) -> str:
    path = os.environ.get(variable)
    if not path and os.environ.get("CI"):
        pytest.fail(f"{variable} is not set: .ci/run installs Prometheus and sets it")
    if not path:
        pytest.skip(
            f"{variable} is not set: install Prometheus (apt-get install -y prometheus) and "
            f"run with {variable}=/usr/bin/{variable.rsplit('_', 1)[-1].lower()} (.ci/run does)"
        )
    assert Path(path).is_file(), f"{variable}={path}: no such file"
    return path


@pytest.fixture(scope="session")
def promtool() -> str:
    """The path of ``promtool`` (``ACCUGUARD_TEST_PROMTOOL``)."""
    return _tool("ACCUGUARD_TEST_PROMTOOL")


@pytest.fixture(scope="session")
def prometheus() -> str:
    """The path of ``prometheus`` (``ACCUGUARD_TEST_PROMETHEUS``)."""
    return _tool("ACCUGUARD_TEST_PROMETHEUS")


def documented_config() -> dict[str, Any]:
    """The ``prometheus.yml`` of the quick start in docs/prometheus.md."""
    blocks = re.findall(r"```yaml\n(# prometheus.yml\n.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) == 1, "docs/prometheus.md: one yaml block starting '# prometheus.yml'"
    return yaml.safe_load(blocks[0])
