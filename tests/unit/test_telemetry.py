"""Signals an ops team reads (issue 22): warnings that name their cause, a trace id without an exporter, Prometheus."""

from __future__ import annotations

import os
import subprocess
import sys

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from dudao.telemetry import prometheus_text, why


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
