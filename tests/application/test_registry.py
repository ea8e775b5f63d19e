"""The registry's rules through its application: an inspector's lifecycle, private details sealed with the
inspector's own key and erased with it, the responsible inspector's recusal, policy values that only tighten."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

from dudao.personal import ERASED
from dudao.profiles import effective
from services.registry.commands import (
    Activate,
    Appoint,
    AssignResponsibleInspector,
    ChangeProfile,
    CreateZone,
    DeclareTie,
    FileInspector,
    NominateInspector,
    PutSchoolInZone,
    RecordInspectorPersonal,
    RegisterSchool,
)
from services.registry.domain import Employment, Inspector, InspectorRole, Ownership, Stage
from services.registry.domain.inspector_terms import Status, TieKind
from tests.application.conftest import NOW, TODAY, recorded, refused
from tests.factories import caller

TERM = {"term_no": 5, "term_start": date(2024, 1, 1), "term_end": date(2028, 12, 31)}


def nominee(registry, jur: str = "500120", roles=(InspectorRole.responsible,)) -> Inspector:
    contact = "挂牌督学公示电话 023-00000000" if InspectorRole.listed in roles else None
    command = NominateInspector(
        name="李督学",
        jurisdiction=jur,
        employment=Employment.part_time,
        now=NOW,
        roles=list(roles),
        public_contact=contact,
    )
    return registry.nominate_inspector(command, caller(jur, new_id=uuid4()))


def serving(registry, jur: str = "500120", **given) -> Inspector:
    inspector = nominee(registry, jur, **given)
    registry.appoint(Appoint(inspector_id=inspector.id, **TERM), caller(jur))
    registry.file_inspector(
        FileInspector(inspector_id=inspector.id, filed_with="500000", filed_on=date(2024, 1, 5), today=TODAY),
        caller(jur),
    )
    return registry.activate(Activate(inspector_id=inspector.id, on=date(2024, 1, 10), today=TODAY), caller(jur))


def test_an_inspector_goes_from_nominee_to_active_through_appointment_and_filing(registry):
    inspector = serving(registry)

    assert inspector.status is Status.active
    assert recorded(registry, inspector.id) == ["Registered", "Appointed", "Filed", "Activated"]


def test_activation_before_appointment_is_a_lifecycle_409_and_records_nothing(registry):
    inspector = nominee(registry)

    refused(
        lambda: registry.activate(Activate(inspector_id=inspector.id, on=date(2024, 1, 10), today=TODAY), caller()),
        409,
        "inspector_lifecycle",
    )
    assert recorded(registry, inspector.id) == ["Registered"]


def test_an_inspector_is_filed_with_a_level_above_its_own_only(registry):
    inspector = nominee(registry)
    registry.appoint(Appoint(inspector_id=inspector.id, **TERM), caller())

    for place in ("500120", "500118", "110000"):
        refused(
            lambda place=place: registry.file_inspector(
                FileInspector(inspector_id=inspector.id, filed_with=place, filed_on=date(2024, 1, 5), today=TODAY),
                caller(),
            ),
            422,
            "filed_with_upper_level",
        )


def test_a_date_after_today_is_refused(registry):
    inspector = nominee(registry)
    registry.appoint(Appoint(inspector_id=inspector.id, **TERM), caller())

    refused(
        lambda: registry.file_inspector(
            FileInspector(inspector_id=inspector.id, filed_with="500000", filed_on=date(2026, 11, 21), today=TODAY),
            caller(),
        ),
        422,
        "date_in_future",
    )


def test_private_details_are_sealed_revealed_to_the_office_and_erased_with_the_key(registry):
    inspector = nominee(registry)

    kept = registry.record_inspector_personal(
        RecordInspectorPersonal(inspector_id=inspector.id, details={"mobile": "13800000000"}, now=NOW), caller()
    )

    stored = registry.events.get(inspector.id)
    assert "13800000000" not in repr([vars(e) for e in stored])
    assert registry.revealed(kept) == {"mobile": "13800000000"}
    keys, _ = registry.keys.held(kept.person())
    registry.keys.destroy(keys)
    assert registry.revealed(registry.get(inspector.id, Inspector)) == {"mobile": ERASED}


def test_a_bad_id_number_is_named_and_no_key_is_made(registry):
    inspector = nominee(registry)

    refused(
        lambda: registry.record_inspector_personal(
            RecordInspectorPersonal(inspector_id=inspector.id, details={"id_number": "110101199001011234"}, now=NOW),
            caller(),
        ),
        422,
        "id_number_checksum",
    )
    assert registry.keys.held(inspector.person()) == ([], None)


def test_no_key_is_made_for_someone_the_caller_may_not_touch(registry):
    inspector = nominee(registry)

    refused(
        lambda: registry.record_inspector_personal(
            RecordInspectorPersonal(inspector_id=inspector.id, details={"mobile": "13800000000"}, now=NOW),
            caller("500118"),
        ),
        403,
        "out_of_scope",
    )
    assert registry.keys.held(inspector.person()) == ([], None)


def a_school(registry):
    command = RegisterSchool(
        name="璧山区青岚小学",
        jurisdiction="500120",
        stage=Stage.primary,
        ownership=Ownership.public,
        enrolment=8,
        now=NOW,
    )
    return registry.register_school(command, caller(new_id=uuid4()))


def test_a_responsible_inspector_with_a_tie_to_the_school_must_recuse(registry):
    school, inspector = a_school(registry), serving(registry)
    registry.declare_tie(
        DeclareTie(inspector_id=inspector.id, unit_id=str(school.id), kind=TieKind.former_employer), caller()
    )

    refused(
        lambda: registry.assign_responsible_inspector(
            AssignResponsibleInspector(school_id=school.id, inspector_id=inspector.id), caller()
        ),
        409,
        "recusal",
    )
    assert recorded(registry, school.id) == ["Registered"]


def test_a_responsible_inspector_must_be_active_and_hold_the_role(registry):
    school = a_school(registry)

    for inspector in (nominee(registry), serving(registry, roles=(InspectorRole.listed,))):
        refused(
            lambda inspector=inspector: registry.assign_responsible_inspector(
                AssignResponsibleInspector(school_id=school.id, inspector_id=inspector.id), caller()
            ),
            409,
            "not_a_responsible_inspector",
        )
    zone = registry.create_zone(
        CreateZone(name="璧山区第一责任区", jurisdiction="500120", now=NOW), caller(new_id=uuid4())
    )
    registry.put_school_in_zone(PutSchoolInZone(school_id=school.id, zone_id=zone.id), caller())
    chosen = serving(registry)
    assigned = registry.assign_responsible_inspector(
        AssignResponsibleInspector(school_id=school.id, inspector_id=chosen.id), caller()
    )
    assert assigned.responsible_inspector_id == str(chosen.id)


def test_a_county_may_tighten_what_the_city_sets_and_never_loosen_it(registry):
    upper = effective("500000", {"500000": (1, {"rectification_days": 30})})
    loosen = ChangeProfile(
        jurisdiction="500120", set_values={"rectification_days": 60}, remove=[], reason="放宽", now=NOW, upper=upper
    )

    refused(lambda: registry.change_profile(loosen, caller()), 409, "policy_loosened")
    tightened = registry.change_profile(
        ChangeProfile(
            jurisdiction="500120", set_values={"rectification_days": 20}, remove=[], reason="从严", now=NOW, upper=upper
        ),
        caller(),
    )
    assert tightened.values == {"rectification_days": 20}
    refused(lambda: registry.change_profile(loosen, caller("500118")), 403, "out_of_scope")
