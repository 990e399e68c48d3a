"""The live demo's HTML report: timeline, rollouts and their gates, monitor alerts, audit log.

One self-contained file (inline CSS, no scripts, no network), every value escaped.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from accuguard.demo.live_outcome import LiveOutcome

CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;width:100%;font-size:.88rem;margin:.5rem 0}
th,td{border:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f5f5f5}.promote,.ok,.pass{color:#17692b;font-weight:600}
.rollback,.fail,.alert{color:#a4161a;font-weight:600}.inconclusive{color:#9a6700}
.muted{color:#777}code{font-size:.85em}.cards{display:flex;gap:1rem;flex-wrap:wrap}
.card{border:1px solid #ddd;border-radius:6px;padding:.6rem 1rem;min-width:10rem}
.card b{display:block;font-size:1.4rem}
"""


def _cell(value: Any) -> str:
    if value is None:
        return '<span class="muted">-</span>'
    if isinstance(value, float):
        return escape(f"{value:.4g}")
    if isinstance(value, dict | list):
        return f"<code>{escape(json.dumps(value, default=str)[:400])}</code>"
    return escape(str(value))


def _table(
    headers: Sequence[str], rows: Iterable[Sequence[Any]], classes: Sequence[str] | None = None
) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{escape(classes[i])}"' if classes and classes[i] else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _checks(gate: dict[str, Any] | None) -> str:
    inner = (gate or {}).get("gate") or {}
    checks = inner.get("checks") or []
    if not checks:
        return '<p class="muted">no gate result recorded</p>'
    rows = [
        (
            c.get("name"),
            c.get("status"),
            c.get("value"),
            c.get("threshold"),
            c.get("ci_low"),
            c.get("ci_high"),
            c.get("detail"),
        )
        for c in checks
    ]
    classes = [str(c.get("status", "")) for c in checks]
    return _table(
        ["check", "status", "value", "threshold", "CI low", "CI high", "detail"], rows, classes
    )


def _when(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%H:%M:%S")


def write_live_report(outcome: LiveOutcome, audit_entries: Sequence[Any], path: Path) -> Path:
    """Write the report to ``path`` (and the same data as JSON next to it); return ``path``."""
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>accuguard live demo"
        f"</title><style>{CSS}</style></head><body>",
        "<h1>accuguard: live rollout demo</h1>",
    ]
    audit_state = "OK" if outcome.audit_ok else "BROKEN"
    parts.append(
        "<div class='cards'>"
        f"<div class='card'>promotions<b class='promote'>{outcome.promotions}</b></div>"
        f"<div class='card'>automatic rollbacks<b class='rollback'>{outcome.rollbacks}</b></div>"
        f"<div class='card'>monitor alerts<b class='alert'>{len(outcome.alerts)}</b></div>"
        f"<div class='card'>audit chain<b class='{'ok' if outcome.audit_ok else 'fail'}'>"
        f"{audit_state}</b>{outcome.audit_checked} entries</div></div>"
    )
    parts.append("<h2>Timeline</h2>")
    parts.append(
        _table(
            ["t (s)", "event"],
            [(round(e.at, 1), e.text) for e in outcome.timeline],
            [e.kind for e in outcome.timeline],
        )
    )
    parts.append("<h2>Rollouts</h2>")
    for run in outcome.rollouts:
        parts.append(
            f"<h3>v{escape(run.version)} ({escape(run.label)}): "
            f"<span class='{'promote' if run.state == 'promoted' else 'rollback'}'>"
            f"{escape(run.state)}</span> after {run.seconds:.1f} s</h3>"
            f"<p>steps: {escape(' → '.join(run.steps))}; rows served per variant: "
            f"{_cell(run.traffic)}</p><p>{escape(run.reason)}</p>"
            "<p>Last gate evaluation:</p>" + _checks(run.gate)
        )
    parts.append("<h2>Monitor alerts</h2>")
    if not outcome.alerts:
        parts.append("<p class='muted'>none</p>")
    for alert in outcome.alerts:
        parts.append(
            f"<h3 class='alert'>{escape(str(alert.get('monitor')))}</h3>"
            f"<p>{escape(str(alert.get('reason')))}</p>"
        )
        columns = (alert.get("detail") or {}).get("columns") or {}
        if columns:
            rows = [
                (
                    n,
                    c.get("method"),
                    c.get("statistic"),
                    c.get("p_value"),
                    c.get("effect"),
                    c.get("threshold"),
                    "drifted" if c.get("drifted") else "stable",
                )
                for n, c in columns.items()
            ]
            classes = ["alert" if c.get("drifted") else "" for c in columns.values()]
            parts.append(
                _table(
                    [
                        "column",
                        "method",
                        "statistic",
                        "p-value",
                        "effect",
                        "minimum effect",
                        "verdict",
                    ],
                    rows,
                    classes,
                )
            )
    parts.append(
        f"<p>Webhook deliveries received: {outcome.webhook_deliveries} (signatures "
        f"{'valid' if outcome.webhook_signatures_ok else 'not all valid'}).</p>"
    )
    parts.append("<h2>Audit log</h2>")
    rows = [
        (e.seq, _when(e.at), e.actor, e.action, e.decision, e.reason[:300], e.hash[:12])
        for e in audit_entries
    ]
    parts.append(
        _table(["seq", "time (UTC)", "actor", "action", "decision", "reason", "hash"], rows)
    )
    parts.append("</body></html>")
    path.write_text("\n".join(parts), encoding="utf-8")
    data = {
        "promotions": outcome.promotions,
        "rollbacks": outcome.rollbacks,
        "audit": {
            "ok": outcome.audit_ok,
            "checked": outcome.audit_checked,
            "problem": outcome.audit_problem,
        },
        "rollouts": [
            {
                "version": r.version,
                "label": r.label,
                "state": r.state,
                "reason": r.reason,
                "seconds": r.seconds,
                "steps": r.steps,
                "traffic": r.traffic,
                "gate": r.gate,
            }
            for r in outcome.rollouts
        ],
        "alerts": outcome.alerts,
        "webhook_deliveries": outcome.webhook_deliveries,
        "timeline": [{"at": e.at, "text": e.text, "kind": e.kind} for e in outcome.timeline],
    }
    path.with_suffix(".json").write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    return path
