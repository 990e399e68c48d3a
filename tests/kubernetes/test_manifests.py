"""deploy/kubernetes: the overlays render, every object validates against the Kubernetes
OpenAPI schemas (kubernetes-validate) for the stated versions, the custom resources
against their CRD schemas (vendored in tests/kubernetes/crds), and the settings that
matter (probes, non-root, read-only root, Secret references, scaling) are what the docs
say."""

from __future__ import annotations

import copy
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from accuguard.gateway.config import load_gateway_config
from accuguard.integrations.kubernetes import FLAGGER_HOOKS
from tests.kubernetes.kustomize import load_documents, normalized, render

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "kubernetes"
OVERLAYS = ["dev", "production"]
#: the Kubernetes versions the manifests are validated for (docs/kubernetes.md)
K8S_VERSIONS = ["1.30.0", "1.33.0"]
CRDS = Path(__file__).parent / "crds"
CRD_FILES = {
    ("argoproj.io/v1alpha1", "AnalysisTemplate"): "analysistemplate.yaml",
    ("flagger.app/v1beta1", "Canary"): "canary.yaml",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitor.yaml",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "prometheusrule.yaml",
}
SECRET_ENV = {
    "ACCUGUARD_STORE_URL": "store-url",
    "ACCUGUARD_PRIVACY_SALT": "privacy-salt",
    "ACCUGUARD_ADMIN_TOKEN": "admin-token",
}


def strict(schema: Any) -> Any:
    """A CRD's structural schema as JSON Schema with the API server's strict field
    validation: unknown fields are errors unless x-kubernetes-preserve-unknown-fields;
    x-kubernetes-int-or-string accepts an integer or a string."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict(v) for k, v in schema.items() if not k.startswith("x-kubernetes")}
    if schema.get("x-kubernetes-int-or-string") and "anyOf" not in schema:
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if "properties" in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
        out.setdefault("additionalProperties", False)
    return out


def crd_validator(api_version: str, kind: str) -> jsonschema.Draft4Validator:
    doc = yaml.safe_load((CRDS / CRD_FILES[(api_version, kind)]).read_text())
    return jsonschema.Draft4Validator(strict(doc["openAPIV3Schema"]))


def crd_errors(obj: dict[str, Any]) -> list[str]:
    validator = crd_validator(obj["apiVersion"], obj["kind"])
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(obj)
    ]


def rendered(overlay: str) -> list[dict[str, Any]]:
    return render(DEPLOY / "overlays" / overlay)


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] == kind]
    return found


def examples() -> list[dict[str, Any]]:
    return [
        *load_documents(DEPLOY / "argo-rollouts" / "analysistemplate.yaml"),
        *load_documents(DEPLOY / "flagger" / "canary.yaml"),
    ]


# -- rendering ------------------------------------------------------------------------


def test_overlays_render_to_the_expected_objects_in_their_namespace():
    kinds = {
        "ServiceAccount", "ConfigMap", "Deployment", "Service",
        "HorizontalPodAutoscaler", "PodDisruptionBudget", "ServiceMonitor", "PrometheusRule",
    }  # fmt: skip
    for overlay, namespace, replicas in (
        ("dev", "accuguard-dev", 1),
        ("production", "accuguard", 3),
    ):
        objects = rendered(overlay)
        assert {o["kind"] for o in objects} == kinds
        assert {o["metadata"]["namespace"] for o in objects} == {namespace}
        assert one(objects, "Deployment")["spec"]["replicas"] == replicas
    prod = one(rendered("production"), "Deployment")["spec"]["template"]["spec"]
    assert prod["containers"][0]["image"] == "registry.example.com/ml/accuguard:0.1.0"
    assert prod["topologySpreadConstraints"][0]["topologyKey"] == "topology.kubernetes.io/zone"


@pytest.mark.skipif(
    not os.environ.get("ACCUGUARD_KUBECTL"),
    reason="set ACCUGUARD_KUBECTL to a kubectl (with kustomize) to compare the renderer with it",
)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_renderer_agrees_with_kubectl_kustomize(overlay):
    kubectl = os.environ["ACCUGUARD_KUBECTL"]
    out = subprocess.run(
        [kubectl, "kustomize", str(DEPLOY / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    reference = [d for d in yaml.safe_load_all(out) if d]
    assert normalized(rendered(overlay)) == normalized(reference)


# -- schemas --------------------------------------------------------------------------


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_validates_against_its_schema(overlay, version):
    for obj in rendered(overlay):
        key = (obj["apiVersion"], obj["kind"])
        if key in CRD_FILES:
            assert crd_errors(obj) == [], key
        else:
            kubernetes_validate.validate(obj, version, strict=True)


def test_the_argo_and_flagger_examples_validate_against_their_crds():
    docs = examples()
    assert [d["kind"] for d in docs] == ["AnalysisTemplate", "AnalysisTemplate", "Canary"]
    for doc in docs:
        assert crd_errors(doc) == [], doc["metadata"]["name"]


def test_the_validators_reject_typos_and_wrong_types():
    deployment = one(rendered("dev"), "Deployment")
    broken = copy.deepcopy(deployment)
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["paht"] = "/"
    with pytest.raises(kubernetes_validate.ValidationError, match="paht"):
        kubernetes_validate.validate(broken, K8S_VERSIONS[0], strict=True)
    gate, _, canary = copy.deepcopy(examples())
    gate["spec"]["metrics"][0]["succesCondition"] = gate["spec"]["metrics"][0].pop(
        "successCondition"
    )
    assert any("succesCondition" in e for e in crd_errors(gate))
    canary["spec"]["analysis"]["webhooks"][0]["type"] = "rollbak"
    assert any("rollbak" in e for e in crd_errors(canary))
    del canary["spec"]["analysis"]["stepWeight"]  # neither stepWeight(s) nor iterations
    assert len(crd_errors(canary)) == 2
    rule = one(rendered("dev"), "PrometheusRule")
    rule["spec"]["groups"][0]["rules"][0]["for"] = "five minutes"
    assert any("for" in e for e in crd_errors(rule))


# -- what the manifests promise -------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_gateway_pod_is_hardened_and_probed(overlay):
    objects = rendered(overlay)
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    (gateway,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["automountServiceAccountToken"] is False
    sc = gateway["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert gateway["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert gateway["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    for kind in ("requests", "limits"):
        assert set(gateway["resources"][kind]) == {"cpu", "memory"}
    # writable places are emptyDirs: the spool (ACCUGUARD_SPOOL_DIR) and /tmp
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in gateway["volumeMounts"]}
    env = {e["name"]: e for e in gateway["env"]}
    assert "emptyDir" in volumes[mounts[env["ACCUGUARD_SPOOL_DIR"]["value"]]]
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert volumes[mounts["/etc/accuguard"]]["configMap"]["name"] == "accuguard-config"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_are_only_referenced_never_committed(overlay):
    objects = rendered(overlay)
    assert "Secret" not in {o["kind"] for o in objects}
    (gateway,) = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in gateway["env"]}
    for name, key in SECRET_ENV.items():
        assert "value" not in env[name]
        assert env[name]["valueFrom"]["secretKeyRef"] == {
            "name": "accuguard",
            "key": key,
            **({"optional": True} if name == "ACCUGUARD_ADMIN_TOKEN" else {}),
        }
    text = "\n".join(p.read_text() for p in DEPLOY.rglob("*.yaml"))
    assert not re.search(r"agt_[A-Za-z0-9_-]{20,}", text)  # no real token anywhere


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_config_map_is_a_valid_gateway_config_and_shutdown_fits_the_grace_period(
    overlay, tmp_path
):
    objects = rendered(overlay)
    path = tmp_path / "deployments.yaml"
    path.write_text(one(objects, "ConfigMap")["data"]["deployments.yaml"])
    config = load_gateway_config(path, env={})
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    assert config.shutdown_timeout_s < pod["terminationGracePeriodSeconds"]
    assert (
        config.controller.enabled and config.controller.lease_ttl_s > config.controller.interval_s
    )
    args = pod["containers"][0]["args"]
    assert args[args.index("--config") + 1] == f"/etc/accuguard/{path.name}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_selectors_ports_and_scaling_line_up(overlay):
    objects = rendered(overlay)
    deployment = one(objects, "Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    service = one(objects, "Service")
    assert service["spec"]["selector"].items() <= labels.items()
    assert one(objects, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"] == labels
    monitor = one(objects, "ServiceMonitor")["spec"]
    assert monitor["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["endpoints"][0]["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert monitor["endpoints"][0]["path"] == "/metrics"
    hpa = one(objects, "HorizontalPodAutoscaler")["spec"]
    assert hpa["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    metrics = {m["type"]: m for m in hpa["metrics"]}
    assert metrics["Resource"]["resource"]["name"] == "cpu"
    assert metrics["Pods"]["pods"]["metric"]["name"] == "accuguard_requests_per_second"
    assert hpa["minReplicas"] <= deployment["spec"]["replicas"] <= hpa["maxReplicas"]


def test_the_prometheus_rule_holds_the_groups_of_the_rules_file():
    rules_file = ROOT / "deploy" / "prometheus" / "accuguard-rules.yml"
    assert rules_file.exists(), "deploy/prometheus/accuguard-rules.yml is missing"
    import importlib.util

    spec = importlib.util.spec_from_file_location("sync", DEPLOY / "sync_prometheusrule.py")
    assert spec and spec.loader
    sync = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sync)
    rules_text = rules_file.read_text()
    committed = (DEPLOY / "base" / "prometheusrule.yaml").read_text()
    assert yaml.safe_load(committed)["spec"]["groups"] == yaml.safe_load(rules_text)["groups"], (
        "run: python deploy/kubernetes/sync_prometheusrule.py"
    )
    assert committed == sync.render(rules_text)
    alerts = {r["alert"] for g in yaml.safe_load(committed)["spec"]["groups"] for r in g["rules"]}
    assert len(alerts) >= 6


# -- the examples ask what the endpoints answer ----------------------------------------


def test_the_analysis_templates_read_the_verdict_of_the_analysis_endpoint():
    gate, guard, _ = examples()
    for template in (gate, guard):
        (metric,) = template["spec"]["metrics"]
        web = metric["provider"]["web"]
        assert web["jsonPath"] == "{$.verdict}"
        assert "/v1/analysis/{{args.deployment}}?version={{args.version}}" in web["url"]
        assert web["headers"] == [{"key": "Authorization", "value": "Bearer {{args.token}}"}]
        token = next(a for a in template["spec"]["args"] if a["name"] == "token")
        assert token["valueFrom"]["secretKeyRef"] == {"name": "accuguard-analysis", "key": "token"}
        assert metric["failureCondition"] == 'result == "fail"'
    assert gate["spec"]["metrics"][0]["successCondition"] == 'result == "pass"'
    assert "&step={{args.step}}" in gate["spec"]["metrics"][0]["provider"]["web"]["url"]
    # a single measurement: inconclusive pauses the Rollout, it never counts as a success
    assert gate["spec"]["metrics"][0]["count"] == 1
    assert gate["spec"]["metrics"][0]["inconclusiveLimit"] == 0
    assert "successCondition" not in guard["spec"]["metrics"][0]  # only a fail aborts


def test_the_canary_webhooks_call_the_matching_flagger_endpoint_of_the_service():
    *_, canary = examples()
    service = one(rendered("production"), "Service")
    host = f"http://{service['metadata']['name']}.{service['metadata']['namespace']}.svc"
    hooks = canary["spec"]["analysis"]["webhooks"]
    assert {h["type"] for h in hooks} >= {
        "confirm-rollout", "pre-rollout", "rollout", "confirm-promotion", "rollback",
    }  # fmt: skip
    for hook in hooks:
        assert hook["type"] in FLAGGER_HOOKS
        assert hook["url"] == f"{host}/v1/flagger/{hook['type']}"
        assert hook["metadata"]["deployment"] == "fraud" and hook["metadata"]["token"]


def argo_phase(metric: dict[str, Any], result: str) -> str:
    """Argo Rollouts' EvaluateResult (utils/evaluate/evaluate.go) for conditions of the
    form ``result == "x"``: both given -> Failed if the failure condition holds,
    Successful if the success one does, else Inconclusive; one given -> the other is
    its negation."""

    def holds(condition: str) -> bool:
        match = re.fullmatch(r'result == "(\w+)"', condition)
        assert match, condition
        return result == match.group(1)

    success, failure = metric.get("successCondition"), metric.get("failureCondition")
    ok = holds(success) if success else not holds(failure)
    bad = holds(failure) if failure else not ok
    return "Failed" if bad else "Successful" if ok else "Inconclusive"


def test_each_verdict_maps_to_the_argo_measurement_the_docs_promise():
    gate, guard, _ = examples()
    (g,), (w,) = gate["spec"]["metrics"], guard["spec"]["metrics"]
    assert {v: argo_phase(g, v) for v in ("pass", "fail", "inconclusive")} == {
        "pass": "Successful",
        "fail": "Failed",
        "inconclusive": "Inconclusive",
    }
    assert {v: argo_phase(w, v) for v in ("pass", "fail", "inconclusive")} == {
        "pass": "Successful",
        "fail": "Failed",
        "inconclusive": "Successful",  # the guard only aborts; it never ends the canary
    }
