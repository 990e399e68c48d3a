"""Shadow challengers: the same rows, after the champion answered, off the hot path.

The app calls :meth:`ShadowRunner.mirror` once the response has been sent. ``mirror``
only appends the request to the shadow's buffer and returns. Every ``flush_ms`` (or
at ``flush_rows`` buffered rows) one asyncio task takes the buffer, queues each
request on the shadow's own micro-batcher (its own worker thread) and waits for them
with the shadow's timeout. So the shadow costs the event loop one task per flush, not
one per request, and its model gets large batches. Each request stays its own batcher
item: an error reaches only the request that causes it. Whatever the shadow does
(raise, hang, sleep) is caught, counted and logged as a prediction with ``error`` set:
it never reaches the champion's response, which is already on the wire.

Bounded work: when a shadow model already has ``max_in_flight`` requests unfinished
(buffered, queued, running, or stuck in a call that hangs; counted by its batcher,
not by our timeout), further calls to it are dropped and counted
(``accuguard_shadow_dropped``), never queued without bound.

Disagreement: for rows the champion answered, the rows where the shadow's label
differs are counted (``accuguard_shadow_disagreements`` / ``accuguard_shadow_rows``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

from accuguard.gateway.metrics import GatewayMetrics
from accuguard.gateway.models import BatchOutput
from accuguard.gateway.state import Variant
from accuguard.store.records import EventSink, PredictionRecord

log = logging.getLogger("accuguard.gateway")

#: (rows, row ids, champion labels or None, unit hash, when mirrored: perf_counter)
_Entry = tuple[list[dict[str, Any]], list[str], list[Any] | None, str, float]


class _Buffer:
    """Requests mirrored to one shadow of one deployment, waiting for the next flush."""

    __slots__ = ("deployment", "entries", "rows", "shadow", "timer")

    def __init__(self, deployment: str, shadow: Variant) -> None:
        self.deployment = deployment
        self.shadow = shadow
        self.entries: list[_Entry] = []
        self.rows = 0
        self.timer: asyncio.TimerHandle | None = None


class ShadowRunner:
    """Runs shadow calls in background tasks, coalesced and bounded per shadow model."""

    def __init__(
        self,
        metrics: GatewayMetrics,
        sink: EventSink,
        max_in_flight: int = 256,
        *,
        flush_ms: float = 10.0,
        flush_rows: int = 64,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be >= 1, got {max_in_flight!r}")
        self._metrics = metrics
        self._sink = sink
        self.max_in_flight = max_in_flight
        self._flush_s = flush_ms / 1000.0
        self._flush_rows = flush_rows
        self._tasks: set[asyncio.Task[None]] = set()
        self._buffers: dict[tuple[str, Variant], _Buffer] = {}

    @property
    def in_flight(self) -> int:
        """Shadow requests buffered plus flush tasks not finished."""
        return len(self._tasks) + sum(len(b.entries) for b in self._buffers.values())

    def mirror(
        self,
        deployment: str,
        shadows: Sequence[Variant],
        rows: list[dict[str, Any]],
        row_ids: list[str],
        champion_labels: list[Any] | None,
        unit_hash: str,
    ) -> None:
        """Buffer one call per shadow (or count it dropped); returns at once."""
        now = time.perf_counter()
        for shadow in shadows:
            key = (deployment, shadow)
            buffer = self._buffers.get(key)
            buffered = len(buffer.entries) if buffer is not None else 0
            if shadow.model.batcher.pending + buffered >= self.max_in_flight:
                self._metrics.shadow_dropped.labels(deployment, shadow.name).inc()
                continue
            if buffer is None:
                buffer = self._buffers[key] = _Buffer(deployment, shadow)
            buffer.entries.append((rows, row_ids, champion_labels, unit_hash, now))
            buffer.rows += len(rows)
            if buffer.rows >= self._flush_rows:
                self._flush(key)
            elif buffer.timer is None:
                loop = asyncio.get_running_loop()
                buffer.timer = loop.call_later(self._flush_s, self._flush, key)

    def _flush(self, key: tuple[str, Variant]) -> None:
        buffer = self._buffers.pop(key, None)
        if buffer is None:
            return
        if buffer.timer is not None:
            buffer.timer.cancel()
        batcher = buffer.shadow.model.batcher
        outcomes: list[asyncio.Future[BatchOutput] | BaseException] = []
        for entry in buffer.entries:  # queued now, so the batcher counts them at once
            try:
                outcomes.append(batcher.enqueue(entry[0]))
            except Exception as exc:  # closed by a reload, or overloaded
                outcomes.append(exc)
        task = asyncio.get_running_loop().create_task(
            self._call(buffer.deployment, buffer.shadow, buffer.entries, outcomes)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _call(
        self,
        deployment: str,
        shadow: Variant,
        entries: list[_Entry],
        outcomes: list[asyncio.Future[BatchOutput] | BaseException],
    ) -> None:
        waiting = [f for f in outcomes if isinstance(f, asyncio.Future)]
        if waiting:
            try:
                _, late = await asyncio.wait(waiting, timeout=shadow.timeout_s)
            except asyncio.CancelledError:
                for future in waiting:
                    future.cancel()
                raise
            for future in late:
                future.set_exception(TimeoutError())  # the batcher skips it if not started
        records: list[PredictionRecord] = []
        compared = differ = timeouts = errors = 0
        now = time.time()
        done = time.perf_counter()
        for entry, outcome in zip(entries, outcomes, strict=True):
            rows, row_ids, champion_labels, unit_hash, t0 = entry
            labels: list[Any] = [None] * len(rows)
            scores: list[float] | None = None
            error: str | None = None
            exc = outcome if isinstance(outcome, BaseException) else outcome.exception()
            if exc is None:
                out = outcome.result()  # type: ignore[union-attr]
                labels = out.labels
                scores = out.scores
                if champion_labels is not None:
                    compared += len(rows)
                    differ += sum(1 for a, b in zip(labels, champion_labels, strict=True) if a != b)
            elif isinstance(exc, TimeoutError):
                error = f"timeout after {shadow.timeout_s * 1000:g} ms"
                timeouts += 1
            else:
                error = f"{type(exc).__name__}: {exc}"[:500]
                errors += 1
                log.debug("shadow %s/%s failed: %s", deployment, shadow.name, error)
            latency_ms = (done - t0) * 1000
            records.extend(
                PredictionRecord(
                    request_id=rid,
                    deployment=deployment,
                    variant=shadow.name,
                    mode="shadow",
                    model_version=shadow.version,
                    unit_hash=unit_hash,
                    features=row,
                    output=label,
                    score=None if scores is None else scores[i],
                    latency_ms=latency_ms,
                    created_at=now,
                    error=error,
                )
                for i, (rid, row, label) in enumerate(zip(row_ids, rows, labels, strict=True))
            )
        if compared:
            self._metrics.shadow_compared(deployment, shadow.name, shadow.version, compared, differ)
        if timeouts:
            self._metrics.shadow_errors.labels(deployment, shadow.name, "timeout").inc(timeouts)
        if errors:
            self._metrics.shadow_errors.labels(deployment, shadow.name, "error").inc(errors)
        self._sink.submit_predictions(records)

    async def drain(self, timeout: float) -> None:
        """Flush the buffers, wait for running shadow calls (at most ``timeout`` s), then
        cancel the rest."""
        for key in list(self._buffers):
            self._flush(key)
        tasks = set(self._tasks)
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=1.0)
