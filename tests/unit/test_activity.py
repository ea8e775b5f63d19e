"""Supervision activities: every allowed and every forbidden transition, kinds, topics, targets, recusal, findings, report."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import uuid4

import pytest

from dudao.errors import InvalidInput, Problem
from dudao.rules import RuleViolation
from services.inspection.domain.activity import (
    NEEDS_SELF_EVALUATION,
    TRANSITIONS,
    Activity,
    ActivityKind,
    FindingArea,
    Grade,
    Severity,
    SpecialTopic,
    Status,
    TargetKind,
    transitions_for,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 10, 12, 9, 0, tzinfo=UTC)
DAY = date(2026, 10, 12)
SCHOOL = "school-bishan-1"
SHA = "ab" * 32


# What the registry says of the inspectors the tests name: active, of the activity's county.
ACTIVE = {
    f"insp-{n}": {"name": f"督学{n}", "jurisdiction": "500120", "status": "active", "filed_with": "500000"}
    for n in range(1, 5)
}


def a_target_for(kind: ActivityKind) -> TargetKind:
    return (
        TargetKind.school if kind in (ActivityKind.routine, ActivityKind.principal_term_end) else TargetKind.government
    )


def planned(kind: ActivityKind = ActivityKind.comprehensive, **overrides) -> Activity:
    args = {
        "activity_id": uuid4(),
        "jurisdiction": "500120",
        "kind": kind,
        "title": "2026年秋季学期综合督导",
        "target_kind": TargetKind.school,
        "target_id": SCHOOL,
        "target_name": "璧山区实验小学",
        "period": "2026-fall",
        "planned_month": "2026-10",
        "topic": None,
        "plan_id": "plan-2026",
        "source": "plan",
        "now": NOW,
    }
    return Activity.plan(**(args | overrides))


def finding(finding_id: str, *, needs_rectification: bool = True, **overrides) -> dict:
    return {
        "finding_id": finding_id,
        "area": FindingArea.safety,
        "severity": Severity.serious,
        "description": "消防通道堆放杂物",
        "evidence": "现场照片3张",
        "rule_broken": "中小学幼儿园安全管理办法第十九条",
        "needs_rectification": needs_rectification,
        "looks_illegal": False,
    } | overrides


def self_evaluation(items: list[dict] | None = None, evidence: list[dict] | None = None) -> dict:
    return {
        "items": items if items is not None else [{"item": "安全管理", "score": 88.5, "comment": "制度健全"}],
        "evidence": evidence
        if evidence is not None
        else [{"name": "自评报告.pdf", "sha256": SHA, "size": 10240, "media_type": "application/pdf"}],
        "submitted_by": "校长 王芳",
        "now": NOW,
    }


COMMANDS = {
    "assign_team": lambda a: a.assign_team(
        leader_id="insp-1", member_ids=["insp-2", "insp-3"], ties={}, inspectors=ACTIVE
    ),
    "notify": lambda a: a.notify(notified_on=DAY, today=DAY),
    "submit_self_evaluation": lambda a: a.submit_self_evaluation(**self_evaluation()),
    "start_on_site": lambda a: a.start_on_site(on=DAY, today=DAY),
    "record_findings": lambda a: a.record_findings(findings=[finding(f"f{len(a.findings) + 1}")], now=NOW),
    "draft_report": lambda a: a.draft_report(summary="办学规范，安全管理有短板", grade=None, now=NOW),
    "approve_report": lambda a: a.approve_report(approved_by="总督学 陈刚", now=NOW),
    "issue_report": lambda a: a.issue_report(issued_on=DAY, now=NOW),
    "publish": lambda a: a.publish(public_summary="督导报告摘要", now=NOW),
}
RESULTING = {
    "assign_team": Status.team_assigned,
    "notify": Status.notified,
    "submit_self_evaluation": Status.self_evaluation_submitted,
    "start_on_site": Status.on_site,
    "record_findings": Status.findings_recorded,
    "draft_report": Status.report_drafted,
    "approve_report": Status.report_approved,
    "issue_report": Status.report_issued,
    "publish": Status.published,
}
assert set(COMMANDS) == set(TRANSITIONS) == set(RESULTING)

# The shortest way to reach each state from a fresh plan; a routine visit skips the self-evaluation.
AFTER_NOTICE = ["record_findings", "draft_report", "approve_report", "issue_report", "publish"]
WITH_SELF_EVALUATION = ["assign_team", "notify", "submit_self_evaluation", "start_on_site", *AFTER_NOTICE]
WITHOUT_SELF_EVALUATION = ["assign_team", "notify", "start_on_site", *AFTER_NOTICE]


def paths(route: list[str]) -> dict[Status, list[str]]:
    return {Status.planned: []} | {RESULTING[c]: route[: i + 1] for i, c in enumerate(route)}


PATHS = {ActivityKind.comprehensive: paths(WITH_SELF_EVALUATION), ActivityKind.routine: paths(WITHOUT_SELF_EVALUATION)}


def activity_in(state: Status, kind: ActivityKind = ActivityKind.comprehensive) -> Activity:
    activity = planned(kind)
    for command in PATHS[kind][state]:
        COMMANDS[command](activity)
    assert activity.status is state
    return activity


CASES = [(kind, command, state) for kind in PATHS for command in COMMANDS for state in PATHS[kind]]


@pytest.mark.parametrize(("kind", "command", "state"), CASES, ids=[f"{k}-{c}-from-{s}" for k, c, s in CASES])
def test_every_lifecycle_command_from_every_reachable_state(kind, command, state):
    activity = activity_in(state, kind)
    if state in transitions_for(kind)[command]:
        COMMANDS[command](activity)
        assert activity.status is RESULTING[command]
    else:
        version = activity.version
        with pytest.raises(RuleViolation) as caught:
            COMMANDS[command](activity)
        # A kind without a self-evaluation refuses one for that reason, whatever its state.
        skipped = command == "submit_self_evaluation" and kind not in NEEDS_SELF_EVALUATION
        expected = "no_self_evaluation_for_kind" if skipped else "activity_lifecycle"
        assert caught.value.rule == expected and caught.value.status == 409
        assert activity.version == version, "a refused command must record nothing"


def test_the_walk_covers_every_state_for_a_kind_with_a_self_evaluation():
    assert set(PATHS[ActivityKind.comprehensive]) == set(Status)
    assert set(PATHS[ActivityKind.routine]) == set(Status) - {Status.self_evaluation_submitted}


def test_the_tables_are_the_documented_lifecycle():
    """The walk checks the aggregate against its tables; this pins the tables themselves."""
    S = Status
    assert TRANSITIONS == {
        "assign_team": {S.planned, S.team_assigned},
        "notify": {S.team_assigned},
        "submit_self_evaluation": {S.notified},
        "start_on_site": {S.self_evaluation_submitted},
        "record_findings": {S.on_site, S.findings_recorded},
        "draft_report": {S.findings_recorded, S.report_drafted},
        "approve_report": {S.report_drafted},
        "issue_report": {S.report_approved},
        "publish": {S.report_issued},
    }
    assert transitions_for(ActivityKind.routine) == TRANSITIONS | {
        "submit_self_evaluation": set(),
        "start_on_site": {S.notified},
    }


def test_the_tables_name_only_known_states():
    for kind in ActivityKind:
        assert set().union(*transitions_for(kind).values()) <= set(Status)


def test_a_refused_transition_names_the_command_and_the_state():
    with pytest.raises(RuleViolation) as caught:
        activity_in(Status.notified).start_on_site(on=DAY, today=DAY)
    assert caught.value.field == "status"
    assert caught.value.extra == {"command": "start_on_site", "status_now": "notified"}


@pytest.mark.parametrize("kind", list(ActivityKind))
def test_which_kinds_need_a_self_evaluation(kind):
    needs = kind not in (ActivityKind.special, ActivityKind.routine)
    topic = SpecialTopic.safety if kind is ActivityKind.special else None
    assert planned(kind, target_kind=a_target_for(kind), topic=topic).needs_self_evaluation is needs


# --- planning ------------------------------------------------------------------------------------------------


def test_a_special_supervision_needs_a_topic():
    with pytest.raises(RuleViolation) as caught:
        planned(ActivityKind.special)
    assert (caught.value.rule, caught.value.field) == ("topic_required_for_special", "topic")
    assert planned(ActivityKind.special, topic=SpecialTopic.double_reduction).topic is SpecialTopic.double_reduction


@pytest.mark.parametrize("kind", [k for k in ActivityKind if k is not ActivityKind.special])
def test_only_a_special_supervision_has_a_topic(kind):
    with pytest.raises(RuleViolation) as caught:
        planned(kind, target_kind=a_target_for(kind), topic=SpecialTopic.safety)
    assert (caught.value.rule, caught.value.field) == ("topic_only_for_special", "topic")


def test_a_topic_outside_the_list_is_invalid_input():
    with pytest.raises(InvalidInput) as caught:
        planned(ActivityKind.special, topic="weather")
    assert caught.value.field == "topic"


ALLOWED_TARGETS = {
    ActivityKind.duty_evaluation: {TargetKind.government, TargetKind.department},
    ActivityKind.comprehensive: set(TargetKind),
    ActivityKind.special: set(TargetKind),
    ActivityKind.routine: {TargetKind.school},
    ActivityKind.principal_term_end: {TargetKind.school},
    ActivityKind.balanced_development_assessment: {TargetKind.government},
    ActivityKind.preschool_assessment: {TargetKind.government},
}
TARGET_CASES = [(kind, target) for kind in ActivityKind for target in TargetKind]


@pytest.mark.parametrize(("kind", "target"), TARGET_CASES, ids=[f"{k}-of-{t}" for k, t in TARGET_CASES])
def test_each_kind_supervises_only_its_kinds_of_target(kind, target):
    topic = SpecialTopic.teacher_pay if kind is ActivityKind.special else None
    if target in ALLOWED_TARGETS[kind]:
        assert planned(kind, target_kind=target, topic=topic).target_kind is target
    else:
        with pytest.raises(RuleViolation) as caught:
            planned(kind, target_kind=target, topic=topic)
        assert (caught.value.rule, caught.value.field) == ("target_kind_for_activity", "target_kind")


@pytest.mark.parametrize("period", ["2026", "2026-autumn", "26-fall", "2026-Fall", "2026-fall "])
def test_a_period_is_a_year_and_a_term(period):
    with pytest.raises(InvalidInput) as caught:
        planned(period=period)
    assert caught.value.field == "period"


@pytest.mark.parametrize("month", ["2026-13", "2026-00", "2026-1", "2026/10", "10-2026"])
def test_a_planned_month_is_year_and_month(month):
    with pytest.raises(InvalidInput) as caught:
        planned(planned_month=month)
    assert caught.value.field == "planned_month"


@pytest.mark.parametrize(("field", "value"), [("jurisdiction", "bishan"), ("source", "rumour"), ("title", "  ")])
def test_planning_refuses_bad_input(field, value):
    with pytest.raises(InvalidInput) as caught:
        planned(**{field: value})
    assert caught.value.field == field


def test_planning_records_one_planned_event_with_plain_values():
    activity = planned()
    (event,) = activity.collect_events()
    assert type(event).__name__ == "Planned"
    assert (activity.kind, activity.status, activity.source) == (ActivityKind.comprehensive, Status.planned, "plan")
    assert Status.planned.label_zh == "已计划" and ActivityKind.routine.label_zh == "经常性督导"


# --- team and recusal --------------------------------------------------------------------------------------------


def test_the_leader_is_a_member_of_the_team():
    activity = planned(draw_id="draw-7", drawn_team=["insp-1", "insp-2"])
    activity.assign_team(leader_id="insp-1", member_ids=["insp-2"], ties={}, inspectors=ACTIVE)
    assert activity.team == {"leader_id": "insp-1", "member_ids": ["insp-1", "insp-2"], "drawn_by": "draw-7"}
    activity.assign_team(
        leader_id="insp-3", member_ids=["insp-2", "insp-3"], ties={}, inspectors=ACTIVE, deviation_reason="甲回避"
    )
    assert activity.team == {"leader_id": "insp-3", "member_ids": ["insp-2", "insp-3"], "drawn_by": None}


def test_an_inspector_is_listed_once():
    with pytest.raises(InvalidInput) as caught:
        planned().assign_team(leader_id="insp-1", member_ids=["insp-2", "insp-2"], ties={}, inspectors=ACTIVE)
    assert (caught.value.rule, caught.value.field) == ("unique", "member_ids")


@pytest.mark.parametrize("drawn_by", ["draw-7", None], ids=["drawn", "named"])
@pytest.mark.parametrize("tied", ["insp-1", "insp-2"], ids=["leader", "member"])
def test_an_inspector_tied_to_the_target_must_recuse(tied, drawn_by):
    activity = planned(draw_id=drawn_by, drawn_team=["insp-1", "insp-2"])
    ties = {tied: {SCHOOL, "school-other"}}
    with pytest.raises(RuleViolation) as caught:
        activity.assign_team(leader_id="insp-1", member_ids=["insp-2"], ties=ties, inspectors=ACTIVE)
    assert (caught.value.rule, caught.value.field) == ("recusal", "member_ids")
    assert caught.value.extra["inspector_id"] == tied and tied in caught.value.detail
    assert activity.version == 1 and activity.team is None


def test_ties_to_other_units_do_not_bar_an_inspector():
    activity = planned()
    activity.assign_team(
        leader_id="insp-1", member_ids=["insp-2"], ties={"insp-1": {"school-other"}, "insp-2": set()}, inspectors=ACTIVE
    )
    assert activity.status is Status.team_assigned


# --- self-evaluation -----------------------------------------------------------------------------------------------


def test_a_self_evaluation_is_recorded_with_its_evidence():
    activity = activity_in(Status.notified)
    activity.submit_self_evaluation(**self_evaluation())
    assert activity.self_evaluation["items"] == [{"item": "安全管理", "score": 88.5, "comment": "制度健全"}]
    assert activity.self_evaluation["evidence"][0]["sha256"] == SHA


@pytest.mark.parametrize("score", [-0.5, 100.5, float("nan"), "90", True, None])
def test_a_self_evaluation_score_is_from_0_to_100(score):
    with pytest.raises(InvalidInput) as caught:
        activity_in(Status.notified).submit_self_evaluation(**self_evaluation(items=[{"item": "安全", "score": score}]))
    assert (caught.value.rule, caught.value.field) == ("score_range", "items.0.score")


def test_a_self_evaluation_needs_an_item():
    with pytest.raises(InvalidInput) as caught:
        activity_in(Status.notified).submit_self_evaluation(**self_evaluation(items=[]))
    assert caught.value.field == "items"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"sha256": "ab" * 31}, "evidence.0.sha256"),
        ({"sha256": "zz" * 32}, "evidence.0.sha256"),
        ({"size": -1}, "evidence.0.size"),
        ({"size": 1.5}, "evidence.0.size"),
        ({"media_type": "pdf"}, "evidence.0.media_type"),
        ({"name": ""}, "evidence.0.name"),
    ],
)
def test_evidence_files_are_checked(change, field):
    file = {"name": "自评报告.pdf", "sha256": SHA, "size": 10240, "media_type": "application/pdf"} | change
    activity = activity_in(Status.notified)
    with pytest.raises(InvalidInput) as caught:
        activity.submit_self_evaluation(**self_evaluation(evidence=[file]))
    assert caught.value.field == field
    assert activity.status is Status.notified


def test_a_routine_visit_has_no_self_evaluation():
    activity = activity_in(Status.notified, ActivityKind.routine)
    with pytest.raises(RuleViolation) as caught:
        activity.submit_self_evaluation(**self_evaluation())
    assert caught.value.rule == "no_self_evaluation_for_kind"
    activity.start_on_site(on=DAY, today=DAY)
    assert activity.status is Status.on_site


# --- findings ------------------------------------------------------------------------------------------------------


def test_findings_accumulate_until_the_report_is_drafted():
    activity = activity_in(Status.on_site)
    activity.record_findings(findings=[finding("f1"), finding("f2", area=FindingArea.fees)], now=NOW)
    activity.record_findings(findings=[finding("f3")], now=NOW)
    assert [f["finding_id"] for f in activity.findings] == ["f1", "f2", "f3"]
    assert activity.findings[1]["area"] is FindingArea.fees


def test_a_finding_id_is_recorded_once():
    activity = activity_in(Status.findings_recorded)
    existing = activity.findings[0]["finding_id"]
    for batch in ([finding(existing)], [finding("new"), finding("new")]):
        with pytest.raises(RuleViolation) as caught:
            activity.record_findings(findings=batch, now=NOW)
        assert caught.value.rule == "finding_exists"
    assert len(activity.findings) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"area": "weather"}, "area"),
        ({"severity": "catastrophic"}, "severity"),
        ({"description": "  "}, "description"),
        ({"finding_id": ""}, "finding_id"),
        ({"needs_rectification": "yes"}, "needs_rectification"),
        ({"looks_illegal": None}, "looks_illegal"),
        ({"evidence": None}, "evidence"),
    ],
)
def test_findings_are_checked(change, field):
    activity = activity_in(Status.on_site)
    with pytest.raises(InvalidInput) as caught:
        activity.record_findings(findings=[finding("f1"), finding("f2") | change], now=NOW)
    assert caught.value.field == f"findings.1.{field}"
    assert activity.status is Status.on_site and activity.findings == []


def test_a_visit_that_found_nothing_records_an_empty_list():
    activity = activity_in(Status.on_site)
    activity.record_findings(findings=[], now=NOW)
    assert activity.status is Status.findings_recorded and activity.findings == []


# --- report --------------------------------------------------------------------------------------------------------


def duty_evaluation_with_findings() -> Activity:
    activity = planned(
        ActivityKind.duty_evaluation,
        target_kind=TargetKind.government,
        target_id="500120",
        target_name="璧山区人民政府",
    )
    COMMANDS["assign_team"](activity)
    COMMANDS["notify"](activity)
    COMMANDS["submit_self_evaluation"](activity)
    COMMANDS["start_on_site"](activity)
    return activity


def test_a_duty_evaluation_report_needs_a_grade():
    activity = duty_evaluation_with_findings()
    activity.record_findings(findings=[finding("f1", area=FindingArea.teacher_pay)], now=NOW)
    with pytest.raises(RuleViolation) as caught:
        activity.draft_report(summary="教师工资未达公务员水平", grade=None, now=NOW)
    assert (caught.value.rule, caught.value.field) == ("grade_required_for_duty_evaluation", "grade")
    with pytest.raises(InvalidInput) as caught:
        activity.draft_report(summary="教师工资未达公务员水平", grade="还行", now=NOW)
    assert (caught.value.rule, caught.value.field) == ("not_in_list", "grade")
    activity.draft_report(summary="教师工资未达公务员水平", grade="good", now=NOW)
    assert activity.grade == "good" and Grade(activity.grade).label_zh == "良好"


def test_only_a_duty_evaluation_is_graded():
    activity = activity_in(Status.findings_recorded)
    with pytest.raises(RuleViolation) as caught:
        activity.draft_report(summary="总体良好", grade="优秀", now=NOW)
    assert (caught.value.rule, caught.value.field) == ("grade_only_for_duty_evaluation", "grade")


def test_the_issued_report_carries_only_findings_that_need_rectification():
    activity = activity_in(Status.on_site)
    activity.record_findings(
        findings=[finding("f1"), finding("f2", needs_rectification=False), finding("f3", looks_illegal=True)], now=NOW
    )
    for command in ["draft_report", "approve_report", "issue_report"]:
        COMMANDS[command](activity)
    issued = activity.collect_events()[-1]
    assert type(issued).__name__ == "ReportIssued"
    assert [f["finding_id"] for f in issued.findings] == ["f1", "f3"]
    assert issued.findings[0] == {
        "finding_id": "f1",
        "area": "safety",
        "severity": "serious",
        "description": "消防通道堆放杂物",
        "evidence": "现场照片3张",
        "rule_broken": "中小学幼儿园安全管理办法第十九条",
        "needs_rectification": True,
        "looks_illegal": False,
    }
    assert type(issued.findings[0]["area"]) is str, "events hold plain values"
    assert (issued.jurisdiction, issued.kind, issued.target_kind, issued.target_id, issued.target_name) == (
        "500120",
        "comprehensive",
        "school",
        SCHOOL,
        "璧山区实验小学",
    )
    assert issued.issued_on == DAY and activity.issued_on == DAY


def test_a_published_report_keeps_its_public_summary():
    activity = activity_in(Status.published)
    assert activity.public_summary == "督导报告摘要"
    assert [type(e).__name__ for e in activity.collect_events()][-2:] == ["ReportIssued", "Published"]


def test_a_duty_evaluation_grade_follows_the_profiles_bands():
    from services.inspection.domain.activity import grade_for

    bands = {"duty_grade_excellent_min": 90, "duty_grade_good_min": 80, "duty_grade_qualified_min": 60}
    assert [grade_for(s, bands) for s in (95, 90, 89.9, 80, 60, 59.5)] == [
        "excellent",
        "excellent",
        "good",
        "good",
        "qualified",
        "unqualified",
    ]
    with pytest.raises(RuleViolation) as caught:
        grade_for(70, {"duty_grade_good_min": 80})
    assert caught.value.rule == "no_grade_bands"


@pytest.mark.parametrize(
    ("month", "semester"),
    [
        ("2026-08", "2026-fall"),
        ("2026-12", "2026-fall"),
        ("2027-01", "2026-fall"),
        ("2027-02", "2027-spring"),
        ("2027-07", "2027-spring"),
    ],
)
def test_a_month_falls_in_one_semester_january_in_the_fall_that_began_the_year_before(month, semester):
    from datetime import date

    from services.inspection.domain.activity_terms import semester_of

    assert semester_of(date.fromisoformat(f"{month}-01")) == semester
    assert planned(period=semester, planned_month=month).period == semester


def test_a_period_that_disagrees_with_the_planned_month_is_refused_naming_both():
    """Issue 18: `2027-spring` with `2026-12` slipped past frequency control, which counts by period."""
    with pytest.raises(InvalidInput) as refused:
        planned(period="2027-spring", planned_month="2026-12")
    assert refused.value.field == "period" and refused.value.rule == "period_month_mismatch"
    assert "2026-12" in refused.value.detail and "2026-fall" in refused.value.detail


@pytest.mark.parametrize(
    ("known", "field", "rule"),
    [
        ({}, "leader_id", "unknown_inspector"),
        ({"insp-1": ACTIVE["insp-1"] | {"status": "suspended"}}, "leader_id", "inspector_not_active"),
        ({"insp-2": ACTIVE["insp-2"] | {"status": "exited"}}, "member_ids.0", "inspector_not_active"),
        (
            {"insp-2": ACTIVE["insp-2"] | {"jurisdiction": "500151", "filed_with": "500000"}},
            "member_ids.0",
            "inspector_out_of_jurisdiction",
        ),
    ],
)
def test_a_team_is_of_active_inspectors_of_the_activitys_place(known, field, rule):
    """Issue 18: a dismissed inspector, a random id and another county's inspector were all accepted."""
    inspectors = {k: v for k, v in ACTIVE.items() if k in ("insp-1", "insp-2")} | known
    if not known:
        inspectors.pop("insp-1")
    activity = planned()
    with pytest.raises(Problem) as refused:  # 422 for what is not there, 409 for who may not serve
        activity.assign_team(leader_id="insp-1", member_ids=["insp-2"], ties={}, inspectors=inspectors)
    assert (refused.value.field, refused.value.rule) == (field, rule)
    assert activity.status is Status.planned


def test_an_inspector_of_the_level_above_or_filed_with_this_office_may_serve():
    city = {"name": "市督学", "jurisdiction": "500000", "status": "active", "filed_with": None}
    township_filed_here = {"name": "镇督学", "jurisdiction": "500120001", "status": "active", "filed_with": "500120"}
    activity = planned()
    activity.assign_team(leader_id="c", member_ids=["t"], ties={}, inspectors={"c": city, "t": township_filed_here})
    assert activity.member_ids == ["c", "t"]


# --- dates and the draw ---------------------------------------------------------------------------------------


def test_the_site_visit_follows_the_notice_and_the_report_the_visit_and_neither_is_in_the_future():
    notified = activity_in(Status.team_assigned, ActivityKind.routine)
    with pytest.raises(InvalidInput) as caught:
        notified.notify(notified_on=date(2026, 10, 13), today=DAY)
    assert (
        caught.value.rule == "date_in_future"
        and "2026-10-13" in caught.value.detail
        and "2026-10-12" in caught.value.detail
    )
    notified.notify(notified_on=date(2026, 10, 8), today=DAY)
    with pytest.raises(InvalidInput) as caught:
        notified.start_on_site(on=date(2026, 10, 7), today=DAY)
    assert (
        caught.value.rule == "date_order"
        and "2026-10-07" in caught.value.detail
        and "2026-10-08" in caught.value.detail
    )
    notified.start_on_site(on=date(2026, 10, 9), today=DAY)
    for command in ("record_findings", "draft_report", "approve_report"):
        COMMANDS[command](notified)
    with pytest.raises(InvalidInput) as caught:
        notified.issue_report(issued_on=date(2019, 1, 1), now=NOW)
    assert (
        caught.value.rule == "date_order"
        and caught.value.field == "issued_on"
        and notified.status is Status.report_approved
    )


def test_an_activity_from_a_draw_takes_the_drawn_team_or_records_why_not():
    activity = planned(draw_id="draw-1", drawn_team=["insp-1", "insp-2"])
    with pytest.raises(RuleViolation) as caught:
        activity.assign_team(leader_id="insp-1", member_ids=["insp-3"], ties={}, inspectors=ACTIVE)
    assert caught.value.rule == "drawn_team_binds" and activity.status is Status.planned
    activity.assign_team(leader_id="insp-2", member_ids=["insp-1"], ties={}, inspectors=ACTIVE)
    assert (activity.drawn_by, activity.deviation_reason) == ("draw-1", None)
    activity.assign_team(
        leader_id="insp-1", member_ids=["insp-3"], ties={}, inspectors=ACTIVE, deviation_reason="原督学回避"
    )
    assert (activity.drawn_by, activity.deviation_reason) == (None, "原督学回避")
