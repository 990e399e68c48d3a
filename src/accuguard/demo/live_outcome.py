"""What the live demo did: the timeline, each rollout's end, the alerts, the audit verdict."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console


@dataclass
class Event:
    """One line of the timeline."""

    at: float
    text: str
    kind: str = "info"  # info | promote | rollback | alert | ok | fail


@dataclass
class RolloutRun:
    """How one rollout ended."""

    version: str
    label: str
    state: str
    reason: str
    seconds: float
    steps: list[str] = field(default_factory=list)
    traffic: dict[str, int] = field(default_factory=dict)
    gate: dict[str, Any] | None = None


@dataclass
class LiveOutcome:
    """What the live demo did; the test asserts on it."""

    rollouts: list[RolloutRun] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    webhook_deliveries: int = 0
    webhook_signatures_ok: bool = False
    audit_ok: bool = False
    audit_checked: int = 0
    audit_problem: str | None = None
    report: Path | None = None
    timeline: list[Event] = field(default_factory=list)

    @property
    def promotions(self) -> int:
        """Rollouts that ended promoted."""
        return sum(1 for r in self.rollouts if r.state == "promoted")

    @property
    def rollbacks(self) -> int:
        """Rollouts that ended rolled back."""
        return sum(1 for r in self.rollouts if r.state == "rolled_back")


class Timeline:
    """Prints timestamped lines and keeps them for the report."""

    def __init__(self, console: Console, outcome: LiveOutcome) -> None:
        self.console = console
        self.outcome = outcome
        self.t0 = time.monotonic()

    def __call__(self, text: str, kind: str = "info") -> None:
        at = time.monotonic() - self.t0
        self.outcome.timeline.append(Event(at, text, kind))
        style = {
            "promote": "green",
            "ok": "green",
            "rollback": "red",
            "fail": "red",
            "alert": "yellow",
        }.get(kind, "")
        shown = f"[{style}]{text}[/]" if style else text
        self.console.print(f"[dim]{at:6.1f}s[/] {shown}")


def short(text: str, limit: int = 110) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
