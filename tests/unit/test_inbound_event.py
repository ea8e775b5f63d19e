"""An event message parsed into an `InboundEvent`, exactly: nothing valid is changed on the way (orjson, tried for
speed in sessions 15 and 19, turns an integer past 64 bits into a float without a word, so it is not used)."""

from __future__ import annotations

import dataclasses
import json
from types import SimpleNamespace

import pytest

from dudao.consumer import InboundEvent, Undeliverable
from dudao.events import Envelope

pytestmark = pytest.mark.unit


def message(data: bytes) -> SimpleNamespace:
    return SimpleNamespace(data=data, headers={"Nats-Msg-Id": "500120:registry:1"}, subject="dudao.500120.registry.x")


def body(**data: object) -> dict:
    return {
        "type": "School.EnrolmentRecorded",
        "aggregate": "School",
        "aggregate_id": "00000000-0000-0000-0000-00000000000a",
        "version": 2,
        "notification_id": 1,
        "origin": {"jurisdiction": "500120", "service": "registry"},
        "envelope": {"actor": "t", "jurisdiction": "500120", "correlation_id": "c", "causation_id": "c"},
        "data": data,
    }


def test_an_event_parses_into_its_parts():
    event = InboundEvent.from_msg(message(json.dumps(body(total=812)).encode()), stream_seq=7)
    assert (event.type, event.version, event.origin, event.stream_seq) == (
        "School.EnrolmentRecorded",
        2,
        "500120:registry",
        7,
    )
    assert event.data == {"total": 812} and event.envelope.actor == "t"


def test_a_parsed_event_is_the_event_its_constructor_makes_and_as_frozen():
    """`from_msg` fills the instance without the dataclass's __init__ (for speed): what it makes is equal to the
    constructor's event in every field, compares and copies as one, and refuses a change as one does."""
    event = InboundEvent.from_msg(message(json.dumps(body(total=812)).encode()), stream_seq=7)
    made = InboundEvent(**{f.name: getattr(event, f.name) for f in dataclasses.fields(InboundEvent)})
    assert event == made and vars(event) == vars(made) and repr(event) == repr(made)
    assert dataclasses.replace(event, version=3) == dataclasses.replace(made, version=3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.version = 3  # type: ignore[misc]
    assert event.version == 2


def test_an_integer_past_64_bits_arrives_as_the_integer_it_is():
    """Valid JSON: it reaches the projection as sent (which judges it), neither rounded nor dead-lettered here."""
    event = InboundEvent.from_msg(message(json.dumps(body(total=10**30)).encode()), stream_seq=7)
    assert event.data == {"total": 10**30}


def test_the_envelope_is_built_only_when_a_handler_reads_it(monkeypatch):
    built = []
    monkeypatch.setattr(Envelope, "from_dict", classmethod(lambda cls, data: built.append(data) or "built"))
    event = InboundEvent.from_msg(message(json.dumps(body(total=812)).encode()), stream_seq=7)
    assert event.data == {"total": 812} and built == []
    assert event.envelope == "built" and event.envelope == "built" and len(built) == 1


@pytest.mark.parametrize(
    "envelope",
    [
        {"actor": "t", "jurisdiction": "500120", "correlation_id": "c"},  # no causation
        ["t", "500120", "c", "c"],
        "t",
    ],
)
def test_a_message_whose_envelope_lacks_what_one_needs_is_undeliverable_before_any_handler_runs(envelope):
    with pytest.raises(Undeliverable, match="envelope"):
        InboundEvent.from_msg(message(json.dumps(body() | {"envelope": envelope}).encode()), stream_seq=7)


@pytest.mark.parametrize("data", [b"{not json", b"[]", json.dumps(body()).encode()[:-5], b"\xff\xfe"])
def test_a_malformed_message_is_undeliverable(data):
    with pytest.raises(Undeliverable):
        InboundEvent.from_msg(message(data), stream_seq=7)
