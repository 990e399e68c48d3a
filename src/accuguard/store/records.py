"""The event log's records: what the gateway hands to the store, and the sink contract.

A prediction is keyed by its ``request_id`` (idempotent: writing it twice keeps one
row). Unit ids never reach the store in clear: ``unit_hash`` is a salted HMAC of the
unit id (:mod:`accuguard.privacy`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class PredictionRecord:
    """One scored row served to a caller (or mirrored to a shadow)."""

    request_id: str  # unique per row: "<request id>" or "<request id>:<row index>"
    deployment: str
    variant: str  # "champion" or the challenger's name
    mode: str  # "champion" | "canary" | "ab" | "shadow"
    model_version: str
    unit_hash: str
    features: dict[str, Any]
    output: Any  # label or value (JSON-serialisable)
    score: float | None
    latency_ms: float
    created_at: float  # unix seconds
    error: str | None = None  # set when a challenger failed (served by the champion instead)


@dataclass(frozen=True)
class FeedbackRecord:
    """A ground-truth label for a request, possibly days later."""

    request_id: str
    label: Any
    created_at: float


@dataclass(frozen=True)
class BusinessEventRecord:
    """A business event of a unit: a click, a conversion, revenue."""

    event_id: str  # idempotency key (client-given or generated)
    deployment: str | None
    unit_hash: str
    name: str
    value: float
    created_at: float


class EventSink(Protocol):
    """Where the gateway sends events. ``submit_*`` never block the request path."""

    def submit_predictions(self, records: list[PredictionRecord]) -> None: ...

    def submit_feedback(self, records: list[FeedbackRecord]) -> None: ...

    def submit_events(self, records: list[BusinessEventRecord]) -> None: ...

    def stats(self) -> dict[str, float]:
        """queue_depth, spool_bytes, spooling (0/1), written, spooled, replayed, failed_batches."""
        ...

    def ready(self) -> bool:
        """True when the store is reachable or the spool is writable."""
        ...

    def flush(self, timeout: float = 10.0) -> bool:
        """Write everything queued so far (to the store or the spool); True if done in time."""
        ...

    def close(self, timeout: float = 30.0) -> None:
        """Stop accepting, drain the queue, stop the background thread."""
        ...
