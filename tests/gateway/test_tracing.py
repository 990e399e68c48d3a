"""OpenTelemetry: a span per model call when configured, nothing at all by default."""

from __future__ import annotations

import importlib.util

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from accuguard.errors import ConfigError
from accuguard.gateway.config import TracingConfig
from accuguard.gateway.tracing import SPAN_NAME, Tracing, make_tracing


def test_a_model_call_gets_a_span_with_model_version_and_batch_size():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing = Tracing(provider.get_tracer("test"), provider.shutdown)

    def model(rows):
        return [len(rows)]

    traced = tracing.wrap(model, "fraud", "3")
    assert traced([{"a": 1}, {"a": 2}]) == [2]
    (span,) = exporter.get_finished_spans()
    assert span.name == SPAN_NAME
    assert dict(span.attributes) == {
        "accuguard.model": "fraud",
        "accuguard.model_version": "3",
        "accuguard.batch_size": 2,
    }
    tracing.shutdown()


def test_tracing_is_off_by_default_and_wraps_nothing():
    tracing = make_tracing(TracingConfig())
    assert not tracing.enabled

    def model(rows):
        return rows

    assert tracing.wrap(model, "m", "1") is model


def test_console_exporter_is_available_without_extra_packages():
    tracing = make_tracing(TracingConfig(exporter="console"))
    assert tracing.enabled
    tracing.shutdown()


def _has_otlp() -> bool:
    try:
        return importlib.util.find_spec("opentelemetry.exporter.otlp") is not None
    except ModuleNotFoundError:
        return False


@pytest.mark.skipif(_has_otlp(), reason="the OTLP exporter is installed here")
def test_otlp_without_its_package_says_what_to_install():
    with pytest.raises(ConfigError, match="pip install opentelemetry-exporter-otlp-proto-http"):
        make_tracing(TracingConfig(exporter="otlp"))
