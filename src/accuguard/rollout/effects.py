"""Side effects of a rollout transition: audit entry, MLflow tags, alias moves.

A transition is first committed to the rollout row together with a description of
its effects (the row's ``pending`` column); the effects run afterwards and the
column is cleared. A controller that dies in between leaves ``pending`` set, and the
next one runs the effects again. Each effect is idempotent:

- the audit entry carries a ``transition`` key (``"<rollout id>:<row version>"``, the
  version the transition produced); one already in the log is not appended twice;
- MLflow tags and aliases are set to fixed values (setting them twice is harmless).

MLflow tags on the challenger version (``accuguard.rollout.*``): ``decision`` (the
last action: start, advance, pause, resume, weight, promote, rollback), ``step``,
``reason``, ``at`` (unix s), ``plan_hash``, ``rollout_id``. On promotion the old
champion gets ``accuguard.rollout.decision = replaced`` and the alias ``previous``.
"""

from __future__ import annotations

import logging
from typing import Any

from accuguard.audit import AuditLog
from accuguard.errors import InputError
from accuguard.registry.models import parse_model_uri
from accuguard.rollout.machine import TransitionError
from accuguard.rollout.state import RolloutRecord

log = logging.getLogger("accuguard.rollout")
TAG = "accuguard.rollout."
PREVIOUS = "previous"
_MAX_TAG = 500


def transition_key(record: RolloutRecord) -> str:
    """The idempotency key of the transition that produced ``record``."""
    return f"{record.id}:{record.row_version}"


def effect(
    *,
    action: str,
    actor: str,
    reason: str,
    at: float,
    step_from: int,
    window: dict[str, Any] | None = None,
    evidence: dict[str, Any] | None = None,
    gate: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The description stored in ``pending`` (JSON-safe)."""
    return {
        "action": action,
        "actor": actor,
        "reason": reason,
        "at": at,
        "window": window,
        "evidence": evidence,
        "gate": gate,
        "step_from": step_from,
    }


def model_versions(record: RolloutRecord, champion: str | None = None) -> dict[str, Any]:
    """The ``model_versions`` of an audit entry."""
    return {
        "model": record.model,
        "champion": champion or record.champion_version,
        "challenger": record.challenger_version,
        "variant": record.variant,
    }


def run(record: RolloutRecord, spec: dict[str, Any], audit: AuditLog, client: Any) -> None:
    """Run one pending effect of ``record`` (raises if MLflow or the audit log fails)."""
    action = str(spec["action"])
    key = str(spec.get("transition") or transition_key(record))
    plan_steps = record.plan.get("steps", [])
    step_name = (
        plan_steps[record.step_index]["name"] if record.step_index < len(plan_steps) else None
    )
    champion = None
    if action == "promote":
        champion = move_aliases(client, record)
    _audit_once(audit, record, spec, key, step_name, champion)
    tags = {
        "decision": action,
        "step": step_name or "",
        "reason": str(spec.get("reason", "")),
        "at": f"{float(spec.get('at', 0.0)):.3f}",
        "plan_hash": record.plan_hash,
        "rollout_id": str(record.id),
    }
    for name, value in tags.items():
        client.set_model_version_tag(
            record.model, record.challenger_version, TAG + name, value[:_MAX_TAG]
        )


def _audit_once(
    audit: AuditLog,
    record: RolloutRecord,
    spec: dict[str, Any],
    key: str,
    step_name: str | None,
    champion: str | None,
) -> None:
    action = f"rollout.{spec['action']}"
    for entry in audit.entries(deployment=record.deployment, actions=[action], limit=50):
        if entry.evidence and entry.evidence.get("transition") == key:
            return  # written before a crash: do not write it twice
    audit.append(
        action=action,
        actor=str(spec.get("actor", "controller")),
        deployment=record.deployment,
        decision=str(spec["action"]),
        reason=str(spec.get("reason", "")),
        config_hash=record.plan_hash,
        window=spec.get("window"),
        model_versions=model_versions(record, champion),
        evidence={
            "transition": key,
            "rollout_id": record.id,
            "state": record.state,
            "step_from": spec.get("step_from"),
            "step": record.step_index,
            "step_name": step_name,
            "gate": spec.get("gate"),
            "evidence": spec.get("evidence"),
        },
    )


def move_aliases(client: Any, record: RolloutRecord) -> str:
    """Promotion: ``previous`` -> the old champion, the champion alias -> the challenger.

    Idempotent: when the champion alias already names the challenger (a retry),
    ``previous`` is the champion the rollout started from. Returns the old champion.
    """
    current = str(client.get_model_version_by_alias(record.model, record.champion_alias).version)
    old = record.champion_version if current == record.challenger_version else current
    client.set_registered_model_alias(record.model, PREVIOUS, old)
    client.set_registered_model_alias(
        record.model, record.champion_alias, record.challenger_version
    )
    client.set_model_version_tag(record.model, old, TAG + "decision", "replaced")
    log.info(
        "%s: %s@%s -> version %s (previous: %s)",
        record.deployment,
        record.model,
        record.champion_alias,
        record.challenger_version,
        old,
    )
    return old


def resolve_challenger(
    client: Any, challenger: str, *, deployment: str, model: str | None, alias: str
) -> tuple[str, str, str]:
    """``(model name, challenger version, champion version)`` of a rollout to start.

    :class:`InputError` for a URI that names no version, another model than the
    deployment's, a version the registry does not have, no champion, or the champion.
    """
    ref = parse_model_uri(challenger)
    if not ref.name or (ref.version is None and ref.alias is None):
        raise InputError(
            f"challenger {challenger!r}: expected a model version URI such as "
            "models:/fraud/7 (or models:/fraud@alias)"
        )
    if model is not None and ref.name != model:
        raise InputError(
            f"challenger {challenger!r} is a version of {ref.name!r}, but deployment "
            f"{deployment!r} serves model {model!r}"
        )
    try:
        if ref.alias is not None:
            found = client.get_model_version_by_alias(ref.name, ref.alias)
        else:
            found = client.get_model_version(ref.name, ref.version)
    except Exception as exc:
        raise InputError(f"challenger {challenger!r} not found in the registry: {exc}") from None
    try:
        champion = str(client.get_model_version_by_alias(ref.name, alias).version)
    except Exception as exc:
        raise InputError(
            f"model {ref.name!r} has no {alias!r} alias to roll out against: {exc}"
        ) from None
    version = str(found.version)
    if champion == version:
        raise InputError(f"version {version} of {ref.name!r} is already the champion")
    return ref.name, version, champion


def restore_previous(client: Any, model: str, alias: str, reason: str) -> tuple[str, str]:
    """Move ``alias`` back to the ``previous`` version; returns ``(previous, demoted)``.

    ``previous`` is removed (it is the champion again) and both versions are tagged.
    :class:`TransitionError` when there is no ``previous`` version.
    """
    try:
        previous = str(client.get_model_version_by_alias(model, PREVIOUS).version)
    except Exception:
        raise TransitionError(
            f"model {model!r} has no {PREVIOUS!r} version to go back to"
        ) from None
    current = str(client.get_model_version_by_alias(model, alias).version)
    client.set_registered_model_alias(model, alias, previous)
    client.delete_registered_model_alias(model, PREVIOUS)
    client.set_model_version_tag(model, current, TAG + "decision", "rolled_back")
    client.set_model_version_tag(model, current, TAG + "reason", reason[:_MAX_TAG])
    client.set_model_version_tag(model, previous, TAG + "decision", "reinstated")
    log.info("%s@%s back to version %s (version %s demoted)", model, alias, previous, current)
    return previous, current
