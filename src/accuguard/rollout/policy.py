"""Policy: conditions a rollout must meet beyond metrics.

:func:`evaluate_policy` checks, as a :class:`~accuguard.rollout.gates.GateResult`:

- ``require_validation``: the challenger's MLflow model version carries the tag
  ``accuguard.validation = passed`` (set by ``accuguard validate --model-uri``, see
  :mod:`accuguard.registry.tracking`). ``failed`` or a missing tag fails.
- ``max_fairness_gap``: the fairness gap given by the caller (from evidence) or, else,
  the version tag ``accuguard.fairness_gap`` (a number) must be at most the bound.
  Missing or not a number fails.
- ``change_window``: ``now`` (UTC) is on an allowed weekday within ``[start_hour,
  end_hour)``. Outside, the result is inconclusive (wait for the window).
- ``opa``: delegate to an Open Policy Agent server: ``POST {url}/v1/data/{path}`` with
  ``{"input": {...}}`` (OPA's Data API). ``{"result": true}`` (or ``{"result":
  {"allow": true}}``) passes; ``false``, an undefined document (no ``result``) or
  ``allow: false`` fails; an unreachable server or an error status is inconclusive.

The input document sent to OPA is :func:`opa_input_document`: the version tags, ``now``
(unix seconds and ISO 8601 UTC) and whatever the caller adds (deployment, versions,
evidence summary).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from accuguard.registry.tracking import VALIDATION_TAG
from accuguard.rollout.checks import CheckResult
from accuguard.rollout.gates import GateResult
from accuguard.rollout.plan import WEEKDAYS, ChangeWindow, OpaHook, Policy

FAIRNESS_TAG = "accuguard.fairness_gap"

OpaQuery = Callable[[OpaHook, Mapping[str, Any]], CheckResult]
"""The hook type: given the plan's ``opa`` settings and the input document, a check result.
:func:`query_opa` is the HTTP implementation; tests or embedders may pass their own."""


def evaluate_policy(
    policy: Policy,
    *,
    version_tags: Mapping[str, str],
    now: float,
    fairness_gap: float | None = None,
    opa_input: Mapping[str, Any] | None = None,
    opa_query: OpaQuery | None = None,
) -> GateResult:
    """Evaluate ``policy`` for one challenger model version at time ``now`` (unix seconds).

    Any failed condition -> fail; else any inconclusive one (outside the change window,
    OPA unreachable) -> inconclusive; else pass (also when the policy sets nothing).
    """
    checks: list[CheckResult] = []
    if policy.require_validation:
        checks.append(_validation(version_tags))
    if policy.max_fairness_gap is not None:
        checks.append(_fairness(policy.max_fairness_gap, version_tags, fairness_gap))
    if policy.change_window is not None:
        checks.append(_change_window(policy.change_window, now))
    if policy.opa is not None:
        document = opa_input_document(version_tags, now, opa_input)
        checks.append((opa_query or query_opa)(policy.opa, document))
    failed = [c for c in checks if c.status == "fail"]
    waiting = [c for c in checks if c.status == "inconclusive"]
    if failed:
        reason = "fail: " + "; ".join(f"{c.name}: {c.detail}" for c in failed)
        return GateResult("fail", checks, reason, step="policy")
    if waiting:
        reason = "inconclusive: " + "; ".join(f"{c.name}: {c.detail}" for c in waiting)
        return GateResult("inconclusive", checks, reason, step="policy")
    met = "; ".join(f"{c.name}: {c.detail}" for c in checks) or "no policy conditions set"
    return GateResult("pass", checks, f"pass: {met}", step="policy")


def _validation(tags: Mapping[str, str]) -> CheckResult:
    verdict = tags.get(VALIDATION_TAG)
    if verdict == "passed":
        run = tags.get("accuguard.validation_run")
        where = f" (MLflow run {run})" if run else ""
        return CheckResult(
            "validation",
            "pass",
            1.0,
            1.0,
            detail=f"the validation report of this version passed{where}",
        )
    if verdict is None:
        detail = (
            f"this model version has no validation report (tag {VALIDATION_TAG!r} "
            "missing): run `accuguard validate --model-uri models:/<name>/<version>`"
        )
    else:
        detail = f"the validation report of this version says {verdict!r}, not 'passed'"
    return CheckResult("validation", "fail", 0.0, 1.0, detail=detail)


def _fairness(limit: float, tags: Mapping[str, str], given: float | None) -> CheckResult:
    source = "evidence"
    gap = given
    if gap is None:
        source = f"tag {FAIRNESS_TAG!r}"
        text = tags.get(FAIRNESS_TAG)
        if text is None:
            return CheckResult(
                "fairness_gap",
                "fail",
                None,
                limit,
                detail=f"no fairness gap recorded for this version ({source} missing)",
            )
        try:
            gap = float(text)
        except ValueError:
            gap = math.nan
    if not math.isfinite(gap):
        return CheckResult(
            "fairness_gap",
            "fail",
            None,
            limit,
            detail=f"fairness gap from {source} is not a number ({gap!r})",
        )
    ok = gap <= limit
    return CheckResult(
        "fairness_gap",
        "pass" if ok else "fail",
        gap,
        limit,
        detail=f"gap {gap:.4g} from {source} is {'within' if ok else 'above'} the bound {limit:g}",
    )


def _in_window(window: ChangeWindow, moment: datetime) -> bool:
    day = WEEKDAYS[moment.weekday()]
    return day in window.days and window.start_hour <= moment.hour < window.end_hour


def describe_window(window: ChangeWindow) -> str:
    """E.g. ``mon,tue,wed 09:00-17:00 UTC``."""
    days = ",".join(d for d in WEEKDAYS if d in window.days)
    return f"{days} {window.start_hour:02d}:00-{window.end_hour:02d}:00 UTC"


def _change_window(window: ChangeWindow, now: float) -> CheckResult:
    moment = datetime.fromtimestamp(now, UTC)
    text = describe_window(window)
    if _in_window(window, moment):
        return CheckResult(
            "change_window",
            "pass",
            now,
            None,
            detail=f"{moment:%a %H:%M} UTC is inside the change window {text}",
        )
    opening = moment.replace(minute=0, second=0, microsecond=0)
    for _ in range(7 * 24):
        opening += timedelta(hours=1)
        if _in_window(window, opening):
            break
    return CheckResult(
        "change_window",
        "inconclusive",
        now,
        None,
        detail=f"{moment:%a %H:%M} UTC is outside the change window {text}; next opening "
        f"{opening:%a %Y-%m-%d %H:%M} UTC",
        stats={"next_opening": opening.timestamp()},
    )


def opa_input_document(
    version_tags: Mapping[str, str], now: float, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The ``input`` sent to OPA: tags, time, then the caller's fields."""
    document: dict[str, Any] = {
        "version_tags": dict(version_tags),
        "now": now,
        "now_utc": datetime.fromtimestamp(now, UTC).isoformat(),
    }
    document.update(extra or {})
    return document


def query_opa(
    hook: OpaHook, document: Mapping[str, Any], *, client: httpx.Client | None = None
) -> CheckResult:
    """``POST {hook.url}/v1/data/{hook.path}`` with ``{"input": document}``; read ``result``."""
    url = f"{hook.url}/v1/data/{hook.path}"
    try:
        if client is None:
            with httpx.Client(timeout=hook.timeout_s) as own:
                response = own.post(url, json={"input": dict(document)})
        else:
            response = client.post(url, json={"input": dict(document)}, timeout=hook.timeout_s)
    except httpx.HTTPError as exc:
        return CheckResult(
            "opa",
            "inconclusive",
            None,
            None,
            detail=f"OPA at {url} unreachable: {type(exc).__name__}: {exc}",
        )
    if response.status_code != 200:
        return CheckResult(
            "opa",
            "inconclusive",
            None,
            None,
            detail=f"OPA at {url} answered HTTP {response.status_code}: {response.text[:200]}",
        )
    try:
        body = response.json()
    except ValueError:
        return CheckResult(
            "opa",
            "inconclusive",
            None,
            None,
            detail=f"OPA at {url} answered with a body that is not JSON",
        )
    if not isinstance(body, dict) or "result" not in body:
        return CheckResult(
            "opa",
            "fail",
            None,
            None,
            detail=f"OPA document {hook.path!r} is undefined (no 'result')",
        )
    result = body["result"]
    if isinstance(result, dict):
        result = result.get("allow")
    if result is True:
        return CheckResult("opa", "pass", 1.0, None, detail=f"OPA {hook.path!r} allows")
    return CheckResult(
        "opa", "fail", 0.0, None, detail=f"OPA {hook.path!r} denies (result {body['result']!r})"
    )
