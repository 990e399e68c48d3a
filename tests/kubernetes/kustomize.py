"""A small renderer for the subset of Kustomize that deploy/kubernetes uses.

``kubectl kustomize`` (or the ``kustomize`` binary) is not a package on PyPI or in
Debian's current releases, so the tests render the overlays themselves. Supported
``kustomization.yaml`` fields, and nothing else (anything else is an error, so a new
field cannot be silently ignored):

- ``resources``: YAML files (several documents each) or directories with their own
  ``kustomization.yaml``;
- ``namespace``: set on every object;
- ``images``: ``name`` -> ``newName`` and/or ``newTag`` on matching container images;
- ``replicas``: ``name`` -> ``count`` on a Deployment;
- ``patches``: ``path`` to a strategic-merge patch (apiVersion, kind, metadata.name
  select the target). Maps merge key by key; a list whose items are all maps with a
  ``name`` merges item by item on ``name`` (containers, env); other lists are replaced.
  That is Kubernetes' strategic merge for the lists these patches touch.

When ``ACCUGUARD_KUBECTL`` names a kubectl, tests/kubernetes/test_manifests.py checks
that this renderer and ``kubectl kustomize`` give the same objects.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

SUPPORTED = {"apiVersion", "kind", "resources", "namespace", "images", "replicas", "patches"}


def load_documents(path: Path) -> list[dict[str, Any]]:
    """The non-empty YAML documents of ``path``."""
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def render(directory: Path) -> list[dict[str, Any]]:
    """The objects of the kustomization in ``directory``."""
    kust = yaml.safe_load((directory / "kustomization.yaml").read_text(encoding="utf-8"))
    unknown = set(kust) - SUPPORTED
    if unknown:
        raise ValueError(f"{directory}/kustomization.yaml: unsupported fields {sorted(unknown)}")
    objects: list[dict[str, Any]] = []
    for entry in kust.get("resources", []):
        path = directory / entry
        objects += render(path) if path.is_dir() else copy.deepcopy(load_documents(path))
    for patch in kust.get("patches", []):
        if set(patch) != {"path"}:
            raise ValueError(f"{directory}: only file patches are supported, got {patch}")
        for doc in load_documents(directory / patch["path"]):
            target = _find(objects, doc["kind"], doc["metadata"]["name"], directory)
            merged = merge(target, doc)
            objects[objects.index(target)] = merged
    for rep in kust.get("replicas", []):
        _find(objects, "Deployment", rep["name"], directory)["spec"]["replicas"] = rep["count"]
    for image in kust.get("images", []):
        for obj in objects:
            for container in _containers(obj):
                _set_image(container, image)
    if "namespace" in kust:
        for obj in objects:
            obj["metadata"]["namespace"] = kust["namespace"]
    return objects


def _find(objects: list[dict[str, Any]], kind: str, name: str, where: Path) -> dict[str, Any]:
    for obj in objects:
        if obj["kind"] == kind and obj["metadata"]["name"] == name:
            return obj
    raise ValueError(f"{where}: no {kind} {name!r} to patch")


def merge(base: Any, patch: Any) -> Any:
    """Strategic merge of ``patch`` into ``base`` (the subset in the module docstring)."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            out[key] = merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    if _named(base) and _named(patch):
        by_name = {item["name"]: item for item in patch}
        merged = [
            merge(item, by_name.pop(item["name"])) if item["name"] in by_name else item
            for item in base
        ]
        return [copy.deepcopy(i) for i in by_name.values()] + merged
    return copy.deepcopy(patch)


def _named(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(i, dict) and "name" in i for i in value)


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    pod = obj.get("spec", {}).get("template", {}).get("spec", {})
    return [*pod.get("initContainers", []), *pod.get("containers", [])]


def _set_image(container: dict[str, Any], image: dict[str, str]) -> None:
    current = container.get("image", "")
    name, _, tag = current.partition(":")
    if name != image["name"]:
        return
    container["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag)}"


def normalized(objects: list[dict[str, Any]]) -> dict[tuple[str, str], Any]:
    """Objects keyed by (kind, name), lists of named items sorted by name (for comparing)."""

    def norm(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: norm(v) for k, v in value.items()}
        if isinstance(value, list):
            items = [norm(v) for v in value]
            return sorted(items, key=lambda i: i["name"]) if _named(items) else items
        return value

    return {(o["kind"], o["metadata"]["name"]): norm(o) for o in objects}
