"""OpenTelemetry spans for runs, through pydantic-ai's ``Instrumentation`` capability.

``OTEL_EXPORTER``: ``none`` (default; no SDK imported, no spans), ``console`` (spans printed as
JSON to stdout) or ``otlp`` (OTLP/HTTP exporter, configured by the standard ``OTEL_EXPORTER_OTLP_*``
variables; needs ``opentelemetry-exporter-otlp-proto-http`` installed). The tracer provider is
created once per instance.
"""

from __future__ import annotations

import functools
from typing import Any

from shared.errors import ConfigurationError
from shared.settings import get_settings


@functools.cache
def _tracer_provider(exporter: str, service_name: str) -> Any:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if exporter == "console":
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    else:
        import importlib

        try:
            otlp: Any = importlib.import_module("opentelemetry.exporter.otlp.proto.http.trace_exporter")
        except ImportError:
            raise ConfigurationError(
                "OTEL_EXPORTER=otlp needs the opentelemetry-exporter-otlp-proto-http package",
                details={"setting": "OTEL_EXPORTER"},
            ) from None
        exporter_instance: Any = otlp.OTLPSpanExporter()
        provider.add_span_processor(BatchSpanProcessor(exporter_instance))
    return provider


def instrumentation_capabilities() -> list[Any]:
    """``[Instrumentation(...)]`` when an exporter is configured, else ``[]``."""
    settings = get_settings()
    if settings.otel_exporter == "none":
        return []
    from pydantic_ai.capabilities import Instrumentation
    from pydantic_ai.models.instrumented import InstrumentationSettings

    provider = _tracer_provider(settings.otel_exporter, settings.service_name)
    # Prompts and outputs are user data: keep them out of traces.
    return [
        Instrumentation(settings=InstrumentationSettings(tracer_provider=provider, include_content=False))
    ]
