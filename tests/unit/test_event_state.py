"""What the relay publishes of a stored event (`dudao.wire.event_state`): decoded straight into plain JSON types, the
same as `to_jsonable` makes of the domain event the mapper builds, and through the mapper when it must upcast."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import MapperDeserialisationError

from dudao import bus, metrics
from dudao.config import Settings
from dudao.events import Envelope, dumps_plain, to_jsonable
from dudao.links import Crossings
from dudao.personal import Sealed
from dudao.relay import Relay
from dudao.store import ServiceApplication
from dudao.wire import event_state, finite_state

ENVELOPE = Envelope.for_request(actor="tester", jurisdiction="500120")


class Kind(StrEnum):
    primary = "primary"


class Thing(Aggregate):
    @event("Noted")
    def __init__(self, other: UUID, on: date, at: datetime, share: Decimal, who: Sealed, kind: Kind, nested: dict):
        self.other = other

    @event("Renamed")
    def rename(self, name: str, ids: tuple[UUID, ...]) -> None:
        self.name = name


class Things(ServiceApplication):
    service = "things"


@pytest.fixture
def app(tmp_path):
    app = Things(replace(Settings(), event_store="memory", home=tmp_path, jurisdiction="500120"))
    yield app
    app.close()


def stored(app: Things) -> list:
    other = uuid4()
    thing = Thing(
        other=other,
        on=date(2026, 11, 20),
        at=datetime(2026, 11, 20, 2, 0, 0, 123456, tzinfo=UTC),
        share=Decimal("0.250"),
        who=Sealed(sealed="c2VhbGVk", person=f"inspector:{other}", key="k1", holder="500120"),
        kind=Kind.primary,
        nested={"by_stage": {"primary": [1, 2]}, "when": [date(2026, 1, 1)], "ids": (other,)},
    )
    thing.rename("一中", (uuid4(), uuid4()))
    app.save(thing, envelope=ENVELOPE)
    return app.recorder.select_notifications(0, 10)


def through_the_mapper(app: Things, notification) -> tuple[dict, dict]:
    state = dict(vars(app.mapper.to_domain_event(notification)))
    envelope = state.pop("envelope")
    state.pop("originator_id"), state.pop("originator_version")
    return to_jsonable(state), envelope


def test_each_event_comes_out_as_the_mapper_and_to_jsonable_make_it(app):
    for notification in stored(app):
        assert event_state(app, notification) == through_the_mapper(app, notification)


def test_no_domain_event_is_built_for_an_event_of_the_current_version(app, monkeypatch):
    notifications = stored(app)
    wanted = [through_the_mapper(app, n) for n in notifications]
    monkeypatch.setattr(app.mapper, "to_domain_event", lambda n: pytest.fail("built a domain event"))
    state, envelope = event_state(app, notifications[0])
    assert (state, envelope) == wanted[0]
    assert state["share"] == "0.250" and state["on"] == "2026-11-20" and state["at"].endswith(".123456+00:00")
    assert state["who"] == {
        "sealed": "c2VhbGVk",
        "person": f"inspector:{state['other']}",
        "key": "k1",
        "holder": "500120",
    }
    assert str(UUID(state["other"])) == state["other"] and state["nested"]["ids"] == [state["other"]]
    assert envelope["actor"] == "tester"


def test_an_event_stored_in_an_older_version_goes_through_the_mapper_to_be_upcast(app, monkeypatch):
    notification = stored(app)[1]
    monkeypatch.setattr(Thing.Renamed, "class_version", 2, raising=False)
    monkeypatch.setattr(
        Thing.Renamed, "upcast_v1_v2", staticmethod(lambda state: state.update(count=len(state["ids"]))), raising=False
    )
    state, _ = event_state(app, notification)
    assert state["count"] == 2 and "class_version" not in state


def test_a_value_of_an_unknown_transcoding_is_refused_as_the_mapper_refuses_it(app):
    notification = stored(app)[0]
    broken = replace(notification, state=notification.state.replace(b'"uuid_hex"', b'"uuid_bytes"', 1))
    with pytest.raises(MapperDeserialisationError, match="uuid_bytes"):
        event_state(app, broken)


# --- the body the relay writes: orjson where no number can be NaN or infinite, json otherwise --------------------


class Measured(Aggregate):
    @event("Measured")
    def __init__(self, value: float, note: str):
        self.value = value


def _body(app: Things, notification) -> bytes:
    relay = Relay(app.settings, app, Crossings())
    metrics.unwatch(relay)  # a relay watched for its lag outlives the test's application
    _, body, _, _ = relay._message(notification, {})
    return body


@pytest.mark.parametrize("note", ["一中", "NaN 小学"])  # text with the word in it only makes it unsure: json writes it
def test_the_relay_writes_the_bytes_json_writes(app, note):
    app.save(Measured(value=0.1, note=note), envelope=ENVELOPE)
    for notification in [*stored(app), *app.recorder.select_notifications(0, 10)]:
        state, envelope = event_state(app, notification)
        body = bus.loads(_body(app, notification))
        assert body["data"] == state and body["envelope"] == envelope
        assert _body(app, notification) == dumps_plain(body)  # orjson's bytes are json's


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_a_number_that_is_not_finite_goes_out_as_json_writes_it_and_a_consumer_reads_it_back(app, value):
    app.save(Measured(value=value, note="x"), envelope=ENVELOPE)
    [notification] = app.recorder.select_notifications(0, 10)
    assert not finite_state(app, notification)
    read = bus.loads(_body(app, notification))["data"]["value"]
    assert read == value or (math.isnan(read) and math.isnan(value))  # not orjson's null


def test_orjson_writes_what_json_writes_and_leaves_to_json_what_it_will_not_write():
    plain = {
        "name": "璧山区第一小学\u2028\x00",
        "numbers": [0.1, 1e16, -0.0, 5e-324, 1.7976931348623157e308, 2**63, -(2**63), 123456789.123],
        "nested": {"ok": True, "none": None, "list": [[], {}]},
    }
    assert dumps_plain(plain, finite=True) == dumps_plain(plain)
    for refused in ({"big": 2**70}, {1: "a key that is not text"}):
        assert dumps_plain(refused, finite=True) == dumps_plain(refused)
