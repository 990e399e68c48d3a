"""``accuguard rollout``: start, watch and steer rollouts through the gateway's admin API.

Every command talks HTTP to a running gateway (``--url``, env ``ACCUGUARD_URL``,
default ``http://127.0.0.1:8080``, the port of ``accuguard serve``) with a bearer
token (``--token``, env ``ACCUGUARD_TOKEN``; ``accuguard token create``). Reading
needs a viewer token, acting an operator token. Errors (bad plan, no such
deployment, 401/403, gateway unreachable) print one line and exit 2.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from accuguard.errors import AccuguardError

DEFAULT_URL = "http://127.0.0.1:8080"


class ApiError(AccuguardError):
    """The gateway could not be reached or refused the call (the CLI exits 2)."""


out = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
app = typer.Typer(
    help="Roll a challenger out: shadow, canary steps, promotion; pause, resume, roll back.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
Url = Annotated[str, typer.Option("--url", envvar="ACCUGUARD_URL", help="The gateway's base URL.")]
Token = Annotated[
    str | None,
    typer.Option("--token", envvar="ACCUGUARD_TOKEN", help="Bearer token (viewer or operator)."),
]
Reason = Annotated[str, typer.Option("--reason", help="Why (kept in the audit log).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the API's JSON answer.")]


def call(url: str, token: str | None, method: str, path: str, body: Any = None) -> Any:
    """One API call; a :class:`ApiError` (exit 2) for any failure, with the reason."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with httpx.Client(base_url=url.rstrip("/"), timeout=60.0) as client:
            response = client.request(method, path, json=body, headers=headers)
    except httpx.HTTPError as exc:
        raise ApiError(f"cannot reach the gateway at {url}: {exc}") from None
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if response.status_code >= 400:
        error = payload.get("error") if isinstance(payload, dict) else None
        message = error.get("message") if isinstance(error, dict) else response.text[:300]
        hint = " (set --token or ACCUGUARD_TOKEN)" if response.status_code == 401 else ""
        raise ApiError(f"{method} {path}: HTTP {response.status_code}: {message}{hint}")
    return payload


def _post(url: str, token: str | None, deployment: str, action: str, body: Any) -> Any:
    return call(url, token, "POST", f"/v1/rollouts/{deployment}/{action}", body)


@app.command("start")
def start_command(
    deployment: Annotated[str, typer.Argument(help="The deployment (e.g. fraud).")],
    challenger: Annotated[
        str, typer.Option("--challenger", help="The challenger version, e.g. models:/fraud/7.")
    ],
    plan: Annotated[Path, typer.Option("--plan", help="The rollout plan (YAML).")],
    url: Url = DEFAULT_URL,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Start rolling CHALLENGER out on DEPLOYMENT following PLAN (checked here first)."""
    from accuguard.rollout.plan import load_plan

    checked = load_plan(plan)  # a ConfigError naming the file and field: exit 2
    body = {"challenger": challenger, "plan": checked.model_dump(mode="json")}
    _show(_post(url, token, deployment, "start", body), as_json)


@app.command("status")
def status_command(
    deployment: Annotated[
        str | None, typer.Argument(help="The deployment; none: list every rollout.")
    ] = None,
    url: Url = DEFAULT_URL,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Step, evidence so far, gate results and the next action."""
    if deployment is None:
        found = call(url, token, "GET", "/v1/rollouts")
        if as_json:
            out.print_json(json.dumps(found))
            return
        _list(found.get("rollouts", []))
        return
    _show(call(url, token, "GET", f"/v1/rollouts/{deployment}"), as_json)


def _action(action: str, doc: str) -> None:
    def command(
        deployment: Annotated[str, typer.Argument(help="The deployment.")],
        reason: Reason = "",
        url: Url = DEFAULT_URL,
        token: Token = None,
        as_json: AsJson = False,
    ) -> None:
        answer = _post(url, token, deployment, action, {"reason": reason} if reason else {})
        _show(answer, as_json)

    command.__doc__ = doc
    app.command(action)(command)


_action("pause", "Pause: traffic stays as it is, gates stop moving the rollout.")
_action("resume", "Resume a paused rollout.")
_action(
    "rollback",
    "Roll back now (traffic to zero); after a promotion, move the champion back to previous.",
)


@app.command("promote")
def promote_command(
    deployment: Annotated[str, typer.Argument(help="The deployment.")],
    reason: Reason = "",
    force: Annotated[bool, typer.Option("--force", help="Override the plan's policy.")] = False,
    url: Url = DEFAULT_URL,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Promote now: the champion alias moves to the challenger."""
    body: dict[str, Any] = {"reason": reason, "force": force}
    _show(_post(url, token, deployment, "promote", body), as_json)


@app.command("weights")
def weights_command(
    deployment: Annotated[str, typer.Argument(help="The deployment.")],
    weight: Annotated[float, typer.Option("--weight", help="Share in [0, 1].", min=0, max=1)],
    reason: Reason = "",
    url: Url = DEFAULT_URL,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Override the current step's weight (canary share, or shadow mirroring share)."""
    body = {"weight": weight, "reason": reason}
    _show(_post(url, token, deployment, "weights", body), as_json)


# -- printing ----------------------------------------------------------------------


def _show(answer: Any, as_json: bool) -> None:
    if as_json:
        out.print_json(json.dumps(answer))
        return
    if isinstance(answer, dict) and "rolled_back_to_previous" in answer:
        done = answer["rolled_back_to_previous"]
        out.print(
            f"[bold]{done['model']}[/]: champion is version {done['champion']} again "
            f"(version {done['demoted']} demoted)"
        )
        return
    print_status(answer)


def _minutes(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds / 60:.1f} min" if seconds >= 90 else f"{seconds:.0f} s"


def print_status(r: dict[str, Any], console: Console = out) -> None:
    """A rollout's status as the CLI prints it."""
    step, traffic = r.get("step") or {}, r.get("traffic")
    console.print(
        f"[bold]{r['deployment']}[/]: rollout {r['id']} of {r['variant']} "
        f"(models:/{r['model']}/{r['challenger_version']}) against champion "
        f"{r['champion_version']}: [bold]{r['state']}[/]"
    )
    where = f"step {step.get('index', 0) + 1}/{step.get('of')} {step.get('name')!r}"
    if traffic:
        share = "of units" if traffic["mode"] == "canary" else "mirrored"
        where += f", {traffic['mode']} ({traffic['weight']:.0%} {share})"
    if step.get("elapsed_s") is not None:
        where += f", {_minutes(step['elapsed_s'])} in step"
    console.print(where)
    steps = Table("", "step", "mode", "weight", box=None, pad_edge=False)
    for i, s in enumerate(r.get("steps", [])):
        mark = "→" if i == step.get("index") and r["state"] in ("running", "paused") else ""
        weight = "" if s.get("mode") == "shadow" else f"{s.get('weight', 0):.0%}"
        steps.add_row(mark, str(s.get("name")), str(s.get("mode")), weight)
    console.print(steps)
    ev = r.get("evidence") or {}
    if ev:
        chal = ev.get("challenger") or {}
        rate = chal.get("error_rate")
        console.print(
            f"evidence: {ev.get('requests', 0)} challenger requests, {ev.get('labels', 0)} labels, "
            f"{chal.get('errors', 0)} errors"
            + (f" ({rate:.1%})" if isinstance(rate, int | float) else "")
        )
    gate = r.get("gate") or {}
    if gate:
        status = str(gate.get("status"))
        why = str((gate.get("gate") or {}).get("reason", ""))
        why = why.removeprefix(f"{status}: ").removeprefix(f"{status}")
        console.print(f"gate: [bold]{status}[/] {why}".rstrip())
        checks = Table("check", "status", "value", "threshold", "interval", "detail", box=None)
        for c in (gate.get("gate") or {}).get("checks", []):
            lo, hi = c.get("ci_low"), c.get("ci_high")
            interval = f"{lo:.4g} .. {hi:.4g}" if lo is not None and hi is not None else ""
            checks.add_row(
                str(c.get("name")),
                str(c.get("status")),
                _num(c.get("value")),
                _num(c.get("threshold")),
                interval,
                str(c.get("detail", "")),
            )
        console.print(checks)
        policy = gate.get("policy")
        if policy:
            console.print(f"policy: {policy.get('status')} {policy.get('reason', '')}")
    checked = r.get("checked_at")
    if checked:
        console.print(
            f"last checked {_minutes(max(0.0, time.time() - checked))} ago; {r.get('reason', '')}"
        )
    console.print(f"next: {r.get('next', '')}")


def _num(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, int | float) else ""


def _list(rollouts: list[dict[str, Any]]) -> None:
    if not rollouts:
        out.print("no rollouts")
        return
    table = Table("deployment", "id", "challenger", "state", "step", "next")
    for r in rollouts:
        step = r.get("step") or {}
        table.add_row(
            r["deployment"],
            str(r["id"]),
            r["variant"],
            r["state"],
            f"{step.get('index', 0) + 1}/{step.get('of')} {step.get('name')}",
            r.get("next", ""),
        )
    out.print(table)
