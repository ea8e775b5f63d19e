"""Pure kernel pieces: envelopes, cursors, ETags, event names, problem bodies."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import pytest

from dudao import bus, links
from dudao.cursors import decode_cursor, encode_cursor
from dudao.errors import Conflict, InvalidInput
from dudao.events import Envelope, to_jsonable
from dudao.store import event_name

pytestmark = pytest.mark.unit


def test_an_envelope_round_trips_through_a_dict():
    envelope = Envelope.for_request(
        actor="u", jurisdiction="500120", request_id="r", trace={"traceparent": "00-ab-cd-01"}
    )
    assert Envelope.from_dict(envelope.as_dict()) == envelope
    assert (envelope.correlation_id, envelope.causation_id) == ("r", "r")


def test_an_event_caused_by_another_keeps_the_correlation_and_names_its_cause():
    first = Envelope.for_request(actor="u", jurisdiction="500120", request_id="r", idempotency_key="k")
    second = first.caused_by("500120:registry:7")
    assert (second.correlation_id, second.causation_id, second.idempotency_key) == ("r", "500120:registry:7", "")


def test_cursors_round_trip_and_garbage_is_a_problem_naming_the_field():
    assert decode_cursor(encode_cursor(42)) == 42
    assert decode_cursor(None) == 0
    for garbage in ("%%%", "e30", encode_cursor(-1), "eyJwIjogdHJ1ZX0"):
        with pytest.raises(InvalidInput) as caught:
            decode_cursor(garbage, "after")
        assert (caught.value.field, caught.value.rule) == ("after", "cursor_format")


def test_event_names_come_from_the_topic():
    assert event_name("services.registry.domain:School.Registered") == ("School", "Registered")


def test_subjects_and_message_ids_carry_the_origin_jurisdiction():
    assert (
        bus.subject("500120", "registry", "School", "Registered")
        == "dudao.500120.registry.School.Registered.local.local"
    )
    assert bus.subject("530113", "registry", "PolicyProfile", "Changed", up=True, down=True).endswith(
        ".Changed.up.down"
    )
    assert bus.event_of(bus.subject("530113", "registry", "School", "Registered", up=True)) == "Registered"
    assert bus.message_id("500120", "registry", 7) == "500120:registry:7"
    assert bus.stream_name("registry") == "DUDAO_REGISTRY"


def test_linked_instances_have_a_domain_and_a_stream_per_crossing_kind():
    assert bus.domain("530113") == "j530113"
    assert bus.view_stream("registry") == "DUDAO_VIEW_REGISTRY"
    assert links.crossing_stream(links.UP, "registry", "530113") == "DUDAO_UP_REGISTRY_J530113"
    crossings = links.Crossings(upward=("School", "PolicyProfile"), downward=("PolicyProfile",))
    assert crossings.travels("School") == (True, False) and crossings.travels("PolicyProfile") == (True, True)
    assert crossings.travels("Committee") == (False, False)
    assert links.crossing_subjects(links.UP, "registry", "530113") == "dudao.530113.registry.*.*.up.*"
    assert links.crossing_subjects(links.DOWN, "registry", "530113") == "dudao.530113.registry.*.*.*.down"


def test_event_state_becomes_plain_json():
    state = {"id": UUID(int=1), "at": datetime(2026, 1, 1, tzinfo=UTC), "n": [1, (2, 3)]}
    assert to_jsonable(state) == {"id": str(UUID(int=1)), "at": "2026-01-01T00:00:00+00:00", "n": [1, [2, 3]]}


def test_a_problem_body_names_type_rule_and_field():
    body = Conflict("already taken", field="Idempotency-Key", rule="idempotency_key_reused").body("/v1/schools")
    assert body == {
        "type": "https://dudao.example/problems/idempotency_key_reused",
        "title": "Conflict",
        "status": 409,
        "detail": "already taken",
        "rule": "idempotency_key_reused",
        "field": "Idempotency-Key",
        "instance": "/v1/schools",
    }


def test_a_places_own_instance_decides_its_profile_and_otherwise_the_one_nearest_the_nation():
    from dudao.profiles import outranks

    assert outranks("530113", "530100", "530113")  # the county's own over the city's copy of it
    assert not outranks("530100", "530113", "530113")
    assert outranks("530000", "530113", "000000")  # the province's copy of the national profile over a county's
    assert outranks("530000", "530100", "530100") is False  # the city's own over the province's copy
    assert outranks("530113", "530114", "000000") and not outranks("530114", "530113", "000000")  # a tie: lower code
