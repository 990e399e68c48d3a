"""deploy/kubernetes/kuberay: the RayJob's pod templates and ConfigMap validate against the
Kubernetes schemas, its entrypoint parses as an `accuguard validate --engine ray` command
line and its gates config loads."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml

from accuguard.validate.config import ValidationConfig

kubernetes_validate = pytest.importorskip("kubernetes_validate")

MANIFEST = Path(__file__).resolve().parents[2] / "deploy/kubernetes/kuberay/rayjob-validate.yaml"
K8S_VERSIONS = ["1.30.0", "1.33.0"]  # as tests/kubernetes/test_manifests.py


def _documents() -> dict[str, dict]:
    return {d["kind"]: d for d in yaml.safe_load_all(MANIFEST.read_text()) if d}


def test_the_rayjob_pod_templates_and_configmap_validate_strictly():
    docs = _documents()
    job = docs["RayJob"]
    assert job["apiVersion"] == "ray.io/v1"
    spec = job["spec"]["rayClusterSpec"]
    templates = [spec["headGroupSpec"]["template"]] + [
        g["template"] for g in spec["workerGroupSpecs"]
    ]
    for version in K8S_VERSIONS:
        kubernetes_validate.validate(docs["ConfigMap"], version, strict=True)
        for i, template in enumerate(templates):
            pod_template = {
                "apiVersion": "v1",
                "kind": "PodTemplate",
                "metadata": {"name": f"group-{i}"},
                "template": template,
            }
            kubernetes_validate.validate(pod_template, version, strict=True)
    ray = pytest.importorskip("ray")
    assert ray.__version__ == spec["rayVersion"]  # the version the engine is tested with
    claims = {
        v["persistentVolumeClaim"]["claimName"]
        for t in templates
        for v in t["spec"]["volumes"]
        if "persistentVolumeClaim" in v
    }
    assert claims == {"accuguard-data"}  # driver and workers read the same volume


def test_the_entrypoint_is_a_valid_validate_command_with_the_ray_engine():
    import typer

    from accuguard.validate.cli import validate_command

    args = shlex.split(_documents()["RayJob"]["spec"]["entrypoint"])
    assert args[:2] == ["accuguard", "validate"]
    app = typer.Typer(add_completion=False)
    app.command()(validate_command)
    ctx = typer.main.get_command(app).make_context("validate", args[2:])
    assert ctx.params["engine"] == "ray" and ctx.params["ray_address"] is None
    gates = _documents()["ConfigMap"]["data"]["gates.yaml"]
    assert ValidationConfig.model_validate(yaml.safe_load(gates)).gates
