"""Registry aggregates: registration, validation before any event, details updates."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from dudao.errors import InvalidInput
from services.registry.domain import Employment, Inspector, Ownership, School, Stage

pytestmark = pytest.mark.unit

NOW = datetime(2026, 9, 1, tzinfo=UTC)


def a_school(**overrides) -> School:
    args = {
        "school_id": uuid4(),
        "name": "璧山区青岚小学",
        "jurisdiction": "500120",
        "stage": Stage.primary,
        "ownership": Ownership.public,
        "enrolment": 900,
        "now": NOW,
    } | overrides
    return School.register(**args)


def test_a_registered_school_has_one_event_carrying_its_facts():
    school = a_school()
    [event] = school.collect_events()
    assert type(event).__name__ == "Registered"
    assert (event.name, event.stage, event.enrolment, event.registered_at) == (
        "璧山区青岚小学",
        Stage.primary,
        900,
        NOW,
    )


@pytest.mark.parametrize(("field", "value", "rule"), [("name", "  ", "non_empty"), ("enrolment", -1, "non_negative")])
def test_an_invalid_school_records_no_event(field, value, rule):
    with pytest.raises(InvalidInput) as caught:
        a_school(**{field: value})
    assert (caught.value.field, caught.value.rule) == (field, rule)


def test_updating_details_records_what_changed():
    school = a_school()
    school.update_details(name="璧山区青岚实验小学", enrolment=950, now=NOW)
    assert [type(e).__name__ for e in school.collect_events()] == ["Registered", "DetailsUpdated"]
    assert (school.name, school.enrolment, school.version) == ("璧山区青岚实验小学", 950, 2)


def test_an_update_that_changes_nothing_records_nothing():
    school = a_school()
    school.collect_events()
    school.update_details(name="璧山区青岚小学", enrolment=900, now=NOW)
    assert school.collect_events() == [] and school.version == 1


def test_an_inspector_changes_employment():
    inspector = Inspector.nominate(
        inspector_id=uuid4(), name="李明远", jurisdiction="500120", employment=Employment.full_time, now=NOW
    )
    inspector.update_details(name="李明远", employment=Employment.part_time, now=NOW)
    assert inspector.employment is Employment.part_time and inspector.version == 2


def test_every_enum_has_a_chinese_label():
    for enum in (Stage, Ownership, Employment):
        assert all(member.label_zh for member in enum)
