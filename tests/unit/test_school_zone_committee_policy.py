"""Schools beyond registration, zones, committees and policy profiles: pure domain rules."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import uuid4

import pytest

from dudao.errors import InvalidInput
from services.registry.application.policy import shipped_profiles
from services.registry.domain import (
    Committee,
    EnrolmentStatus,
    LicenceStatus,
    Ownership,
    PolicyProfile,
    RuleViolation,
    School,
    Stage,
    Zone,
    composition,
    effective,
)
from services.registry.domain.policy import KEYS, validate_values

pytestmark = pytest.mark.unit

NOW = datetime(2026, 9, 1, tzinfo=UTC)


def a_school(**overrides) -> School:
    args = {
        "school_id": uuid4(),
        "name": "璧山区青岚九年制学校",
        "jurisdiction": "500120",
        "stage": Stage.nine_year,
        "ownership": Ownership.private,
        "enrolment": 1600,
        "now": NOW,
    } | overrides
    return School.register(**args)


def event_names(aggregate) -> list[str]:
    return [type(e).__name__ for e in aggregate.collect_events()]


# --- schools ----------------------------------------------------------------------------------------


def test_enrolment_is_recorded_per_stage_and_the_latest_year_sets_the_total():
    school = a_school()
    school.record_enrolment(
        school_year="2025-2026", by_stage={Stage.primary: 1000, Stage.junior_secondary: 600}, now=NOW
    )
    school.record_enrolment(
        school_year="2024-2025", by_stage={Stage.primary: 900, Stage.junior_secondary: 500}, now=NOW
    )
    assert school.enrolment == 1600
    assert school.enrolment_by_year["2024-2025"] == {"primary": 900, "junior_secondary": 500}


def test_a_stage_the_school_does_not_teach_is_refused():
    with pytest.raises(InvalidInput) as caught:
        a_school().record_enrolment(school_year="2025-2026", by_stage={Stage.senior_secondary: 10}, now=NOW)
    assert (caught.value.field, caught.value.rule) == ("by_stage.senior_secondary", "stage_not_taught")


@pytest.mark.parametrize("year", ["2025", "2025-2027", "25-26", "2025/2026"])
def test_a_school_year_must_look_like_2025_2026(year):
    with pytest.raises(InvalidInput):
        a_school().record_enrolment(school_year=year, by_stage={Stage.primary: 1}, now=NOW)


def test_a_principal_serves_one_term_at_a_time_and_its_end_is_an_event():
    school = a_school()
    school.appoint_principal(name="周校长", term_start=date(2021, 9, 1), term_end=date(2026, 8, 31))
    with pytest.raises(RuleViolation) as caught:
        school.appoint_principal(name="吴校长", term_start=date(2026, 9, 1), term_end=date(2031, 8, 31))
    assert caught.value.rule == "principal_in_office"
    school.end_principal_term(ended_on=date(2026, 8, 31), reason="任期届满", today=date(2026, 9, 1))
    school.appoint_principal(name="吴校长", term_start=date(2026, 9, 1), term_end=date(2031, 8, 31))
    assert event_names(school)[-3:] == ["PrincipalAppointed", "PrincipalTermEnded", "PrincipalAppointed"]


def test_sanctions_need_a_reference_and_a_private_school():
    with pytest.raises(RuleViolation) as public:
        a_school(ownership=Ownership.public).change_enrolment_status(
            status=EnrolmentStatus.stopped, sanction_ref="问责〔2026〕3号", now=NOW
        )
    with pytest.raises(InvalidInput) as unreferenced:
        a_school().revoke_licence(sanction_ref=" ", now=NOW)
    assert (public.value.rule, unreferenced.value.rule) == ("sanction_private_only", "sanction_required")


def test_revoking_the_licence_stops_enrolment():
    school = a_school()
    school.change_enrolment_status(status=EnrolmentStatus.plan_reduced, sanction_ref="问责〔2026〕3号", now=NOW)
    school.revoke_licence(sanction_ref="问责〔2026〕9号", now=NOW)
    assert (school.licence, school.enrolment_status) == (LicenceStatus.revoked, EnrolmentStatus.stopped)


def test_a_responsible_inspector_needs_a_zone_first_and_reassignment_is_an_event():
    school = a_school()
    with pytest.raises(RuleViolation):
        school.assign_responsible_inspector(uuid4())
    school.assign_zone(uuid4())
    first, second = uuid4(), uuid4()
    school.assign_responsible_inspector(first)
    school.assign_responsible_inspector(second)
    events = school.collect_events()
    assert events[-1].previous_inspector_id == str(first) and school.responsible_inspector_id == str(second)


# --- zones and committees ------------------------------------------------------------------------------


def test_a_zone_lists_each_inspector_once():
    zone = Zone.create(zone_id=uuid4(), name="璧城责任区", jurisdiction="500120", now=NOW)
    inspector = uuid4()
    zone.add_listed_inspector(inspector)
    zone.add_listed_inspector(inspector)
    assert zone.listed_inspectors == [str(inspector)]
    zone.remove_listed_inspector(inspector)
    with pytest.raises(RuleViolation):
        zone.remove_listed_inspector(inspector)


def a_committee() -> Committee:
    members = composition(
        director="分管副区长",
        deputies=["区政府办联系负责人", "区教委主任"],
        member_units=[{"name": "区委组织部", "contact_person": "张三"}, {"name": "区财政局", "contact_person": "李四"}],
        office="区政府教育督导室",
        chief_inspector="总督学",
        deputy_chief_inspectors=["副总督学"],
    )
    return Committee.constitute(jurisdiction="500120", members=members, now=NOW)


def test_a_committee_records_meetings_and_member_participation_once_per_activity():
    committee = a_committee()
    committee.record_meeting(
        held_on=date(2026, 3, 1), topic="专题研究义务教育优质均衡", on_education=True, today=date(2026, 3, 1)
    )
    committee.record_participation(unit_name="区财政局", activity_id="activity-1", year=2026)
    committee.record_participation(unit_name="区财政局", activity_id="activity-1", year=2026)
    assert committee.participation == {"2026": {"区财政局": ["activity-1"]}}
    with pytest.raises(RuleViolation) as caught:
        committee.record_participation(unit_name="区气象局", activity_id="activity-1", year=2026)
    assert caught.value.rule == "not_a_member_unit"


def test_a_member_unit_needs_a_contact_person():
    with pytest.raises(InvalidInput) as caught:
        composition(
            director="d",
            deputies=[],
            member_units=[{"name": "区公安局", "contact_person": ""}],
            office="o",
            chief_inspector="c",
            deputy_chief_inspectors=[],
        )
    assert caught.value.field == "member_units.0.contact_person"


# --- policy profiles ---------------------------------------------------------------------------------------


def test_the_nearest_place_that_sets_a_key_wins_and_says_where_it_comes_from():
    profiles = {
        "000000": (1, {"inspector_school_ratio": 5, "large_school_enrolment": 2000}),
        "500000": (2, {"inspector_school_ratio": 5}),
        "500120": (3, {"pupils_per_school_supervisor": 500, "large_school_enrolment": 1500}),
    }
    result = effective("500120", profiles)
    assert result.values == {
        "inspector_school_ratio": 5,
        "large_school_enrolment": 1500,
        "pupils_per_school_supervisor": 500,
    }
    assert result.sources["inspector_school_ratio"] == ("500000", 2)
    assert result.sources["large_school_enrolment"] == ("500120", 3)
    assert result.version == "000000@1/500000@2/500120@3"
    assert (
        effective("500101", profiles).get("pupils_per_school_supervisor") is None
    )  # a sibling inherits nothing from Bishan


def test_a_profile_change_is_a_new_version_and_removing_a_key_falls_back_to_the_parent():
    profile = PolicyProfile.create(
        jurisdiction="500120", values={"large_school_enrolment": 1500}, reason="试点", now=NOW
    )
    profile.change(set_values={"full_time_share_min": 0.25}, remove=["large_school_enrolment"], reason="调整", now=NOW)
    assert profile.version == 2 and profile.values == {"full_time_share_min": 0.25}
    profile.change(set_values={"full_time_share_min": 0.25}, remove=[], reason="无变化", now=NOW)
    assert profile.version == 2


@pytest.mark.parametrize(
    ("values", "rule"),
    [
        ({"no_such_key": 1}, "unknown_policy_key"),
        ({"inspector_school_ratio": 2.5}, "policy_value_type"),
        ({"full_time_share_min": 1.5}, "policy_value_range"),
        ({"inspector_school_ratio": True}, "policy_value_type"),
    ],
)
def test_profile_values_are_checked_against_the_catalogue(values, rule):
    with pytest.raises(InvalidInput) as caught:
        validate_values(values)
    assert caught.value.rule == rule and caught.value.field.startswith("set.")


def test_the_shipped_profiles_carry_the_figures_of_the_policy_documents():
    shipped = {p["jurisdiction"]: p["values"] for p in shipped_profiles()}
    assert {"000000", "500000", "500120", "460000", "530113", "360000"} <= set(shipped)
    assert shipped["000000"]["inspector_school_ratio"] == 5
    assert shipped["460000"]["full_time_share_min"] == 0.2
    assert shipped["500120"] == {
        "committee_education_meetings_min": 4,
        "pupils_per_school_supervisor": 500,
        "government_inspectors_per_term_min": 100,
        "subject_inspectors_per_term_min": 50,
    }
    for values in shipped.values():
        assert validate_values(values) == values and set(values) <= set(KEYS)
