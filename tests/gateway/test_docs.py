"""docs/gateway.md and the docstring examples stay true to the code."""

from __future__ import annotations

import doctest
import importlib
import pathlib
import re

import pytest

from accuguard.gateway.config import ENV_OVERRIDES, load_gateway_config
from accuguard.gateway.metrics import GatewayMetrics

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "gateway.md"
SRC = ROOT / "src" / "accuguard" / "gateway"


@pytest.mark.parametrize(
    "name",
    ["accuguard.gateway.config", "accuguard.gateway.routing", "accuguard.gateway.validation"],
)
def test_docstring_examples_pass(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0


def test_the_example_deployments_file_is_valid(tmp_path):
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S)
    example = next(b for b in blocks if "deployments:" in b)
    path = tmp_path / "deployments.yaml"
    path.write_text(example)
    cfg = load_gateway_config(path, env={})
    assert [c.mode for c in cfg.deployments["fraud"].challengers] == ["shadow", "canary", "ab"]


def test_every_environment_override_is_documented():
    text = DOC.read_text()
    assert [v for v in ENV_OVERRIDES if v not in text] == []


def test_every_error_code_is_documented():
    source = "\n".join(p.read_text() for p in SRC.glob("*.py"))
    codes = set(re.findall(r'RequestError\(\s*\d{3},\s*"([a-z_]+)"', source))
    codes |= set(re.findall(r'_bad\([^)]*"([a-z_]+)"\)', source))
    assert len(codes) > 20
    text = DOC.read_text()
    assert sorted(c for c in codes if f"`{c}`" not in text) == []


def test_every_metric_is_documented():
    names = {m.name for m in GatewayMetrics().registry.collect()}
    text = DOC.read_text()
    undocumented = [n for n in names if n not in text and f"{n}_total" not in text]
    assert sorted(undocumented) == []
