"""Rectification cases: every item command from every item state, feedback, deadlines, notices, re-checks, statements."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import pytest

from dudao.errors import InvalidInput, NotFound
from dudao.rules import RuleViolation
from services.accountability.domain.case import (
    CASE_TRANSITIONS,
    ITEM_TRANSITIONS,
    UNACCEPTED,
    CaseStatus,
    FeedbackMode,
    ItemStatus,
    RectificationCase,
    case_id,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
GIVEN = date(2026, 11, 5)
DEADLINE = date(2026, 12, 31)
SHA = "cd" * 32
MEASURE = UUID("00000000-0000-0000-0000-00000000e5c1")
S = ItemStatus


def finding(finding_id: str = "f1", **overrides) -> dict:
    return {
        "finding_id": finding_id,
        "area": "safety",
        "severity": "serious",
        "description": "消防通道堆放杂物",
        "rule_broken": "中小学幼儿园安全管理办法第十九条",
    } | overrides


def opened(findings: list[dict] | None = None, **overrides) -> RectificationCase:
    args = {
        "activity_id": "act-2026-001",
        "jurisdiction": "500120",
        "unit_kind": "school",
        "unit_id": "school-bishan-1",
        "unit_name": "璧山区实验小学",
        "activity_title": "2026年秋季学期综合督导",
        "findings": findings if findings is not None else [finding("f1")],
        "now": NOW,
    }
    return RectificationCase.open(**(args | overrides))


def feedback(**overrides) -> dict:
    return {
        "mode": FeedbackMode.written,
        "decision": "限期整改",
        "requirements": "清理消防通道并建立巡查制度",
        "deadlines": {},
        "default_deadline": DEADLINE,
        "deadline_basis": "500120@3",
        "given_on": GIVEN,
        "today": GIVEN,
    } | overrides


def evidence(**overrides) -> dict:
    return {"name": "整改照片.jpg", "sha256": SHA, "size": 2048, "media_type": "image/jpeg"} | overrides


def with_feedback(findings: list[dict] | None = None, **overrides) -> RectificationCase:
    case = opened(findings)
    case.give_feedback(**feedback(**overrides))
    return case


def escalate_after_notice(c: RectificationCase) -> None:
    """Escalation follows a notice: where the item can be noticed, notice it first, then escalate that lapse."""
    if c.items["f1"]["status"] in UNACCEPTED:
        notice(c, (c.items["f1"]["deadline"] or DEADLINE) + timedelta(days=1))
    c.escalate(item_id="f1", lapse=c.items["f1"]["lapses"] or 1, step="interview", measure_id=MEASURE, basis="000000@2")


COMMANDS = {
    "change_deadline": lambda c: c.change_deadline(
        item_id="f1", deadline=date(2027, 1, 31), reason="寒假施工", today=GIVEN
    ),
    "report_item": lambda c: c.report_item(
        item_id="f1", statement="已清理并建立每日巡查", evidence=[evidence()], reported_on=date(2026, 12, 1)
    ),
    "accept_item": lambda c: c.accept_item(item_id="f1", accepted_on=date(2026, 12, 10), recheck_due=date(2027, 6, 1)),
    "reject_item": lambda c: c.reject_item(
        item_id="f1", reason="照片不能说明问题已解决", rejected_on=date(2026, 12, 10)
    ),
    "issue_notice": lambda c: notice(c, (c.items["f1"]["deadline"] or DEADLINE) + timedelta(days=1)),
    "recheck_item": lambda c: c.recheck_item(item_id="f1", passed=True, rechecked_on=date(2027, 6, 1), note="未反弹"),
    "escalate": lambda c: escalate_after_notice(c),
}
RESULTING = {
    "change_deadline": None,  # the status stays as it was
    "report_item": S.reported,
    "accept_item": S.accepted,
    "reject_item": S.rejected,
    "issue_notice": None,
    "recheck_item": S.accepted,
    "escalate": None,
}
assert set(COMMANDS) == set(ITEM_TRANSITIONS) == set(RESULTING)

FAIL_RECHECK = lambda c: c.recheck_item(  # noqa: E731
    item_id="f1", passed=False, rechecked_on=date(2027, 6, 1), note="通道再次堆物", new_deadline=date(2027, 7, 1)
)
# The shortest way to bring item f1 into each state.
PATHS = {
    S.open: [],
    S.awaiting_report: ["feedback"],
    S.reported: ["feedback", "report_item"],
    S.accepted: ["feedback", "report_item", "accept_item"],
    S.rejected: ["feedback", "report_item", "reject_item"],
    S.rebounded: ["feedback", "report_item", "accept_item", "fail_recheck"],
}
STEPS = COMMANDS | {"feedback": lambda c: c.give_feedback(**feedback()), "fail_recheck": FAIL_RECHECK}


def case_with_item_in(state: ItemStatus) -> RectificationCase:
    case = opened()
    for step in PATHS[state]:
        STEPS[step](case)
    assert case.items["f1"]["status"] == state
    return case


CASES = [(command, state) for command in COMMANDS for state in ItemStatus]


@pytest.mark.parametrize(("command", "state"), CASES, ids=[f"{c}-from-{s}" for c, s in CASES])
def test_every_item_command_from_every_item_state(command, state):
    case = case_with_item_in(state)
    if state in ITEM_TRANSITIONS[command] and not (command == "issue_notice" and state is S.accepted):
        COMMANDS[command](case)
        assert case.items["f1"]["status"] == (RESULTING[command] or state)
    else:
        version = case.version
        with pytest.raises(RuleViolation) as caught:
            COMMANDS[command](case)
        expected = "not_overdue" if (command, state) == ("issue_notice", S.accepted) else "item_lifecycle"
        assert caught.value.rule == expected and caught.value.status == 409
        assert case.version == version, "a refused command must record nothing"


def test_the_walk_covers_every_item_state():
    assert set(PATHS) == set(ItemStatus)


def test_the_tables_are_the_documented_lifecycle():
    unaccepted = {S.awaiting_report, S.reported, S.rejected, S.rebounded}
    assert ITEM_TRANSITIONS == {
        "change_deadline": unaccepted,
        "report_item": {S.awaiting_report, S.rejected, S.rebounded},
        "accept_item": {S.reported},
        "reject_item": {S.reported},
        "issue_notice": unaccepted | {S.accepted},
        "recheck_item": {S.accepted},
        "escalate": unaccepted,
    }
    assert CASE_TRANSITIONS == {"give_feedback": {CaseStatus.opened}}


def test_a_refused_item_command_names_the_command_and_the_state():
    with pytest.raises(RuleViolation) as caught:
        case_with_item_in(S.open).report_item(item_id="f1", statement="已整改", evidence=[], reported_on=GIVEN)
    assert caught.value.field == "status"
    assert caught.value.extra == {"command": "report_item", "status_now": "open"}


def test_an_unknown_item_is_not_found():
    with pytest.raises(NotFound) as caught:
        with_feedback().report_item(item_id="f9", statement="已整改", evidence=[], reported_on=GIVEN)
    assert caught.value.rule == "item_not_found"


def test_labels_are_chinese():
    assert S.rebounded.label_zh == "问题反弹" and S.open.label_zh == "待反馈"
    assert FeedbackMode.meeting.label_zh == "会议反馈"
    assert {s.label_zh for s in ItemStatus} and {s.label_zh for s in CaseStatus}


# --- opening ---------------------------------------------------------------------------------------------------


def test_a_case_opens_with_one_open_item_per_finding():
    case = opened([finding("f1"), finding("f2", severity="minor")])
    assert case.id == case_id("act-2026-001")
    assert list(case.items) == ["f1", "f2"]
    assert {i["status"] for i in case.items.values()} == {"open"}
    assert case.items["f2"]["severity"] == "minor" and case.items["f1"]["deadline"] is None
    assert case.status is CaseStatus.opened


def test_case_id_is_stable_per_activity():
    assert case_id("act-1") == case_id("act-1") != case_id("act-2")


def test_a_report_without_findings_opens_no_case():
    with pytest.raises(RuleViolation) as caught:
        opened([])
    assert caught.value.rule == "nothing_to_rectify"


def test_a_finding_listed_twice_is_invalid():
    with pytest.raises(InvalidInput) as caught:
        opened([finding("f1"), finding("f1")])
    assert caught.value.rule == "unique"


def test_a_finding_without_description_is_invalid():
    with pytest.raises(InvalidInput) as caught:
        opened([finding("f1", description=" ")])
    assert caught.value.field == "findings.0.description"


# --- feedback --------------------------------------------------------------------------------------------------


def test_feedback_gives_every_item_the_default_deadline_unless_one_is_named():
    case = with_feedback([finding("f1"), finding("f2")], deadlines={"f2": date(2027, 2, 28)})
    assert case.items["f1"]["deadline"] == DEADLINE and case.items["f2"]["deadline"] == date(2027, 2, 28)
    assert {i["status"] for i in case.items.values()} == {"awaiting_report"}
    assert case.status is CaseStatus.in_rectification
    assert case.feedback["deadline_basis"] == "500120@3" and case.feedback["mode"] == "written"


def test_feedback_is_given_once():
    case = with_feedback()
    version = case.version
    with pytest.raises(RuleViolation) as caught:
        case.give_feedback(**feedback())
    assert caught.value.rule == "case_lifecycle" and case.version == version


@pytest.mark.parametrize(
    "overrides", [{"default_deadline": date(2026, 11, 4)}, {"deadlines": {"f1": date(2026, 11, 1)}}]
)
def test_a_deadline_before_the_feedback_is_refused(overrides):
    case = opened()
    with pytest.raises(InvalidInput) as caught:
        case.give_feedback(**feedback(**overrides))
    assert caught.value.rule == "deadline_in_past" and case.version == 1


def test_a_deadline_for_an_unknown_item_is_refused():
    with pytest.raises(InvalidInput) as caught:
        opened().give_feedback(**feedback(deadlines={"f9": DEADLINE}))
    assert caught.value.rule == "unknown_item"


def test_a_feedback_mode_outside_the_list_is_invalid():
    with pytest.raises(InvalidInput) as caught:
        opened().give_feedback(**feedback(mode="telepathy"))
    assert caught.value.field == "mode"


def test_a_deadline_change_needs_a_reason():
    case = with_feedback()
    with pytest.raises(InvalidInput) as caught:
        case.change_deadline(item_id="f1", deadline=date(2027, 1, 31), reason=" ", today=GIVEN)
    assert caught.value.field == "reason"
    case.change_deadline(item_id="f1", deadline=date(2027, 1, 31), reason="寒假施工", today=GIVEN)
    assert case.items["f1"]["deadline"] == date(2027, 1, 31)


# --- reports, acceptance, rejection ----------------------------------------------------------------------------


def test_a_rejected_item_is_reported_again_and_then_accepted():
    case = case_with_item_in(S.rejected)
    COMMANDS["report_item"](case)
    COMMANDS["accept_item"](case)
    assert case.items["f1"]["status"] == "accepted" and case.items["f1"]["reports"] == 2
    assert case.status is CaseStatus.closed


def test_evidence_must_name_its_content_hash():
    with pytest.raises(InvalidInput) as caught:
        with_feedback().report_item(
            item_id="f1", statement="已整改", evidence=[evidence(sha256="x")], reported_on=GIVEN
        )
    assert caught.value.field == "evidence.0.sha256"


def test_a_recheck_cannot_fall_due_before_acceptance():
    case = case_with_item_in(S.reported)
    with pytest.raises(InvalidInput):
        case.accept_item(item_id="f1", accepted_on=date(2026, 12, 10), recheck_due=date(2026, 12, 9))


def test_the_case_closes_only_when_every_item_is_accepted():
    case = with_feedback([finding("f1"), finding("f2")])
    for item_id in ("f1", "f2"):
        case.report_item(item_id=item_id, statement="已整改", evidence=[], reported_on=date(2026, 12, 1))
    case.accept_item(item_id="f1", accepted_on=date(2026, 12, 10), recheck_due=date(2027, 6, 1))
    assert case.status is CaseStatus.in_rectification
    case.accept_item(item_id="f2", accepted_on=date(2026, 12, 10), recheck_due=date(2027, 6, 1))
    assert case.status is CaseStatus.closed


# --- supervision notices ---------------------------------------------------------------------------------------


def notice(case: RectificationCase, today: date, **overrides) -> None:
    args = {"item_id": "f1", "today": today, "new_deadline": today + timedelta(days=30), "basis": "500120@3"}
    case.issue_notice(**(args | overrides))


def test_an_overdue_item_gets_a_notice_with_a_new_deadline():
    case = with_feedback()
    assert case.overdue_items(DEADLINE) == [] and case.overdue_items(DEADLINE + timedelta(days=1)) == ["f1"]
    notice(case, date(2027, 1, 1))
    assert case.items["f1"]["lapses"] == 1 and case.items["f1"]["deadline"] == date(2027, 1, 31)
    assert case.overdue_items(date(2027, 1, 1)) == []


def test_no_notice_on_or_before_the_deadline():
    case = with_feedback()
    with pytest.raises(RuleViolation) as caught:
        notice(case, DEADLINE)
    assert caught.value.rule == "not_overdue" and case.version == 2


def test_one_notice_per_lapse():
    case = with_feedback()
    notice(case, date(2027, 1, 1))
    version = case.version
    with pytest.raises(RuleViolation) as caught:
        notice(case, date(2027, 1, 1))
    assert caught.value.rule == "not_overdue" and case.version == version
    notice(case, date(2027, 2, 1))  # the new deadline (2027-01-31) has passed: the second lapse
    assert case.items["f1"]["lapses"] == 2 and case.items["f1"]["deadline"] == date(2027, 3, 3)


def test_a_notice_for_a_lapse_already_noticed_is_refused():
    """Two instances that read the same overdue item: the one that comes second names a lapse already noticed."""
    case = with_feedback()
    notice(case, date(2027, 1, 1), lapse=1)
    version = case.version
    with pytest.raises(RuleViolation) as caught:
        notice(case, date(2027, 2, 1), lapse=1)
    assert caught.value.rule == "notice_already_issued" and case.version == version
    notice(case, date(2027, 2, 1), lapse=2)
    assert case.items["f1"]["lapses"] == 2


def test_a_notice_deadline_must_lie_ahead():
    case = with_feedback()
    with pytest.raises(InvalidInput) as caught:
        notice(case, date(2027, 1, 1), new_deadline=date(2027, 1, 1))
    assert caught.value.rule == "deadline_in_past"


def test_a_reported_item_still_unaccepted_after_its_deadline_is_overdue():
    case = case_with_item_in(S.reported)
    assert case.overdue_items(date(2027, 1, 1)) == ["f1"]
    assert case_with_item_in(S.accepted).overdue_items(date(2027, 1, 1)) == []


# --- re-checks -------------------------------------------------------------------------------------------------


def test_a_passed_recheck_keeps_the_item_accepted():
    case = case_with_item_in(S.accepted)
    COMMANDS["recheck_item"](case)
    assert case.items["f1"]["status"] == "accepted" and case.items["f1"]["last_rechecked_on"] == date(2027, 6, 1)
    assert case.items["f1"]["rebounds"] == 0 and case.status is CaseStatus.closed


def test_a_failed_recheck_rebounds_with_a_new_deadline_and_counts_against_the_unit():
    case = case_with_item_in(S.rebounded)
    item = case.items["f1"]
    assert item["rebounds"] == 1 and item["deadline"] == date(2027, 7, 1)
    assert case.status is CaseStatus.in_rectification
    COMMANDS["report_item"](case)
    COMMANDS["accept_item"](case)
    FAIL_RECHECK(case)
    assert case.items["f1"]["rebounds"] == 2


def test_a_failed_recheck_needs_a_new_deadline():
    case = case_with_item_in(S.accepted)
    with pytest.raises(InvalidInput) as caught:
        case.recheck_item(item_id="f1", passed=False, rechecked_on=date(2027, 6, 1), note="反弹")
    assert caught.value.rule == "new_deadline_required"
    with pytest.raises(InvalidInput):
        case.recheck_item(item_id="f1", passed=True, rechecked_on=date(2027, 6, 1), note="好", new_deadline=DEADLINE)


# --- public statement ------------------------------------------------------------------------------------------


def test_the_statement_waits_until_every_item_is_reported_or_accepted():
    case = with_feedback([finding("f1"), finding("f2")])
    case.report_item(item_id="f1", statement="已整改", evidence=[], reported_on=date(2026, 12, 1))
    with pytest.raises(RuleViolation) as caught:
        case.publish_statement(text="整改情况公告", published_on=date(2026, 12, 2))
    assert caught.value.rule == "items_not_reported" and caught.value.extra["item_ids"] == ["f2"]
    case.accept_item(item_id="f1", accepted_on=date(2026, 12, 10), recheck_due=date(2027, 6, 1))
    case.report_item(item_id="f2", statement="已整改", evidence=[], reported_on=date(2026, 12, 11))
    case.publish_statement(text="整改情况公告", published_on=date(2026, 12, 12))
    assert case.statement == {"text": "整改情况公告", "published_on": date(2026, 12, 12), "public_version": 1}
    case.publish_statement(text="整改情况公告（更正）", published_on=date(2026, 12, 13))
    assert case.statement["public_version"] == 2  # a correction: the earlier text stays in the events


@pytest.mark.parametrize("state", [S.open, S.awaiting_report, S.rejected, S.rebounded])
def test_no_statement_while_an_item_waits_for_a_report(state):
    case = case_with_item_in(state)
    version = case.version
    with pytest.raises(RuleViolation):
        case.publish_statement(text="整改情况公告", published_on=date(2027, 7, 2))
    assert case.version == version


# --- dates: a fact is not dated after today nor before what it follows; a deadline never moves into the past --------


@pytest.mark.parametrize(
    ("given_on", "rule", "named"),
    [
        (date(2019, 5, 1), "date_order", "2026-11-03"),  # before the report was issued
        (date(2026, 11, 6), "date_in_future", "2026-11-05"),  # after today
    ],
)
def test_feedback_is_dated_between_the_report_and_today(given_on, rule, named):
    case = opened(report_issued_on=date(2026, 11, 3))
    with pytest.raises(InvalidInput) as caught:
        case.give_feedback(**feedback(given_on=given_on, today=GIVEN))
    assert (caught.value.rule, caught.value.field) == (rule, "given_on") and case.version == 1
    assert str(given_on) in caught.value.detail and named in caught.value.detail


def test_a_deadline_never_moves_into_the_past():
    case = with_feedback()
    version = case.version
    with pytest.raises(InvalidInput) as caught:
        case.change_deadline(item_id="f1", deadline=date(2026, 11, 19), reason="延期", today=date(2026, 11, 20))
    assert (
        caught.value.rule == "deadline_in_past"
        and "2026-11-19" in caught.value.detail
        and "2026-11-20" in caught.value.detail
    )
    assert case.version == version
    case.change_deadline(item_id="f1", deadline=date(2026, 11, 20), reason="当日完成", today=date(2026, 11, 20))
