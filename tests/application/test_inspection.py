"""Inspection's rules through its application: an activity's lifecycle step by step, who may take each step (the
office over its place, an inspector on its team, the unit it supervises), frequency control under its count, and a
draw's team binding the activity planned from it."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

from services.inspection.application import Inspection
from services.inspection.commands import (
    ApproveReport,
    AssignTeam,
    DraftReport,
    IssueReport,
    PlanActivity,
    RecordFindings,
    SendNotice,
    StartOnSite,
    SubmitSelfEvaluation,
)
from services.inspection.domain.activity import Activity, ActivityKind, TargetKind
from tests.application.conftest import NOW, TODAY, recorded, refused
from tests.factories import caller

LEADER, MEMBER, STRANGER = "insp-leader", "insp-member", "insp-stranger"
REGISTRY_SAYS = {who: {"name": who, "jurisdiction": "500120", "status": "active"} for who in (LEADER, MEMBER, STRANGER)}
FINDING = {
    "finding_id": "f-1",
    "area": "teacher_ethics",
    "severity": "grave",
    "description": "有偿补课",
    "needs_rectification": True,
    "looks_illegal": False,
    "evidence": "",
    "rule_broken": "",
}


def plan(
    app: Inspection, kind=ActivityKind.routine, school: str = "s-1", jur: str = "500120", caller_jur: str = "", **given
) -> Activity:
    command = PlanActivity(
        jurisdiction=jur,
        kind=kind,
        title="经常性督导",
        target_kind=TargetKind.school,
        target_id=school,
        target_name="璧山区青岚小学",
        period="2026-fall",
        planned_month="2026-10",
        topic=None,
        plan_id=None,
        frequency_override=given.pop("frequency_override", None),
        draw_id=None,
        earlier=0,
        now=NOW,
    )
    return app.plan_activity(command, caller(caller_jur or jur, new_id=uuid4(), **given))


def with_team(app: Inspection, activity: Activity) -> Activity:
    command = AssignTeam(
        activity_id=activity.id,
        leader_id=LEADER,
        member_ids=[MEMBER],
        deviation_reason=None,
        ties={},
        inspectors=REGISTRY_SAYS,
        now=NOW,
    )
    return app.assign_team(command, caller())


def on_site(app: Inspection) -> Activity:
    activity = with_team(app, plan(app))
    app.send_notice(SendNotice(activity_id=activity.id, notified_on=date(2026, 10, 8), today=TODAY), caller())
    return app.start_on_site(StartOnSite(activity_id=activity.id, on=date(2026, 10, 10), today=TODAY), caller())


def test_a_routine_visit_goes_from_plan_to_issued_report_step_by_step(inspection):
    activity = on_site(inspection)
    inspection.record_findings(RecordFindings(activity_id=activity.id, findings=[FINDING], now=NOW), caller())
    inspection.draft_report(DraftReport(activity_id=activity.id, summary="草稿", score=None, now=NOW), caller())
    inspection.approve_report(ApproveReport(activity_id=activity.id, now=NOW), caller())

    issued = inspection.issue_report(
        IssueReport(activity_id=activity.id, issued_on=date(2026, 10, 20), now=NOW), caller()
    )

    assert str(issued.status) == "report_issued"
    assert recorded(inspection, activity.id)[-1] == "ReportIssued"


def test_a_skipped_step_is_a_lifecycle_409_and_records_nothing(inspection):
    activity = on_site(inspection)
    before = recorded(inspection, activity.id)

    refused(
        lambda: inspection.issue_report(
            IssueReport(activity_id=activity.id, issued_on=date(2026, 10, 20), now=NOW), caller()
        ),
        409,
        "activity_lifecycle",
    )
    assert recorded(inspection, activity.id) == before


def test_an_inspector_on_the_team_records_findings_and_one_off_it_is_refused(inspection):
    activity = on_site(inspection)
    findings = RecordFindings(activity_id=activity.id, findings=[FINDING], now=NOW)

    refused(
        lambda: inspection.record_findings(findings, caller(sub=STRANGER, roles=("inspector",))), 403, "not_on_team"
    )
    recorded_by_member = inspection.record_findings(findings, caller(sub=MEMBER, roles=("inspector",)))

    assert recorded_by_member.findings[0]["description"] == "有偿补课"


def test_only_the_unit_it_supervises_submits_the_self_evaluation(inspection):
    activity = with_team(inspection, plan(inspection, ActivityKind.comprehensive))
    inspection.send_notice(SendNotice(activity_id=activity.id, notified_on=date(2026, 10, 8), today=TODAY), caller())
    evaluation = SubmitSelfEvaluation(
        activity_id=activity.id, items=[{"item": "师德", "score": 90.0, "comment": ""}], evidence=[], now=NOW
    )

    refused(
        lambda: inspection.submit_self_evaluation(evaluation, caller(roles=("unit",), unit="s-2")), 403, "own_unit_only"
    )
    submitted = inspection.submit_self_evaluation(evaluation, caller(roles=("unit",), unit="s-1"))

    assert submitted.self_evaluation["submitted_by"] == "tester"


def test_a_notice_dated_after_today_is_refused(inspection):
    activity = with_team(inspection, plan(inspection))

    refused(
        lambda: inspection.send_notice(
            SendNotice(activity_id=activity.id, notified_on=date(2026, 11, 21), today=TODAY), caller()
        ),
        422,
        "date_in_future",
    )


def test_supervisions_of_a_school_beyond_the_profiles_limit_need_an_override(inspection):
    limit = inspection.profile_at("500120").get("visits_per_school_per_semester_max")
    for _ in range(limit):
        plan(inspection, ActivityKind.comprehensive)

    refused(lambda: plan(inspection, ActivityKind.comprehensive), 409, "visit_frequency_limit")
    assert plan(inspection, ActivityKind.comprehensive, frequency_override="专项整治需要").id
    assert plan(inspection, ActivityKind.comprehensive, school="s-2").id  # another school has its own count


def test_an_office_outside_the_place_may_not_plan_there(inspection):
    refused(lambda: plan(inspection, caller_jur="500118"), 403, "out_of_scope")
