"""OpenTelemetry set-up, JSON logs with trace ids, and W3C trace context through NATS headers."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping

from opentelemetry import context, metrics, propagate, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

_instrumented: set[str] = set()


def setup(service_name: str) -> None:
    """Export traces and metrics (dudao.metrics) over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set, and instrument
    the drivers.

    Without an endpoint no SDK provider is installed, so spans and measurements cost next to nothing; the W3C
    context still passes through. A provider already installed (by a test, say) is kept, so
    spans from every part of one process land in one place.
    """
    exporting = bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))
    resource = Resource.create({"service.name": f"dudao-{service_name}"})
    if exporting and not isinstance(trace.get_tracer_provider(), TracerProvider):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider = TracerProvider(resource=resource)
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(provider)
    metering = exporting and os.environ.get("OTEL_METRICS_EXPORTER", "otlp") != "none"  # Jaeger takes traces only
    if metering and not isinstance(metrics.get_meter_provider(), MeterProvider):
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=[PeriodicExportingMetricReader(OTLPMetricExporter())]))
    if "drivers" not in _instrumented:
        from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
        from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

        PsycopgInstrumentor().instrument(enable_commenter=False, skip_dep_check=True)
        AsyncPGInstrumentor().instrument(skip_dep_check=True)
        _instrumented.add("drivers")


def without_query_values(target: str) -> str:
    """A URL or path with each query parameter's value starred out: `?q=李四&first=20` -> `?q=*&first=*`. A query may
    carry a name or a number someone searched for; logs and traces keep which parameters were used, never their values."""
    path, mark, query = target.partition("?")
    if not mark:
        return target
    return f"{path}?" + "&".join(f"{part.partition('=')[0]}=*" for part in query.split("&") if part)


_URL_ATTRIBUTES = ("http.url", "http.target", "url.full", "url.query")


def _request_hook(span: trace.Span, scope: dict) -> None:
    """The instrumentation records the full URL; the span keeps it without the query's values."""
    if span.is_recording() and scope.get("query_string"):
        for name in _URL_ATTRIBUTES:
            value = getattr(span, "attributes", {}).get(name)
            if isinstance(value, str):
                span.set_attribute(name, without_query_values(value) if name != "url.query" else without_query_values(f"?{value}")[1:])


class QueryValuesHidden(logging.Filter):
    """uvicorn's access log line without the query's values (its third argument is the path with the query)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 3 and isinstance(record.args[2], str):
            record.args = (*record.args[:2], without_query_values(record.args[2]), *record.args[3:])
        return True


logging.getLogger("uvicorn.access").addFilter(QueryValuesHidden())


def instrument_app(app) -> None:
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz", server_request_hook=_request_hook)


def tracer(name: str = "dudao") -> trace.Tracer:
    return trace.get_tracer(name)


def current_trace_headers() -> dict[str, str]:
    """The current span's W3C context as `traceparent`/`tracestate` entries."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def context_from(carrier: Mapping[str, str] | None) -> context.Context:
    """The trace context carried by NATS headers or an event's envelope."""
    return propagate.extract(dict(carrier or {}))


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line, with the current trace and span ids."""

    def format(self, record: logging.LogRecord) -> str:
        span = trace.get_current_span().get_span_context()
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if span.is_valid:
            entry["trace_id"] = format(span.trace_id, "032x")
            entry["span_id"] = format(span.span_id, "016x")
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level or os.environ.get("DUDAO_LOG_LEVEL", "INFO"))
