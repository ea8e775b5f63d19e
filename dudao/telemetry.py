"""OpenTelemetry set-up, JSON logs with trace ids, and W3C trace context through NATS headers."""

from __future__ import annotations

import json
import logging
import math
import os
import re
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from opentelemetry import context, metrics, propagate, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import Gauge, Histogram, InMemoryMetricReader, PeriodicExportingMetricReader, Sum
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

_instrumented: set[str] = set()
READER = InMemoryMetricReader()  # what `/metrics` reads, in Prometheus' text format, exported over OTLP or not


def setup(service_name: str) -> None:
    """Trace every request and keep every measurement (dudao.metrics, request latency), exporting them over OTLP when
    OTEL_EXPORTER_OTLP_ENDPOINT is set; instrument the drivers.

    Without an endpoint nothing is recorded, since nothing would read it (decision 036): the spans still get trace
    ids, passed on through NATS (the access log and the audit show them, and an office can quote one from a
    response's `X-Trace-Id`), and `/metrics` serves the measurements. OTEL_TRACES_SAMPLER, when set, decides as
    OpenTelemetry documents it. A provider already installed (by a test, say) is kept, so spans from every part of
    one process land in one place.
    """
    exporting = bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))
    resource = Resource.create({"service.name": f"dudao-{service_name}"})
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(tracer_provider(resource, exporting))
    if not isinstance(metrics.get_meter_provider(), MeterProvider):
        readers: list[Any] = [READER]
        if exporting and os.environ.get("OTEL_METRICS_EXPORTER", "otlp") != "none":  # Jaeger takes traces only
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

            readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
        metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=readers))
    if "drivers" not in _instrumented and records(trace.get_tracer_provider()):  # spans per statement for nobody
        # were a tenth of a catching-up consumer's CPU (decision 036)
        from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
        from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

        PsycopgInstrumentor().instrument(enable_commenter=False, skip_dep_check=True)
        AsyncPGInstrumentor().instrument(skip_dep_check=True)
        _instrumented.add("drivers")


def tracer_provider(resource: Resource, exporting: bool) -> TracerProvider:
    """What `setup` installs: spans exported over OTLP, or (with no endpoint and no OTEL_TRACES_SAMPLER) not recorded
    at all. Recording a consumer's span per event, and the driver's per statement, cost a province's catch-up a
    sixth of its time, for spans that went nowhere (decision 036)."""
    recording = exporting or bool(os.environ.get("OTEL_TRACES_SAMPLER"))
    provider = TracerProvider(resource=resource, sampler=None if recording else ALWAYS_OFF)
    if exporting:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def why(e: BaseException) -> str:
    """An exception as a log line names it: its type and its message (`TimeoutError: ` alone says something; an empty
    message alone said nothing, as in "consumer registry-directory-v3: ; retrying")."""
    message = str(e).strip()
    return f"{type(e).__name__}: {message}" if message else type(e).__name__


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
                span.set_attribute(
                    name, without_query_values(value) if name != "url.query" else without_query_values(f"?{value}")[1:]
                )


class QueryValuesHidden(logging.Filter):
    """uvicorn's access log line without the query's values (its third argument is the path with the query)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 3 and isinstance(record.args[2], str):
            record.args = (*record.args[:2], without_query_values(record.args[2]), *record.args[3:])
        return True


logging.getLogger("uvicorn.access").addFilter(QueryValuesHidden())


def instrument_app(app) -> None:
    """Trace the app's requests, log each in the access log, and serve `/metrics`.

    The ASGI instrumentation names a request's span by its method alone, and the access log, which sees the route
    the app matched, names it by the route's template (`GET /v1/schools/{school_id}`). FastAPI's own instrumentation
    found the template by matching the path against every route before the app matched it again: a sixth of a
    registry request's CPU."""
    from fastapi.responses import PlainTextResponse
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    @app.get("/metrics", include_in_schema=False, response_class=PlainTextResponse)
    def prometheus() -> str:
        return prometheus_text(READER)

    app.add_middleware(AccessLog)  # inside the tracing middleware: it sees the request's span
    app.add_middleware(
        OpenTelemetryMiddleware,
        excluded_urls="healthz,readyz,metrics",
        default_span_details=lambda scope: (scope.get("method") or "HTTP", {}),
        server_request_hook=_request_hook,
    )


# --- the access log -------------------------------------------------------------------------------

access_log = logging.getLogger("dudao.access")
_QUIET = ("/healthz", "/readyz", "/metrics")  # probes and scrapes, every few seconds: not requests anyone made


class AccessLog:
    """One JSON line per request (logger `dudao.access`): method, route, status, latency, caller and trace id.

    The route is the path's template (`/v1/schools/{school_id}`), so no id or query value is written; the caller is
    the verified token's subject, roles and place as the route's authentication left them in the request's state. A
    body or a token never is. Each response carries the trace id as `X-Trace-Id`."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in _QUIET:
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500
        request_span = trace.get_current_span()
        span = request_span.get_span_context()
        trace_id = format(span.trace_id, "032x") if span.is_valid else None

        async def sending(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if (route := getattr(scope.get("route"), "path", None)) and request_span.is_recording():
                    request_span.update_name(f"{scope['method']} {route}")  # matched by now; the span ends as sent
                    request_span.set_attribute("http.route", route)
                if trace_id:
                    message["headers"] = [*message.get("headers", []), (b"x-trace-id", trace_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", None) or "(no route)"
            caller = (scope.get("state") or {}).get("caller")
            fields = {
                "method": scope["method"],
                "route": route,
                "status": status,
                "latency_ms": round((time.perf_counter() - started) * 1000, 1),
                "caller": {"sub": caller.sub, "roles": sorted(caller.roles), "jur": caller.jur} if caller else None,
            }
            access_log.info("%s %s %d", scope["method"], route, status, extra={"fields": fields, "trace_id": trace_id})


# --- /metrics ---------------------------------------------------------------------------------------


def prometheus_text(reader: InMemoryMetricReader) -> str:
    """The reader's measurements in Prometheus' text exposition format (0.0.4): counters as `<name>_total`, gauges,
    and histograms as `_bucket`/`_sum`/`_count`; OpenTelemetry's dots become underscores."""
    lines: list[str] = []
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                name = re.sub(r"[^a-zA-Z0-9_]", "_", metric.name)
                points = metric.data.data_points
                if isinstance(metric.data, Sum) and metric.data.is_monotonic:
                    lines += [f"# HELP {name}_total {metric.description}", f"# TYPE {name}_total counter"]
                    lines += [f"{name}_total{_labels(p.attributes)} {_number(p.value)}" for p in points]
                elif isinstance(metric.data, (Sum, Gauge)):
                    lines += [f"# HELP {name} {metric.description}", f"# TYPE {name} gauge"]
                    lines += [f"{name}{_labels(p.attributes)} {_number(p.value)}" for p in points]
                elif isinstance(metric.data, Histogram):
                    lines += [f"# HELP {name} {metric.description}", f"# TYPE {name} histogram"]
                    for p in points:
                        running = 0
                        for bound, count in zip([*p.explicit_bounds, math.inf], p.bucket_counts, strict=True):
                            running += count
                            lines.append(f"{name}_bucket{_labels(p.attributes, le=_number(bound))} {running}")
                        lines += [
                            f"{name}_sum{_labels(p.attributes)} {_number(p.sum)}",
                            f"{name}_count{_labels(p.attributes)} {p.count}",
                        ]
    return "\n".join(lines) + "\n"


def _labels(attributes: Mapping[str, Any] | None, **extra: str) -> str:
    pairs = {re.sub(r"[^a-zA-Z0-9_]", "_", str(k)): str(v) for k, v in {**(attributes or {}), **extra}.items()}
    if not pairs:
        return ""
    escaped = (v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") for v in pairs.values())
    return "{" + ",".join(f'{k}="{v}"' for k, v in zip(pairs, escaped, strict=True)) + "}"


def _number(value: float) -> str:
    if value == math.inf:
        return "+Inf"
    return repr(float(value)) if isinstance(value, float) and not float(value).is_integer() else str(int(value))


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


def records(tracer: trace.Tracer | trace.TracerProvider) -> bool:
    """Whether the spans `tracer` (or a provider's tracers) starts are recorded: not under the always-off sampler,
    which a process gets when nothing exports them (decision 036). A tracer not yet set up counts as recording."""
    return getattr(tracer, "sampler", None) is not ALWAYS_OFF


def consumed(
    tracer: trace.Tracer, name: str, carrier: Mapping[str, str] | None, attributes: Mapping[str, Any]
) -> AbstractContextManager:
    """The span of one consumed event, in the trace its message carried. A tracer that records nothing (decision 036)
    builds no span: the carried context alone is made current, so the logs and whatever the handler publishes keep
    the message's trace id. Building a span per event for nobody was a tenth of a catching-up consumer's CPU."""
    parent = context_from(carrier)
    if not records(tracer):
        return _current(parent)
    return tracer.start_as_current_span(name, context=parent, kind=trace.SpanKind.CONSUMER, attributes=attributes)


@contextmanager
def _current(ctx: context.Context) -> Iterator[None]:
    token = context.attach(ctx)
    try:
        yield
    finally:
        context.detach(token)


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
        elif getattr(record, "trace_id", None):  # logged after its span ended (the access log)
            entry["trace_id"] = record.trace_id
        entry |= getattr(record, "fields", None) or {}
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level or os.environ.get("DUDAO_LOG_LEVEL", "INFO"))
