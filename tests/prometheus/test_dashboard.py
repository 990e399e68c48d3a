"""The Grafana dashboard: well-formed, and every query selects metrics the gateway exports."""

from __future__ import annotations

import json

import yaml
from prometheus_client import generate_latest

from accuguard.gateway.metrics import GatewayMetrics
from accuguard.gateway.quality_metrics import QualityCollector
from tests.prometheus.conftest import DASHBOARD, RULES
from tests.prometheus.promql import exported_names, metric_names


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def panels() -> list[dict]:
    return [p for p in dashboard()["panels"] if p["type"] != "row"]


def expressions() -> list[str]:
    """Every PromQL expression of the dashboard: panel targets and annotations."""
    exprs = [t["expr"] for p in panels() for t in p["targets"]]
    exprs += [a["expr"] for a in dashboard()["annotations"]["list"] if "expr" in a]
    return exprs


def registry_names() -> set[str]:
    """What a gateway with an event-log database registers (``Gateway.start``)."""
    metrics = GatewayMetrics()
    metrics.watch_sink(lambda: {"queue_depth": 0.0, "spool_bytes": 0.0})
    metrics.registry.register(QualityCollector(lambda: None, lambda: None))
    return exported_names(generate_latest(metrics.registry).decode())


def test_the_metric_name_reader_skips_functions_labels_and_numbers():
    expr = 'histogram_quantile(0.95, sum by (le) (rate(a_bucket{x="y"}[5m]))) > 2e-1 or b'
    assert metric_names(expr) == {"a_bucket", "b"}
    assert metric_names('max by (d) (x{d=~"$deployment"}) / ignoring (v) group_left () y') == {
        "x",
        "y",
    }


def test_dashboard_is_importable_json_with_unique_ids_and_a_grid():
    d = dashboard()
    assert d["uid"] == "accuguard" and d["schemaVersion"] >= 36
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids))
    names = {v["name"] for v in d["templating"]["list"]}
    assert names == {"datasource", "deployment"}
    for p in panels():
        assert p["title"] and p["targets"], p
        assert p["datasource"]["uid"] == "${datasource}"
        grid = p["gridPos"]
        assert grid["x"] + grid["w"] <= 24 and grid["h"] > 0
        assert [t["refId"] for t in p["targets"]] == [chr(65 + i) for i in range(len(p["targets"]))]


def test_dashboard_covers_what_on_call_needs():
    titles = " | ".join(p["title"].lower() for p in panels())
    for needed in (
        "request rate",
        "traffic split",
        "error rate",
        "latency percentiles",
        "shadow disagreement",
        "monitors",
        "drift",
        "accuracy by variant",
        "srm",
        "event spool",
    ):
        assert needed in titles, needed
    annotations = {a["name"] for a in dashboard()["annotations"]["list"]}
    assert "Rollout decisions" in annotations


def test_dashboard_queries_only_use_metrics_the_gateway_exports():
    exported = registry_names()
    used = set().union(*(metric_names(e) for e in expressions()))
    assert used and used <= exported, sorted(used - exported)
    variable = next(v for v in dashboard()["templating"]["list"] if v["name"] == "deployment")
    assert "accuguard_requests_total" in variable["definition"]


def test_alert_rules_only_use_metrics_the_gateway_exports():
    groups = yaml.safe_load(RULES.read_text())["groups"]
    used = set().union(*(metric_names(r["expr"]) for g in groups for r in g["rules"]))
    assert used and used <= registry_names(), sorted(used - registry_names())
