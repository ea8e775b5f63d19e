"""The rules every command keeps, whatever the service (`ServiceApplication.change` and `save_new`): who may act,
If-Match, the idempotency key, and nothing recorded by a refusal. Shown on the registry's schools."""

from __future__ import annotations

from dataclasses import replace
from uuid import uuid4

from dudao.events import Envelope
from services.registry.commands import RegisterSchool, UpdateSchool
from services.registry.domain import Inspector, Ownership, School, Stage
from tests.application.conftest import NOW, recorded, refused
from tests.factories import caller


def keyed(key: str, body: str, jur: str = "500120", **given):
    """A caller sending `Idempotency-Key: key` with a request whose hash is `body`."""
    envelope = Envelope.for_request(actor="tester", jurisdiction=jur, idempotency_key=key, request_hash=body)
    return caller(jur, envelope=envelope, **given)


def a_school(registry, jur: str = "500120", name: str = "璧山区青岚小学") -> School:
    command = RegisterSchool(
        name=name, jurisdiction=jur, stage=Stage.primary, ownership=Ownership.public, enrolment=800, now=NOW
    )
    return registry.register_school(command, caller(jur, new_id=uuid4()))


def renamed(school: School, name: str = "璧山区青岚实验小学") -> UpdateSchool:
    return UpdateSchool(school_id=school.id, name=name, enrolment=810, now=NOW)


def test_a_command_changes_the_aggregate_once_and_records_its_event(registry):
    school = a_school(registry)

    changed = registry.update_school(renamed(school), caller())

    assert (changed.name, changed.version) == ("璧山区青岚实验小学", 2)
    assert recorded(registry, school.id) == ["Registered", "DetailsUpdated"]


def test_a_retry_with_the_same_key_and_request_answers_as_the_first_time_and_records_nothing_more(registry):
    school = a_school(registry)
    registry.update_school(renamed(school), keyed("k-1", "h-1"))

    again = registry.update_school(renamed(school), keyed("k-1", "h-1"))

    assert again.version == 2
    assert recorded(registry, school.id) == ["Registered", "DetailsUpdated"]


def test_the_same_key_with_another_request_is_409_and_changes_nothing(registry):
    school = a_school(registry)
    registry.update_school(renamed(school), keyed("k-1", "h-1"))

    refused(
        lambda: registry.update_school(renamed(school, "别的名字"), keyed("k-1", "h-2")), 409, "idempotency_key_reused"
    )

    assert registry.get(school.id, School).name == "璧山区青岚实验小学"


def test_a_stale_if_match_is_412_naming_the_current_version_and_changes_nothing(registry):
    school = a_school(registry)
    registry.update_school(renamed(school), caller(expected_version=1))

    problem = refused(
        lambda: registry.update_school(renamed(school, "又一名"), caller(expected_version=1)),
        412,
        "stale_version",
    )

    assert problem.extra["current_version"] == 2
    assert recorded(registry, school.id) == ["Registered", "DetailsUpdated"]


def test_a_creating_command_retried_with_its_key_makes_one_aggregate(registry):
    command = RegisterSchool(
        name="璧山区青岚小学",
        jurisdiction="500120",
        stage=Stage.primary,
        ownership=Ownership.public,
        enrolment=8,
        now=NOW,
    )
    same = uuid4()  # the route mints the same id for the same caller and key

    first = registry.register_school(command, keyed("k-9", "h-9", new_id=same))
    again = registry.register_school(command, keyed("k-9", "h-9", new_id=same))

    assert again.id == first.id
    assert recorded(registry, first.id) == ["Registered"]
    refused(
        lambda: registry.register_school(replace(command, enrolment=9), keyed("k-9", "h-8", new_id=same)),
        409,
        "idempotency_key_reused",
    )


def test_a_caller_outside_the_records_place_is_refused_before_anything_is_checked_or_recorded(registry):
    school = a_school(registry)

    refused(lambda: registry.update_school(renamed(school), caller("500118", expected_version=99)), 403, "out_of_scope")
    refused(
        lambda: registry.register_school(
            RegisterSchool(
                name="x", jurisdiction="500120", stage=Stage.primary, ownership=Ownership.public, enrolment=1, now=NOW
            ),
            caller("500118", new_id=uuid4()),
        ),
        403,
        "out_of_scope",
    )

    assert recorded(registry, school.id) == ["Registered"]


def test_an_office_above_acts_on_the_record_below(registry):
    school = a_school(registry)

    assert registry.update_school(renamed(school), caller("500000")).version == 2


def test_an_unknown_id_and_an_id_of_another_kind_are_404(registry):
    school = a_school(registry)

    refused(
        lambda: registry.update_school(UpdateSchool(school_id=uuid4(), name="x", enrolment=1, now=NOW), caller()),
        404,
        "not_found",
    )
    refused(lambda: registry.get(school.id, Inspector), 404, "not_found")


def test_two_writers_from_the_same_version_one_loses_with_409_and_nothing_half_saved(registry):
    school = a_school(registry)
    first, second = registry.get(school.id, School), registry.get(school.id, School)
    first.update_details(name="甲", enrolment=1, locality=None, now=NOW)
    second.update_details(name="乙", enrolment=2, locality=None, now=NOW)
    registry.save_checked(first, envelope=caller().envelope)

    refused(lambda: registry.save_checked(second, envelope=caller().envelope), 409, "concurrent_update")

    assert registry.get(school.id, School).name == "甲"


def overtaken_once(registry, monkeypatch, school: School) -> None:
    """The next load of `school` returns what it was before another writer renamed it meanwhile."""
    stale = registry.get(school.id, School)
    other = registry.get(school.id, School)
    other.update_details(name="另一人的名字", enrolment=5, locality=None, now=NOW)
    registry.save_checked(other, envelope=caller().envelope)
    load = registry.get

    def first_stale(aggregate_id, kind, **kwargs):
        monkeypatch.setattr(registry, "get", load)
        return stale

    monkeypatch.setattr(registry, "get", first_stale)


def test_a_change_without_if_match_overtaken_by_another_writer_is_made_on_what_that_writer_left(registry, monkeypatch):
    school = a_school(registry)
    overtaken_once(registry, monkeypatch, school)

    changed = registry.update_school(renamed(school), caller())

    assert (changed.version, changed.name) == (3, "璧山区青岚实验小学")  # both writers' changes, in turn
    assert recorded(registry, school.id)[-2:] == ["DetailsUpdated", "DetailsUpdated"]


def test_a_change_with_if_match_overtaken_by_another_writer_is_a_409_that_changes_nothing(registry, monkeypatch):
    school = a_school(registry)
    overtaken_once(registry, monkeypatch, school)

    refused(
        lambda: registry.update_school(renamed(school), caller(expected_version=school.version)),
        409,
        "concurrent_update",
    )
    assert registry.get(school.id, School).name == "另一人的名字"
