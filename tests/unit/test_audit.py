"""The audit's pure parts: what an event changed, its trace id, times asked for, the gateway's merge and cursor."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from dudao import audit
from dudao.auth import Principal
from dudao.errors import Forbidden, InvalidInput
from gateway import audit as trail
from gateway.changes import decode, encode

pytestmark = pytest.mark.unit

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def admin(jur: str = "500120") -> Principal:
    return Principal(sub="tester", roles=frozenset({"admin"}), jur=jur)


def test_what_an_event_changed_leaves_out_the_bookkeeping():
    data = {
        "timestamp": "2026-05-01T00:00:00+00:00",
        "originator_topic": "services.registry.domain:School",
        "envelope": {"actor": "a"},
        "name": "青岚小学",
        "enrolment": 900,
    }
    assert audit.changed(data) == {"name": "青岚小学", "enrolment": 900}
    assert audit.changed({"timestamp": "2026-05-01T00:00:00+00:00"}) == {}


def test_the_trace_id_is_read_from_the_traceparent():
    assert audit.trace_id(TRACEPARENT) == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert audit.trace_id("") == audit.trace_id("garbage") == audit.trace_id("00-short-00f067aa0ba902b7-01") == ""


def test_a_time_without_a_zone_is_utc_and_garbage_is_a_422_naming_the_field():
    assert audit.parse_time("2026-05-01T08:00:00", "from") == datetime(2026, 5, 1, 8, tzinfo=UTC)
    assert audit.parse_time("2026-05-01T08:00:00+08:00", "from") == datetime(2026, 5, 1, tzinfo=UTC)
    assert audit.parse_time(None, "from") is audit.parse_time("", "from") is None
    with pytest.raises(InvalidInput) as refused:
        audit.parse_time("yesterday", "as_of")
    assert refused.value.field == "as_of"


def test_filters_refuse_an_empty_time_range_and_a_jurisdiction_outside_the_callers():
    filters = audit.Filters.asked(admin(), None, "2026-05-01", None, actor="", event_type="School.Renamed")
    assert (filters.within, filters.actor, filters.event_type) == ("500120", None, "School.Renamed")
    with pytest.raises(InvalidInput) as refused:
        audit.Filters.asked(admin(), None, "2026-05-02", "2026-05-01")
    assert refused.value.field == "to"
    with pytest.raises(Forbidden):
        audit.Filters.asked(admin(), "500101", None, None)


def test_an_aggregates_public_state_is_json_without_private_attributes():
    class Thing:
        def __init__(self):
            self._version, self.id_ = 3, uuid.UUID(int=1)
            self.when = datetime(2026, 5, 1, tzinfo=UTC)

    assert audit.public_state(Thing()) == {"id_": str(uuid.UUID(int=1)), "when": "2026-05-01T00:00:00+00:00"}


def entry(at: datetime, n: int) -> dict:
    return {"at": at.isoformat(), "cursor": f"c{n}"}


def test_the_gateway_merges_the_services_in_time_order_taking_a_prefix_of_each():
    t = datetime(2026, 5, 1, tzinfo=UTC)
    pages = {
        "registry": [entry(t, 1), entry(t + timedelta(minutes=3), 2)],
        "inspection": [entry(t + timedelta(minutes=1), 1), entry(t + timedelta(minutes=2), 2)],
        "monitoring": [],
    }
    taken = trail.merge(pages, 3)
    assert [(s, n["cursor"]) for s, n in taken] == [("registry", "c1"), ("inspection", "c1"), ("inspection", "c2")]
    assert len(trail.merge(pages, 10)) == 4


def test_ties_in_time_go_in_service_order_and_zones_are_compared_as_instants():
    t = datetime(2026, 5, 1, 8, tzinfo=timezone(timedelta(hours=8)))
    pages = {"registry": [entry(t, 1)], "inspection": [entry(t.astimezone(UTC), 1)]}
    assert [s for s, _ in trail.merge(pages, 2)] == ["registry", "inspection"]


def test_the_audit_cursor_holds_a_position_for_each_of_the_four_services():
    positions = {"registry": 4, "inspection": 2, "accountability": 9, "monitoring": 1}
    assert decode(encode(positions, trail.SERVICES), "after", trail.SERVICES) == positions
    with pytest.raises(InvalidInput):
        decode(encode({"monitoring": 1}, trail.SERVICES), "after")  # the change feed's cursor knows no monitoring
