"""Prometheus metrics of one gateway (served at ``/metrics``).

Each gateway app has its own registry, so tests (and several apps in one process)
never share counters. Names and labels:

- ``accuguard_requests_total``, ``accuguard_rows_total`` and the histogram
  ``accuguard_request_latency_seconds``: served predictions per deployment, variant
  and model_version;
- ``accuguard_request_errors_total{deployment, code}``: requests answered with a 4xx
  or 5xx (``code`` is the JSON error code);
- ``accuguard_fallbacks_total{deployment, variant, reason}``: a canary or A/B
  challenger failed and the champion answered;
- ``accuguard_shadow_rows_total``, ``accuguard_shadow_disagreements_total`` (champion
  label != shadow label) and the gauge ``accuguard_shadow_disagreement_ratio`` per
  deployment and shadow; ``accuguard_shadow_errors_total{reason}`` (error, timeout)
  and ``accuguard_shadow_dropped_total`` (too many shadow calls in flight);
- ``accuguard_batch_size`` and ``accuguard_model_latency_seconds`` per model call, by
  model and model_version;
- ``accuguard_event_queue_depth``, ``accuguard_event_spool_bytes`` and
  ``accuguard_event_log{stat}`` (every number of ``sink.stats()``), read at scrape time;
- ``accuguard_model_info{deployment, variant, mode, model, model_version}`` = 1 for
  what serves now, ``accuguard_reloads_total{result}``, ``accuguard_ready`` (evaluated
  at scrape time: 1 when ``/readyz`` would answer 200).

With an event-log database the monitors' and rollouts' gauges join the same registry
(``accuguard_monitor_*``, ``accuguard_rollout_*``: :mod:`accuguard.gateway.quality_metrics`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.002,
    0.005,
    0.01,
    0.02,
    0.05,
    0.1,
    0.2,
    0.5,
    1.0,
    2.0,
    5.0,
    10.0,
)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)


class _SinkCollector(Collector):
    def __init__(self, stats: Callable[[], dict[str, float]]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        try:
            stats = self._stats()
        except Exception:  # a sink that fails to report must not break /metrics
            stats = {}
        depth = GaugeMetricFamily(
            "accuguard_event_queue_depth", "Events waiting in memory for the event log"
        )
        depth.add_metric([], float(stats.get("queue_depth", 0.0)))
        spool = GaugeMetricFamily(
            "accuguard_event_spool_bytes", "Bytes of events spooled to disk, awaiting replay"
        )
        spool.add_metric([], float(stats.get("spool_bytes", 0.0)))
        every = GaugeMetricFamily(
            "accuguard_event_log", "Event-log writer statistics (sink.stats())", labels=["stat"]
        )
        for key, value in sorted(stats.items()):
            every.add_metric([key], float(value))
        yield depth
        yield spool
        yield every


class GatewayMetrics:
    """The gateway's metrics in their own :class:`CollectorRegistry`."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        served = ["deployment", "variant", "model_version"]
        self.requests = Counter(
            "accuguard_requests", "Prediction requests served", served, registry=r
        )
        self.rows = Counter("accuguard_rows", "Rows scored for callers", served, registry=r)
        self.latency = Histogram(
            "accuguard_request_latency_seconds",
            "Prediction latency inside the gateway (validation to response)",
            served,
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.errors = Counter(
            "accuguard_request_errors",
            "Requests answered with an error, by error code",
            ["deployment", "code"],
            registry=r,
        )
        self.fallbacks = Counter(
            "accuguard_fallbacks",
            "Challenger failures answered by the champion instead",
            ["deployment", "variant", "reason"],
            registry=r,
        )
        shadow = ["deployment", "shadow", "model_version"]
        self.shadow_rows = Counter(
            "accuguard_shadow_rows", "Rows scored by shadows", shadow, registry=r
        )
        self.shadow_disagreements = Counter(
            "accuguard_shadow_disagreements",
            "Shadow rows whose label differs from the champion's",
            shadow,
            registry=r,
        )
        self.shadow_disagreement_ratio = Gauge(
            "accuguard_shadow_disagreement_ratio",
            "Disagreeing rows / compared rows since start, per shadow",
            ["deployment", "shadow"],
            registry=r,
        )
        self.shadow_errors = Counter(
            "accuguard_shadow_errors",
            "Shadow calls that failed or timed out (the champion was not affected)",
            ["deployment", "shadow", "reason"],
            registry=r,
        )
        self.shadow_dropped = Counter(
            "accuguard_shadow_dropped",
            "Shadow calls skipped because too many were in flight",
            ["deployment", "shadow"],
            registry=r,
        )
        self.batch_size = Histogram(
            "accuguard_batch_size",
            "Rows per model call",
            ["model", "model_version"],
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        self.model_latency = Histogram(
            "accuguard_model_latency_seconds",
            "Time in the model per batch call",
            ["model", "model_version"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.model_info = Gauge(
            "accuguard_model_info",
            "1 for each model version serving a deployment variant",
            ["deployment", "variant", "mode", "model", "model_version"],
            registry=r,
        )
        self.reloads = Counter(
            "accuguard_reloads", "Registry reloads, by result", ["result"], registry=r
        )
        self.ready = Gauge("accuguard_ready", "1 when /readyz answers 200", registry=r)
        self.feedback = Counter("accuguard_feedback", "Feedback labels accepted", registry=r)
        self.events = Counter("accuguard_business_events", "Business events accepted", registry=r)
        self._served: dict[tuple[str, str, str], tuple[Any, Any, Any]] = {}
        self._shadow_counts: dict[tuple[str, str], list[int]] = {}
        self._shadow_children: dict[tuple[str, str, str], tuple[Any, Any, Any]] = {}

    def watch_sink(self, stats: Callable[[], dict[str, float]]) -> None:
        """Report ``stats()`` (the event sink's) at every scrape."""
        self.registry.register(_SinkCollector(stats))

    def served(
        self, deployment: str, variant: str, version: str, rows: int, seconds: float
    ) -> None:
        """Count one served request of ``rows`` rows that took ``seconds``."""
        key = (deployment, variant, version)
        children = self._served.get(key)
        if children is None:
            children = (
                self.requests.labels(*key),
                self.rows.labels(*key),
                self.latency.labels(*key),
            )
            self._served[key] = children
        children[0].inc()
        children[1].inc(rows)
        children[2].observe(seconds)

    def batch_observer(self, model: str, version: str) -> Callable[[int, float], None]:
        """A callback for the batcher: batch size and model time of each call."""
        size = self.batch_size.labels(model, version)
        latency = self.model_latency.labels(model, version)

        def observe(rows: int, seconds: float) -> None:
            size.observe(rows)
            latency.observe(seconds)

        return observe

    def shadow_compared(
        self, deployment: str, shadow: str, version: str, rows: int, disagreements: int
    ) -> None:
        """Count ``rows`` shadow rows of which ``disagreements`` differ from the champion."""
        key = (deployment, shadow, version)
        children = self._shadow_children.get(key)
        if children is None:  # label lookups are slow: keep the labelled children
            children = self._shadow_children[key] = (
                self.shadow_rows.labels(*key),
                self.shadow_disagreements.labels(*key),
                self.shadow_disagreement_ratio.labels(deployment, shadow),
            )
        children[0].inc(rows)
        children[1].inc(disagreements)
        counts = self._shadow_counts.setdefault((deployment, shadow), [0, 0])
        counts[0] += rows
        counts[1] += disagreements
        if counts[0]:
            children[2].set(counts[1] / counts[0])

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
