"""Accountability's rules through its application: feedback deadlines from the profile in force, the escalation
ladder climbed once per lapse, who may report on a case (the unit it concerns) and decide on a unit (the office over
its place), and commendation barred for a restricted leader."""

from __future__ import annotations

from datetime import date, timedelta
from uuid import uuid4

from dudao.events import Envelope
from services.accountability.application import Accountability
from services.accountability.commands import (
    Commend,
    GiveFeedback,
    ProposeInterview,
    PublishStatement,
    ReportItem,
    Unit,
)
from services.accountability.domain.case import FeedbackMode, RectificationCase
from services.accountability.domain.measures import Interview, escalation_id
from services.accountability.domain.terms import InterviewTrigger, UnitKind
from tests.application.conftest import NOW, TODAY, recorded, refused
from tests.factories import caller

SCHOOL = "s-1"
FINDING = {"finding_id": "f-1", "area": "teacher_ethics", "severity": "grave", "description": "有偿补课"}


def a_case(app: Accountability, jur: str = "500120") -> RectificationCase:
    """Given: the case opened by a report issued on 2026-10-20 (what the `open-case` reaction saves)."""
    case = RectificationCase.open(
        activity_id=str(uuid4()),
        jurisdiction=jur,
        unit_kind="school",
        unit_id=SCHOOL,
        unit_name="璧山区青岚小学",
        activity_title="综合督导",
        findings=[FINDING],
        now=NOW,
        report_issued_on=date(2026, 10, 20),
    )
    app.save(case, envelope=Envelope.for_request(actor="dudao-reaction", jurisdiction=jur))
    return case


def feedback(
    case: RectificationCase, given_on: date = date(2026, 10, 25), deadline: date | None = None
) -> GiveFeedback:
    return GiveFeedback(
        case_id=case.id,
        mode=FeedbackMode.written,
        decision="限期整改",
        requirements="停止有偿补课",
        given_on=given_on,
        deadlines={"f-1": deadline} if deadline else {},
        today=TODAY,
    )


def test_an_item_without_its_own_deadline_gets_the_profiles_rectification_period(accountability):
    case = a_case(accountability)
    days = accountability.profile_at("500120").get("rectification_days")

    given = accountability.give_feedback(feedback(case), caller())

    assert given.items["f-1"]["deadline"] == date(2026, 10, 25) + timedelta(days=days)
    assert given.feedback["deadline_basis"] == accountability.profile_at("500120").version


def test_a_profile_without_the_period_is_a_409_naming_the_key_and_nothing_is_recorded(settings):
    bare = Accountability(settings)  # no profile copied yet
    case = a_case(bare)

    refused(lambda: bare.give_feedback(feedback(case), caller()), 409, "policy_key_missing")
    assert recorded(bare, case.id) == ["Opened"]


def test_the_ladder_climbs_once_per_lapse_to_an_interview_then_a_circular(accountability):
    case = a_case(accountability)
    accountability.give_feedback(feedback(case, deadline=date(2026, 11, 1)), caller())
    profile = accountability.profile_at("500120")
    day = date(2026, 11, 2)

    for lapse in range(1, profile.get("circular_at_lapse") + 1):
        case = accountability.notice_overdue(case.id, "f-1", lapse, day, profile)
        day = case.items["f-1"]["deadline"] + timedelta(days=1)

    interview = accountability.get(escalation_id(case.id, "interview"), Interview)
    assert str(interview.status) == "proposed"
    assert accountability.exists(escalation_id(case.id, "circular"))
    assert recorded(accountability, case.id).count("NoticeIssued") == profile.get("circular_at_lapse")
    again = accountability.notice_overdue(case.id, "f-1", 1, day, profile)  # a sweeper retrying lapse 1
    assert again.version == case.version  # the lapse's key finds it done: nothing more is recorded


def test_an_item_not_yet_overdue_gets_no_notice(accountability):
    case = a_case(accountability)
    accountability.give_feedback(feedback(case, deadline=date(2026, 11, 30)), caller())

    refused(
        lambda: accountability.notice_overdue(case.id, "f-1", 1, TODAY, accountability.profile_at("500120")),
        409,
        "not_overdue",
    )


def test_the_unit_a_case_concerns_reports_on_it_and_no_other_unit_or_place_may(accountability):
    case = a_case(accountability)
    accountability.give_feedback(feedback(case), caller())
    report = ReportItem(case_id=case.id, item_id="f-1", statement="已停止", evidence=[], today=TODAY)

    refused(lambda: accountability.report_item(report, caller(roles=("unit",), unit="s-2")), 403, "own_unit_only")
    refused(lambda: accountability.report_item(report, caller("500118")), 403, "out_of_scope")
    reported = accountability.report_item(report, caller(roles=("unit",), unit=SCHOOL))

    assert reported.items["f-1"]["status"] == "reported"


def test_only_the_office_gives_feedback_and_a_unit_only_speaks_for_itself(accountability):
    case = a_case(accountability)

    refused(
        lambda: accountability.give_feedback(feedback(case), caller(roles=("unit",), unit=SCHOOL)),
        403,
        "out_of_scope",
    )
    refused(
        lambda: accountability.publish_statement(
            PublishStatement(case_id=case.id, text="整改情况", today=TODAY), caller(roles=("unit",), unit="s-2")
        ),
        403,
        "own_unit_only",
    )


def unit(jur: str = "500120") -> Unit:
    return Unit(jurisdiction=jur, unit_kind=UnitKind.school, unit_id=SCHOOL, unit_name="璧山区青岚小学")


def test_a_measure_on_a_unit_outside_the_callers_place_is_refused_before_it_is_made(accountability):
    made = uuid4()
    propose = ProposeInterview(
        unit=unit(),
        trigger=InterviewTrigger.duties_not_fulfilled,
        reason="整改不力",
        case_id=None,
        related_departments=[],
        today=TODAY,
    )

    refused(lambda: accountability.propose_interview(propose, caller("500118", new_id=made)), 403, "out_of_scope")
    assert not accountability.exists(made)
    assert accountability.propose_interview(propose, caller(new_id=made)).id == made


def test_a_leader_restricted_by_a_circular_is_not_commended(accountability):
    commend = Commend(
        unit=unit(),
        people=[{"name": "王校长", "post": "校长"}],
        reason="整改到位",
        activity_id=None,
        today=TODAY,
        restricted=frozenset({"王校长"}),
    )

    refused(lambda: accountability.commend(commend, caller(new_id=uuid4())), 409, "leader_restricted")
