"""OpenTelemetry traces: one span per model call, exported only when configured.

``tracing.exporter`` in the config: ``none`` (default: a no-op tracer, nothing is
recorded or sent), ``console`` (spans printed to stdout) or ``otlp`` (to
``tracing.otlp_endpoint`` or the ``OTEL_EXPORTER_OTLP_*`` variables; needs the
``opentelemetry-exporter-otlp-proto-http`` package). The gateway uses a tracer
provider of its own and never touches the global one.

A model-call span is named ``accuguard.model.predict`` and carries
``accuguard.model``, ``accuguard.model_version`` and ``accuguard.batch_size``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from opentelemetry import trace

from accuguard.errors import ConfigError
from accuguard.gateway.config import TracingConfig

T = TypeVar("T")
SPAN_NAME = "accuguard.model.predict"


class Tracing:
    """A tracer and how to shut it down (flushes pending spans)."""

    def __init__(self, tracer: trace.Tracer, shutdown: Callable[[], None] | None = None) -> None:
        self.tracer = tracer
        self._shutdown = shutdown

    @property
    def enabled(self) -> bool:
        """False for the no-op tracer."""
        return not isinstance(self.tracer, trace.NoOpTracer)

    def shutdown(self) -> None:
        """Flush and stop the exporter (no-op when tracing is off)."""
        if self._shutdown is not None:
            self._shutdown()

    def wrap(
        self, fn: Callable[[list[Any]], T], model: str, version: str
    ) -> Callable[[list[Any]], T]:
        """``fn`` inside a model-call span (``fn`` itself when tracing is off)."""
        if not self.enabled:
            return fn
        tracer = self.tracer

        def traced(rows: list[Any]) -> T:
            attributes: dict[str, str | int] = {
                "accuguard.model": model,
                "accuguard.model_version": version,
                "accuguard.batch_size": len(rows),
            }
            with tracer.start_as_current_span(SPAN_NAME, attributes=attributes):
                return fn(rows)

        return traced


def make_tracing(config: TracingConfig) -> Tracing:
    """The tracer ``config`` asks for; ``none`` gives a no-op tracer."""
    if config.exporter == "none":
        return Tracing(trace.NoOpTracer())
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SimpleSpanProcessor,
        SpanExporter,
    )

    provider = TracerProvider(resource=Resource.create({"service.name": config.service_name}))
    exporter: SpanExporter
    if config.exporter == "console":
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    else:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:
            raise ConfigError(
                "tracing.exporter: 'otlp' needs the OTLP exporter; install it with "
                "`pip install opentelemetry-exporter-otlp-proto-http`"
            ) from None
        exporter = (
            OTLPSpanExporter(endpoint=config.otlp_endpoint)
            if config.otlp_endpoint
            else (OTLPSpanExporter())
        )
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return Tracing(provider.get_tracer("accuguard.gateway"), provider.shutdown)
