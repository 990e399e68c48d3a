"""Shadow challengers: the same rows, after the champion answered, off the hot path.

The app calls :meth:`ShadowRunner.mirror` once the response has been sent. Each shadow
call is an asyncio task that submits the rows to the shadow's own micro-batcher (its
own worker thread) with the shadow's timeout. Whatever the shadow does (raise, hang,
sleep) is caught, counted and logged as a prediction with ``error`` set: it never
reaches the champion's response, which is already on the wire.

Bounded work: when a shadow model already has ``max_in_flight`` requests unfinished
(queued, running, or stuck in a call that hangs; counted by its batcher, not by our
timeout), further calls to it are dropped and counted (``accuguard_shadow_dropped``),
never queued without bound.

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
from accuguard.gateway.state import Variant
from accuguard.store.records import EventSink, PredictionRecord

log = logging.getLogger("accuguard.gateway")


class ShadowRunner:
    """Runs shadow calls as background tasks, bounded per shadow model."""

    def __init__(self, metrics: GatewayMetrics, sink: EventSink, max_in_flight: int = 256) -> None:
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be >= 1, got {max_in_flight!r}")
        self._metrics = metrics
        self._sink = sink
        self.max_in_flight = max_in_flight
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def in_flight(self) -> int:
        """Shadow tasks not finished (each ends at its timeout at the latest)."""
        return len(self._tasks)

    def mirror(
        self,
        deployment: str,
        shadows: Sequence[Variant],
        rows: list[dict[str, Any]],
        row_ids: list[str],
        champion_labels: list[Any] | None,
        unit_hash: str,
    ) -> None:
        """Start one background call per shadow (or count it dropped); returns at once."""
        loop = asyncio.get_running_loop()
        for shadow in shadows:
            if shadow.model.batcher.pending >= self.max_in_flight:
                self._metrics.shadow_dropped.labels(deployment, shadow.name).inc()
                continue
            task = loop.create_task(
                self._call(deployment, shadow, rows, row_ids, champion_labels, unit_hash)
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _call(
        self,
        deployment: str,
        shadow: Variant,
        rows: list[dict[str, Any]],
        row_ids: list[str],
        champion_labels: list[Any] | None,
        unit_hash: str,
    ) -> None:
        t0 = time.perf_counter()
        labels: list[Any] = [None] * len(rows)
        scores: list[float | None] | None = None
        error: str | None = None
        try:
            async with asyncio.timeout(shadow.timeout_s):
                out = await shadow.model.batcher.submit(rows)
            labels = out.labels
            scores = list(out.scores) if out.scores is not None else None
        except TimeoutError:
            error = f"timeout after {shadow.timeout_s * 1000:g} ms"
            self._metrics.shadow_errors.labels(deployment, shadow.name, "timeout").inc()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
            self._metrics.shadow_errors.labels(deployment, shadow.name, "error").inc()
            log.debug("shadow %s/%s failed: %s", deployment, shadow.name, error)
        latency_ms = (time.perf_counter() - t0) * 1000
        if error is None and champion_labels is not None:
            differ = sum(1 for a, b in zip(labels, champion_labels, strict=True) if a != b)
            self._metrics.shadow_compared(
                deployment, shadow.name, shadow.version, len(rows), differ
            )
        now = time.time()
        self._sink.submit_predictions(
            [
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
            ]
        )

    async def drain(self, timeout: float) -> None:
        """Wait for running shadow calls (at most ``timeout`` s), then cancel the rest."""
        tasks = set(self._tasks)
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=1.0)
