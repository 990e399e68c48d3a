"""What each dashboard page shows, as plain dicts for the templates (blocking: call these
off the event loop).

Each function takes the gateway (its serving state, config and event-log engine) and
returns the template context; the SQL is in :mod:`accuguard.dashboard.queries`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine

from accuguard.dashboard import charts, experiments, queries, rollup_queries
from accuguard.dashboard.drift import feature_drift, reference_edges
from accuguard.profile.columns import NumericColumnProfile

if TYPE_CHECKING:
    from accuguard.gateway.app import Gateway

NUMERIC_TYPES = {"double", "float", "long", "integer"}
TOP_DRIFTED = 3


@dataclass(frozen=True)
class Range:
    """A displayed time range ``[since, until)`` and its bucket width (seconds)."""

    name: str
    seconds: int
    width: int


RANGES = {
    "1h": Range("1h", 3600, 300),
    "24h": Range("24h", 86_400, 3600),
    "7d": Range("7d", 7 * 86_400, 3600),
    "30d": Range("30d", 30 * 86_400, 86_400),
    "365d": Range("365d", 365 * 86_400, 86_400),
}


def engine_of(gateway: Gateway) -> Engine | None:
    """The event-log database of the gateway (None when events go to a caller's sink)."""
    service = gateway.rollouts
    return None if service is None else service.engine


def serving(gateway: Gateway, name: str) -> list[dict[str, Any]]:
    """The variants serving ``name`` now: mode, model, version and traffic weight."""
    state = gateway.reloader.deployments.get(name)
    if state is None:
        return []
    by_name = {c.name: c for c in state.config.challengers}
    canary = sum(c.weight or 0.0 for c in state.config.challengers if c.mode == "canary")
    split: dict[str, float] = {}
    for c in state.config.challengers:
        if c.mode == "ab" and c.split:
            split = {k: v / sum(c.split.values()) for k, v in c.split.items()}
    out = []
    for v in state.variants():
        cfg = by_name.get(v.name)
        if v.mode == "champion":
            weight = split.get(v.name, 1.0 - canary) if split else 1.0 - canary
            note = "serves the units no challenger takes"
        elif v.mode == "shadow":
            weight = cfg.weight if cfg is not None and cfg.weight is not None else 1.0
            note = "mirrored requests; answers discarded"
        elif v.mode == "ab":
            weight, note = split.get(v.name, 0.0), "A/B arm (share of units)"
        else:
            weight = cfg.weight if cfg is not None and cfg.weight is not None else 0.0
            note = "share of units served"
        out.append(
            {
                "name": v.name,
                "mode": v.mode,
                "model": v.model.handle.name,
                "version": v.version,
                "weight": weight,
                "note": note,
            }
        )
    return out


def deployments_page(gateway: Gateway, minutes: int, now: float | None = None) -> dict[str, Any]:
    """Every configured deployment: what serves it and its live traffic figures."""
    now = time.time() if now is None else now
    engine = engine_of(gateway)
    names = sorted(gateway.reloader.config.deployments)
    traffic: dict[str, dict[str, queries.VariantTraffic]] = {}
    if engine is not None:
        with engine.connect() as conn:  # one connection for every deployment
            traffic = {n: queries.traffic(conn, n, now - minutes * 60, now) for n in names}
    rows = []
    for name in names:
        stats = traffic.get(name, {})
        variants = serving(gateway, name)
        for v in variants:
            t = stats.get(v["name"])
            v["requests"] = t.requests if t else 0
            v["rate"] = (t.requests / (minutes * 60)) if t else 0.0
            v["error_rate"] = t.error_rate if t else None
            v["p95_ms"] = t.p95_ms if t else None
        rows.append(
            {
                "name": name,
                "variants": variants,
                "error": gateway.reloader.errors.get(name),
                "model": gateway.reloader.config.deployments[name].model,
            }
        )
    return {"deployments": rows, "minutes": minutes, "has_store": engine is not None}


def rollout_page(gateway: Gateway, name: str, now: float | None = None) -> dict[str, Any]:
    """The deployment's latest rollout (steps, gate checks) and its decision history."""
    from accuguard.audit import AuditLog
    from accuguard.rollout.api import describe
    from accuguard.rollout.state import latest_rollout

    engine = engine_of(gateway)
    context: dict[str, Any] = {"name": name, "rollout": None, "history": [], "has_store": False}
    context["gate"] = None
    if engine is None:
        return context
    context["has_store"] = True
    record = latest_rollout(engine, name)
    if record is not None:
        context["rollout"] = describe(record, now)
        context["gate"] = gate_of(record.gate)
    entries = AuditLog(engine).entries(deployment=name, limit=50)
    context["history"] = [e.to_dict() for e in reversed(entries)]
    return context


def gate_of(stored: dict[str, Any] | None) -> dict[str, Any] | None:
    """The gate result in a rollout row: ``{"status", "gate": {...checks}, "policy"?, "at"}``
    as the controller stores it (older rows: the gate result itself)."""
    if not stored:
        return None
    inner = stored.get("gate")
    if isinstance(inner, dict):
        return {**inner, "policy": stored.get("policy"), "at": stored.get("at")}
    return stored


def _features(gateway: Gateway, name: str, reference: Any) -> dict[str, str]:
    if reference is not None:
        return dict(reference.kinds)
    state = gateway.reloader.deployments.get(name)
    columns = state.champion.model.handle.columns if state is not None else None
    return {c.name: "numeric" if c.type in NUMERIC_TYPES else "categorical" for c in columns or ()}


def _monitor(gateway: Gateway, name: str) -> tuple[Any, Any]:
    """``(reference, last report)`` of the monitor of ``name`` in this process, if any."""
    runner = getattr(gateway.rollouts, "monitors", None)
    if runner is None:
        return None, None
    reference = next((m.reference for m in runner.monitors if m.config.deployment == name), None)
    return reference, runner.last_reports.get(name)


def quality_page(
    gateway: Gateway, name: str, span: Range, now: float | None = None
) -> dict[str, Any]:
    """Accuracy per variant, shadow disagreement and feature drift over ``span``."""
    now = time.time() if now is None else now
    since = now - span.seconds
    engine = engine_of(gateway)
    context: dict[str, Any] = {"name": name, "range": span.name, "ranges": list(RANGES)}
    context["has_store"] = engine is not None
    if engine is None:
        return context
    reference, report = _monitor(gateway, name)
    features = _features(gateway, name, reference)
    columns = None if reference is None else reference.columns
    edges = {
        f: reference_edges(p)
        for f, p in (columns or {}).items()
        if isinstance(p, NumericColumnProfile) and p.count > 0
    }
    rollup_queries.refresh_if_due(engine, now, name, features, edges)
    with engine.connect() as conn:
        accuracy = rollup_queries.accuracy_series(conn, name, since, now, span.width)
        disagreement = rollup_queries.disagreement_series(conn, name, since, now, span.width)
        drifts = feature_drift(conn, name, features, columns, since, now, span.width, rollups=True)
    context["accuracy"] = _summary(accuracy)
    context["accuracy_chart"] = charts.line_chart(
        f"Accuracy per variant, {name}",
        {v: accuracy.rates(v) for v in sorted(accuracy.points)},
        ylabel="accuracy",
        ylim=(0.0, 1.0),
    )
    context["disagreement"] = _summary(disagreement)
    context["disagreement_chart"] = charts.line_chart(
        f"Shadow disagreement with the champion, {name}",
        {v: disagreement.rates(v) for v in sorted(disagreement.points)},
        ylabel="disagreement rate",
        ylim=(0.0, 1.0),
    )
    context["baseline"] = (
        f"the monitor's reference ({reference.source})"
        if reference is not None
        else "the whole displayed range (no monitor reference for this deployment)"
    )
    context["drift"] = [
        {"name": d.name, "kind": d.kind, "psi": d.overall_psi, "last": d.series[-1][1]}
        for d in drifts
        if d.series
    ]
    context["drift_chart"] = charts.line_chart(
        f"PSI per feature against the baseline, {name}",
        {d.name: d.series for d in drifts[:6]},
        ylabel="PSI",
        hline=0.25,
    )
    context["distributions"] = [
        (d.name, charts.distribution_chart(d.name, d.distribution)) for d in drifts[:TOP_DRIFTED]
    ]
    context["monitor"] = None if report is None else report.to_dict()
    return context


def _summary(series: queries.Series) -> list[dict[str, Any]]:
    out = []
    for variant in sorted(series.points):
        rows = series.rows(variant)
        hit, total = sum(r[1] for r in rows), sum(r[2] for r in rows)
        out.append(
            {
                "variant": variant,
                "numerator": hit,
                "denominator": total,
                "rate": hit / total if total else None,
            }
        )
    return out


def experiment_page(
    gateway: Gateway, name: str, span: Range, mde: float, now: float | None = None
) -> dict[str, Any]:
    """The deployment's A/B experiment: arms, SRM, lifts, sequential state, sample sizes."""
    from accuguard.experiment.html import render_experiment_section

    now = time.time() if now is None else now
    context: dict[str, Any] = {"name": name, "range": span.name, "ranges": list(RANGES)}
    context.update(mde=mde, report=None, section="", plans=[], split={})
    state = gateway.reloader.deployments.get(name)
    config = state.config if state is not None else gateway.reloader.config.deployments[name]
    split: dict[str, float] = {}
    for c in config.challengers:
        if c.mode == "ab" and c.split:
            split = dict(c.split)
    context["split"] = split
    engine = engine_of(gateway)
    context["has_store"] = engine is not None
    if not split or engine is None:
        return context
    rollup_queries.refresh_if_due(engine, now, name)
    with engine.connect() as conn:
        units, sums = rollup_queries.experiment_sums(
            conn, name, list(split), now - span.seconds, now
        )
    report, plans = experiments.analyse(name, units, sums, split, mde=mde)
    context["units"] = units
    context["plans"] = plans
    context["report"] = report
    if report is not None:
        context["section"] = render_experiment_section(report)
    return context
