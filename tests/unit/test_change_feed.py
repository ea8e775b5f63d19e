"""The change feed's pure parts: the gateway's cursor (one position per service) and where an event says it happened."""

from __future__ import annotations

import base64
import json

import pytest

from dudao.changes import jurisdiction_of
from dudao.errors import InvalidInput
from gateway import changes as feed
from gateway.limits import cost
from gateway.schema import schema

pytestmark = pytest.mark.unit


def b64(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def test_a_feed_cursor_round_trips_one_position_per_service():
    positions = {"registry": 120, "inspection": 3, "accountability": 7}
    assert feed.decode(feed.encode(positions), "since") == positions
    assert feed.decode(feed.encode({"registry": 5, "inspection": 0}), "since") == {
        "registry": 5
    }  # the start is left out
    assert feed.decode(None, "since") == feed.decode("", "since") == {}


def test_a_feed_cursor_is_opaque_text_safe_in_a_query_string():
    cursor = feed.encode({"registry": 2**40, "accountability": 1})
    assert cursor.isascii() and not set(cursor) & set("+/=&?# ")


@pytest.mark.parametrize(
    "garbage",
    [
        "%%%",
        "not base64 at all!",
        b64([1, 2]),
        b64("registry"),
        b64({"monitoring": 1}),
        b64({"registry": -1}),
        b64({"registry": True}),
        b64({"registry": 1.5}),
        b64({"registry": "12"}),
        b64(None),
        "e30=x",
        "//8",
    ],
)
def test_a_garbage_feed_cursor_is_a_422_naming_the_parameter(garbage):
    with pytest.raises(InvalidInput) as caught:
        feed.decode(garbage, "since")
    assert (caught.value.status, caught.value.field, caught.value.rule) == (422, "since", "cursor_format")


def test_every_kind_the_feed_names_comes_from_a_service_it_reads():
    assert {service for service, _ in feed.KINDS.values()} == set(feed.SERVICES)
    assert feed.KIND_OF["Circular"] == "outcome" and feed.KIND_OF["RectificationCase"] == "case"


def test_an_event_states_its_jurisdiction_itself_or_one_level_down():
    assert jurisdiction_of({"jurisdiction": "500120", "name": "甲校"}) == ("500120", None)
    assert jurisdiction_of({"unit": {"jurisdiction": "500120", "unit_id": "s-1"}, "trigger": "x"}) == (None, "500120")
    assert jurisdiction_of({"enrolment": 860}) == (None, None)
    assert jurisdiction_of({"jurisdiction": "somewhere", "unit": {"jurisdiction": 500120}}) == (None, None)


def test_the_feed_is_priced_by_its_page_size():
    small = cost(schema._schema, _parse("{ changes(first: 10) { nodes { kind id jurisdiction { code } } } }"), None)
    large = cost(schema._schema, _parse("{ changes(first: 200) { nodes { kind id jurisdiction { code } } } }"), None)
    assert large - 2 == 20 * (small - 2)  # the field and its nodes once, each node's four fields per node


def _parse(text: str):
    from graphql import parse

    return parse(text)
