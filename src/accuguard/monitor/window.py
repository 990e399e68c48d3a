"""A sliding window of one variant's traffic from the event log, with its labels.

``read_window`` selects the variant's predictions with ``start <= created_at < end``
(the ``(deployment, variant, created_at)`` index), the most recent ``max_rows`` of them,
left-joined with ``feedback`` on ``request_id``: a row without a label yet has
``label = None``. Only labels that arrived before ``end`` count, so a window read again
later gives the same answer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.engine import Engine

from accuguard.store.models import Feedback, Prediction

__all__ = ["Window", "read_window", "same_label"]


@dataclass(frozen=True)
class Window:
    """The rows of one window, oldest first; ``labels[i]`` is ``None`` when unlabelled."""

    deployment: str
    variant: str
    start: float
    end: float
    features: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[Any] = field(default_factory=list)
    scores: list[float | None] = field(default_factory=list)
    labels: list[Any] = field(default_factory=list)
    model_versions: list[str] = field(default_factory=list)
    truncated: bool = False  # more rows than max_rows: only the most recent were read

    @property
    def rows(self) -> int:
        """Number of predictions in the window."""
        return len(self.features)

    @property
    def labelled(self) -> int:
        """Number of predictions with a label."""
        return sum(1 for label in self.labels if label is not None)

    def finite_scores(self) -> list[float]:
        """The scores that are finite numbers."""
        return [float(s) for s in self.scores if s is not None and math.isfinite(float(s))]

    def describe(self) -> dict[str, Any]:
        """The window as the audit log and the hooks show it."""
        versions = sorted(set(self.model_versions))
        return {
            "deployment": self.deployment,
            "variant": self.variant,
            "start": self.start,
            "end": self.end,
            "rows": self.rows,
            "labelled": self.labelled,
            "model_versions": versions,
            "truncated": self.truncated,
        }


def read_window(
    engine: Engine,
    deployment: str,
    start: float,
    end: float,
    *,
    variant: str = "champion",
    max_rows: int = 200_000,
) -> Window:
    """Read ``variant``'s predictions of ``deployment`` in ``[start, end)`` with their labels."""
    if not end > start:
        raise ValueError(f"window end must be after its start; got [{start}, {end})")
    label_join = and_(Feedback.request_id == Prediction.request_id, Feedback.created_at < end)
    query = (
        select(
            Prediction.features,
            Prediction.output,
            Prediction.score,
            Prediction.model_version,
            Feedback.label,
        )
        .outerjoin(Feedback, label_join)
        .where(
            Prediction.deployment == deployment,
            Prediction.variant == variant,
            Prediction.created_at >= start,
            Prediction.created_at < end,
        )
        .order_by(Prediction.created_at.desc())
        .limit(max_rows + 1)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    truncated = len(rows) > max_rows
    rows = list(reversed(rows[:max_rows]))
    return Window(
        deployment=deployment,
        variant=variant,
        start=start,
        end=end,
        features=[r.features if isinstance(r.features, dict) else {} for r in rows],
        outputs=[r.output for r in rows],
        scores=[r.score for r in rows],
        labels=[r.label for r in rows],
        model_versions=[r.model_version for r in rows],
        truncated=truncated,
    )


def _canonical(value: Any) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        text = value.strip()
        lowered = text.lower()
        if lowered in ("true", "false"):
            return "1" if lowered == "true" else "0"
        try:
            number = float(text)
        except ValueError:
            return text
        return str(int(number)) if number.is_integer() else text
    return str(value)


def same_label(a: Any, b: Any) -> bool:
    """Whether two labels are equal across JSON spellings (``1``, ``1.0``, ``True``, ``"1"``).

    >>> same_label(1, True), same_label("1.0", 1), same_label("fraud", "fraud"), same_label(0, 1)
    (True, True, True, False)
    """
    return _canonical(a) == _canonical(b)
