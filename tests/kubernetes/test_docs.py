"""docs/kubernetes.md: its quick start, examples and tables match the manifests and
the endpoints."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import yaml
from prometheus_client import generate_latest

from accuguard.gateway.metrics import GatewayMetrics
from accuguard.integrations.kubernetes import FLAGGER_HOOKS
from accuguard.integrations.verdict import rollout_verdict
from tests.kubernetes.kustomize import load_documents, render
from tests.kubernetes.test_verdict import NOW, gate, record

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "kubernetes.md").read_text()
DEPLOY = ROOT / "deploy" / "kubernetes"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC, re.S)


def test_the_quick_start_applies_the_dev_overlay_with_the_secret_it_references():
    quick = blocks("bash")[0]
    commands = [shlex.split(c) for c in quick.replace("\\\n", " ").splitlines() if c.strip()]
    apply = next(c for c in commands if c[:2] == ["kubectl", "apply"])
    assert apply[2] == "-k"
    objects = render(ROOT / apply[3])
    namespace = objects[0]["metadata"]["namespace"]
    assert ["kubectl", "create", "namespace", namespace] in commands
    create = next(c for c in commands if "secret" in c)
    assert create[:4] == ["kubectl", "-n", namespace, "create"]
    keys = {a.split("=", 1)[1].split("=", 1)[0] for a in create if a.startswith("--from-literal")}
    (deployment,) = [o for o in objects if o["kind"] == "Deployment"]
    (gateway,) = deployment["spec"]["template"]["spec"]["containers"]
    refs = [e["valueFrom"]["secretKeyRef"] for e in gateway["env"] if "valueFrom" in e]
    assert {r["name"] for r in refs} == {create[create.index("generic") + 1]}
    assert {r["key"] for r in refs} == keys
    port_forward = next(c for c in commands if "port-forward" in c)
    assert port_forward[4:6] == ["service/accuguard", "8080:80"]


def test_the_example_answer_has_the_fields_the_endpoint_gives():
    (example,) = [json.loads(b) for b in blocks("json")]
    real = rollout_verdict(
        "fraud", record(gate=gate("inconclusive"), checked_at=NOW), now=NOW
    ).to_dict()
    assert example.keys() == real.keys()
    assert example["rollout"].keys() == real["rollout"].keys()
    assert example["rollout"]["step"].keys() == real["rollout"]["step"].keys()
    assert set(example["gate"]) <= set(real["gate"])


def test_the_rollout_example_passes_every_argument_the_templates_need():
    rollout = next(yaml.safe_load(b) for b in blocks("yaml") if "kind: Rollout" in b)
    templates = {
        t["metadata"]["name"]: t
        for t in load_documents(DEPLOY / "argo-rollouts" / "analysistemplate.yaml")
    }
    canary = rollout["spec"]["strategy"]["canary"]
    uses = [canary["analysis"], *(s["analysis"] for s in canary["steps"] if "analysis" in s)]
    assert {u["templates"][0]["templateName"] for u in uses} == set(templates)
    for use in uses:
        spec = templates[use["templates"][0]["templateName"]]["spec"]
        needed = {a["name"] for a in spec["args"] if "value" not in a and "valueFrom" not in a}
        assert {a["name"] for a in use["args"]} == needed


def test_the_adapter_rule_serves_the_metric_the_hpa_scales_on():
    rule = next(yaml.safe_load(b) for b in blocks("yaml") if "seriesQuery" in b)["rules"][0]
    hpa = next(o for o in render(DEPLOY / "overlays" / "dev") if o["kind"].startswith("Horiz"))
    pods = next(m for m in hpa["spec"]["metrics"] if m["type"] == "Pods")
    assert rule["name"]["as"] == pods["pods"]["metric"]["name"]
    series = rule["seriesQuery"].split("{")[0]
    metrics = GatewayMetrics()
    metrics.served("fraud", "champion", "1", 1, 0.01)
    assert f"\n{series}{{" in generate_latest(metrics.registry).decode()


def test_the_flagger_table_lists_every_hook_the_endpoint_knows():
    rows = re.findall(r"^\| `([a-z-]+)`(?:, `([a-z-]+)`)? \|", DOC, re.M)
    listed = {name for row in rows for name in row if name in FLAGGER_HOOKS}
    assert listed == set(FLAGGER_HOOKS)


def test_both_routes_are_documented():
    from types import SimpleNamespace

    from accuguard.integrations.kubernetes import routes

    for route in routes(SimpleNamespace()):
        (method,) = route.methods - {"HEAD"}
        assert f"`{method} {route.path}`" in DOC
