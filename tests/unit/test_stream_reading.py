"""What the rebuild's reading process sends (decision 058): each batch decoded there, and taken in here as the same
events, without servers."""

from __future__ import annotations

import json

from dudao.consumer import InboundEvent
from dudao.stream_reading import decoded, packed, unpacked


def _body(n: int, **more) -> bytes:
    return json.dumps(
        {
            "type": "School.Registered",
            "aggregate": "School",
            "aggregate_id": f"s{n}",
            "version": 1,
            "notification_id": n,
            "origin": {"jurisdiction": "500120", "service": "registry"},
            "envelope": {"actor": "u", "jurisdiction": "500120", "correlation_id": "c", "causation_id": None},
            "data": {"name": "璧山区第一小学", "enrolment": 900, "stages": ["primary"], "zone": None, "ratio": 0.5},
        }
        | more
    ).encode()


def test_a_batch_reaches_the_rebuild_as_the_events_it_decoded_and_the_count_it_could_not():
    messages = [
        (7, "dudao.500120.registry.School.Registered", _body(1), {"Nats-Msg-Id": "500120:registry:1"}),
        (8, "dudao.500120.registry.School.Registered", b"{not json", None),
        (9, "dudao.500120.registry.School.Registered", _body(2), None),
    ]
    batch = decoded((messages, 4, 9))
    events, undecodable, fetched, last = batch
    assert [e.stream_seq for e in events] == [7, 9] and (undecodable, fetched, last) == (1, 4, 9)
    seq, subject, data, headers = messages[0]
    assert events[0] == InboundEvent.from_parts(data, headers, subject, seq)
    taken_in = unpacked(packed(batch))
    assert taken_in == batch
    assert [type(e) for e in taken_in[0]] == [InboundEvent, InboundEvent]
    assert taken_in[0][0].data["name"] == "璧山区第一小学" and taken_in[0][0].headers == {
        "Nats-Msg-Id": "500120:registry:1"
    }
    assert taken_in[0][1].headers == {}
