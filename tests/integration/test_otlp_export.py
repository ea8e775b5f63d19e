"""Spans leave the process over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set, and not otherwise."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading

import pytest

pytestmark = pytest.mark.integration

EMIT_ONE_SPAN = """
from opentelemetry import trace
from dudao import telemetry
telemetry.setup("probe")
with telemetry.tracer().start_as_current_span("probe-span"):
    pass
provider = trace.get_tracer_provider()
getattr(provider, "force_flush", lambda: None)()
"""


class Collector(http.server.BaseHTTPRequestHandler):
    received: list[tuple[str, int]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", 0))
        self.rfile.read(length)
        Collector.received.append((self.path, length))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def collector():
    Collector.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def run(env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-c", EMIT_ONE_SPAN], env=os.environ | env, check=True, timeout=60)


def test_spans_are_exported_over_otlp_when_an_endpoint_is_set(collector):
    run({"OTEL_EXPORTER_OTLP_ENDPOINT": collector})
    assert [path for path, size in Collector.received if size > 0] == ["/v1/traces"]


def test_nothing_is_exported_without_an_endpoint(collector):
    run({"OTEL_EXPORTER_OTLP_ENDPOINT": ""})
    assert Collector.received == []
