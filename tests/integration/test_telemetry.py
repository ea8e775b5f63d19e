"""One trace from the HTTP request through the event store, the relay, NATS and the consumer to the projection."""

from __future__ import annotations

import pytest
from opentelemetry.trace import SpanKind

from tests.conftest import SPANS, eventually

pytestmark = pytest.mark.integration


def test_a_registration_is_one_trace_from_request_to_projection_write(registry, token):
    SPANS.clear()
    with registry.client(token()) as client:
        created = client.post(
            "/v1/schools",
            json={
                "name": "璧山区青岚小学",
                "jurisdiction": "500120",
                "stage": "primary",
                "ownership": "public",
                "enrolment": 9,
            },
        )
        eventually(lambda: client.get(created.headers["Location"]).status_code == 200, what="the projection")

    def spans_of_the_request():
        server = [
            s for s in SPANS.get_finished_spans() if s.kind == SpanKind.SERVER and s.name.startswith("POST /v1/schools")
        ]
        if not server:
            return None
        trace_id = server[0].context.trace_id
        spans = [s for s in SPANS.get_finished_spans() if s.context.trace_id == trace_id]
        projection_writes = [s for s in spans if "school_directory" in (s.attributes or {}).get("db.statement", "")]
        return spans if projection_writes else None

    spans = eventually(spans_of_the_request, what="the projection write in the request's trace")
    names = [s.name for s in spans]
    statements = [str((s.attributes or {}).get("db.statement", "")) for s in spans]
    # The event store's insert transaction (eventsourcing locks the table to keep notification ids in order).
    assert any(st.startswith('LOCK TABLE "registry"."registry_events"') for st in statements), names
    assert any(s.kind == SpanKind.PRODUCER and s.name == "publish School.Registered" for s in spans), names  # relay
    consumer = [s for s in spans if s.kind == SpanKind.CONSUMER and s.name == "process School.Registered"]
    assert consumer, names  # NATS carried the context to the consumer
    write = next(
        s for s in spans if "INSERT INTO registry.school_directory" in str((s.attributes or {}).get("db.statement"))
    )
    assert write.parent is not None and write.parent.span_id in {
        c.context.span_id for c in consumer
    }  # one per read model


def test_a_gateway_query_and_the_subgraph_calls_it_makes_are_one_trace(settings, registry, serve, token):
    """Ops follow a slow start page from the gateway into the service that made it slow: the gateway passes its
    trace on with each subgraph call (traceparent), as the relay does through NATS."""
    from dataclasses import replace

    from gateway.app import build as build_gateway

    gateway = serve(build_gateway(replace(settings, ports=settings.ports | {"registry": registry.port})))
    SPANS.clear()
    with gateway.client(token()) as client:
        answer = client.post("/graphql", json={"query": '{ staffingCompliance(jurisdiction: "500120") { schools } }'})
    assert answer.status_code == 200 and "errors" not in answer.json(), answer.text

    def the_two_server_spans():
        server = [
            s for s in SPANS.get_finished_spans() if s.kind == SpanKind.SERVER and s.name.startswith("POST /graphql")
        ]
        return server if len(server) == 2 else None

    outer, inner = sorted(eventually(the_two_server_spans, what="both requests' spans"), key=lambda s: s.start_time)
    assert inner.context.trace_id == outer.context.trace_id
    assert inner.parent is not None and inner.parent.trace_id == outer.context.trace_id
