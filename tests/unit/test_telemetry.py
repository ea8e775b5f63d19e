"""Signals an ops team reads (issue 22): warnings that name their cause, a trace id without an exporter, Prometheus."""

from __future__ import annotations

import os
import subprocess
import sys
from types import SimpleNamespace

from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource

from dudao import metrics
from dudao import relay as relay_module
from dudao.config import Settings
from dudao.parts import Crossings
from dudao.telemetry import consumed, context_from, current_trace_headers, prometheus_text, tracer_provider, why


def test_a_warning_names_the_exceptions_type_even_when_its_message_is_empty():
    assert why(TimeoutError()) == "TimeoutError"  # was "consumer registry-directory-v3: ; retrying"
    assert why(ValueError("stream not found")) == "ValueError: stream not found"


def test_every_request_gets_a_trace_id_with_no_exporter_configured():
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    probe = (
        "from opentelemetry import trace; from dudao import telemetry; telemetry.setup('registry');"
        " print(trace.get_tracer('probe').start_span('request').get_span_context().is_valid)"
    )
    answer = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60)
    assert answer.stdout.strip() == "True", answer.stderr


def test_the_drivers_are_traced_only_where_spans_are_recorded():
    """Decision 036: a span per statement that nothing records was a tenth of a catching-up consumer's CPU. With no
    exporter and no sampler set, asyncpg and psycopg run as they are; with a sampler that records, their statements
    get spans."""
    probe = (
        "import asyncpg; from dudao import telemetry; telemetry.setup('registry');"
        " print(sorted(telemetry._instrumented), hasattr(asyncpg.Connection.execute, '__wrapped__'))"
    )
    quiet = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    for env, shown in ((quiet, "[] False"), (quiet | {"OTEL_TRACES_SAMPLER": "always_on"}, "['drivers'] True")):
        answer = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60)
        assert answer.stdout.strip() == shown, answer.stderr


def test_with_no_exporter_no_span_is_recorded_yet_each_carries_its_trace_id_on(monkeypatch):
    """Decision 036: a span nothing exports is not recorded (a province's catch-up spent a sixth of its time on them),
    and the trace id still passes from the request through NATS to the consumer."""
    monkeypatch.delenv("OTEL_TRACES_SAMPLER", raising=False)
    tracer = tracer_provider(Resource.create({}), exporting=False).get_tracer("probe")
    with tracer.start_as_current_span("POST /v1/schools") as request:
        assert not request.is_recording() and request.get_span_context().is_valid
        carried = current_trace_headers()
    with tracer.start_as_current_span("process School.Registered", context=context_from(carried)) as consumer:
        assert not consumer.is_recording()
        assert consumer.get_span_context().trace_id == request.get_span_context().trace_id
    assert carried["traceparent"].split("-")[1] == format(request.get_span_context().trace_id, "032x")

    exporting = tracer_provider(Resource.create({}), exporting=True)
    try:
        assert exporting.get_tracer("probe").start_span("request").is_recording()
    finally:
        exporting.shutdown()
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_on")  # an office can record without exporting
    assert tracer_provider(Resource.create({}), exporting=False).get_tracer("probe").start_span("x").is_recording()


def test_a_consumed_event_builds_no_span_when_nothing_records_yet_keeps_its_messages_trace(monkeypatch):
    """A catching-up consumer spent a tenth of its CPU building a span per event that was never recorded: with the
    always-off sampler the message's context alone is made current; a recording tracer still gets its span."""
    monkeypatch.delenv("OTEL_TRACES_SAMPLER", raising=False)
    silent = tracer_provider(Resource.create({}), exporting=False).get_tracer("probe")
    with silent.start_as_current_span("POST /v1/schools") as request:
        carried = current_trace_headers()
    built = []
    monkeypatch.setattr(silent, "start_as_current_span", lambda *a, **k: built.append(a))
    with consumed(silent, "process School.Registered", carried, {}):
        current = trace.get_current_span().get_span_context()
        assert (current.trace_id, current.span_id) == (
            request.get_span_context().trace_id,
            request.get_span_context().span_id,
        )
        assert current_trace_headers()["traceparent"] == carried["traceparent"]  # what the handler publishes goes on
    assert built == [] and not trace.get_current_span().get_span_context().is_valid

    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_on")
    recording = tracer_provider(Resource.create({}), exporting=False).get_tracer("probe")
    with consumed(recording, "process School.Registered", carried, {"dudao.consumer": "c"}) as span:
        assert span.is_recording() and span.get_span_context().trace_id == request.get_span_context().trace_id
        assert span.parent.span_id == request.get_span_context().span_id


def test_counters_gauges_and_histograms_in_prometheus_text_format():
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("probe")
    meter.create_counter("dudao.events.appended", description="events stored").add(
        3, {"service": "registry", "event": 'A"b'}
    )
    meter.create_up_down_counter("dudao.queue").add(-2)
    meter.create_histogram("http.server.duration").record(7, {"http.status_code": 200})
    text = prometheus_text(reader)
    assert "# TYPE dudao_events_appended_total counter" in text
    assert 'dudao_events_appended_total{service="registry",event="A\\"b"} 3' in text
    assert "# TYPE dudao_queue gauge\ndudao_queue -2" in text
    assert 'http_server_duration_bucket{http_status_code="200",le="5"} 0' in text
    assert 'http_server_duration_bucket{http_status_code="200",le="10"} 1' in text
    assert 'http_server_duration_bucket{http_status_code="200",le="+Inf"} 1' in text
    assert (
        'http_server_duration_count{http_status_code="200"} 1' in text
        and 'http_server_duration_sum{http_status_code="200"} 7' in text
    )


def test_the_relay_starts_no_producer_span_for_nobody_and_the_event_goes_on_in_its_request_s_trace(monkeypatch):
    """Decision 036 for the relay: with nothing recording, a message carries its request's trace as the event's
    envelope holds it (no span started, entered and injected per event); a recording tracer still gets its span."""
    monkeypatch.delenv("OTEL_TRACES_SAMPLER", raising=False)
    silent = tracer_provider(Resource.create({}), exporting=False).get_tracer("probe")
    with silent.start_as_current_span("POST /v1/schools"):
        carried = current_trace_headers()
    envelope = {"actor": "a", "jurisdiction": "500120", "traceparent": carried["traceparent"], "tracestate": ""}
    monkeypatch.setattr(relay_module, "event_state", lambda app, n: ({"name": "一中"}, envelope))
    monkeypatch.setattr(relay_module, "finite_state", lambda app, n: True)  # no store: the state above is all there is
    notification = SimpleNamespace(
        id=7, topic="services.registry.domain:School.Registered", originator_id="s1", originator_version=1
    )
    relay = relay_module.Relay(Settings(), SimpleNamespace(service="registry"), Crossings())
    metrics.unwatch(relay)

    started = []
    relay._tracer = silent
    monkeypatch.setattr(silent, "start_span", lambda *a, **k: started.append(a))
    _, _, headers, span = relay._message(notification, {})
    assert started == [] and not span.get_span_context().is_valid
    assert headers["traceparent"] == carried["traceparent"] and "tracestate" not in headers

    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_on")
    relay._tracer = tracer_provider(Resource.create({}), exporting=False).get_tracer("probe")
    _, _, headers, span = relay._message(notification, {})
    assert span.is_recording() and span.parent.span_id == int(carried["traceparent"].split("-")[2], 16)
    assert headers["traceparent"].split("-")[2] == format(span.get_span_context().span_id, "016x")
    span.end()
