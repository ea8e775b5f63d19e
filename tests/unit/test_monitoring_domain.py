"""Frameworks keep every version and pin one per period; submissions and level approvals walk their lifecycles."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dudao.errors import Conflict, NotFound
from dudao.rules import RuleViolation
from services.monitoring.domain.collection import (
    LEVEL_TRANSITIONS,
    SUBMISSION_TRANSITIONS,
    AgencyAssignment,
    LevelApproval,
    LevelStatus,
    Submission,
    SubmissionStatus,
    UpperAcceptance,
)
from services.monitoring.domain.framework import Framework, check_period

pytestmark = pytest.mark.unit
NOW = datetime(2026, 9, 1, tzinfo=UTC)
SHIPPED = Path(__file__).resolve().parents[2] / "services" / "monitoring" / "frameworks"


def preschool() -> dict:
    return json.loads((SHIPPED / "preschool_inclusive.json").read_text(encoding="utf-8"))


def test_publishing_a_changed_definition_is_a_new_version_and_the_same_one_is_not():
    framework = Framework.publish_first(preschool(), "shipped", NOW)
    assert framework.publish(preschool(), "again", NOW) == 1
    stricter = preschool()
    stricter["indicators"][2]["bar"]["value"] = 55
    assert framework.publish(stricter, "public share raised to 55 %", NOW) == 2
    assert framework.definition(1).indicators[2].bar(None).value == 50
    assert framework.definition(2).indicators[2].bar(None).value == 55
    with pytest.raises(NotFound):
        framework.definition(3)


def test_a_period_keeps_the_version_it_opened_with():
    framework = Framework.publish_first(preschool(), "shipped", NOW)
    framework.open_period("2025-2026", NOW)
    changed = preschool()
    changed["indicators"][0]["bar"]["value"] = 95
    framework.publish(changed, "higher bar", NOW)
    framework.open_period("2026-2027", NOW)
    assert (framework.version_for("2025-2026"), framework.version_for("2026-2027")) == (1, 2)
    with pytest.raises(Conflict):
        framework.open_period("2025-2026", NOW)
    with pytest.raises(Conflict):
        framework.version_for("2027-2028")


def test_a_framework_cannot_become_another_one():
    framework = Framework.publish_first(preschool(), "shipped", NOW)
    other = copy.deepcopy(preschool())
    other["code"] = "something_else"
    with pytest.raises(Exception, match="this is framework preschool_inclusive"):
        framework.publish(other, "wrong", NOW)


@pytest.mark.parametrize("period", ["2025", "2025-2027", "2025/2026", "", "abcd-efgh"])
def test_a_period_is_a_school_year(period):
    with pytest.raises(Exception, match="school year"):
        check_period(period)


# --- submission lifecycle ---------------------------------------------------------------------------------------


def submission_in(status: SubmissionStatus) -> Submission:
    s = Submission.open(
        framework="preschool_inclusive",
        framework_version=1,
        period="2025-2026",
        unit_kind="jurisdiction",
        unit_id="530113",
        unit_name="东川区",
        jurisdiction="530113",
        unit_stage=None,
        locality=None,
        opened_by={"kind": "office"},
        opened_at=NOW,
    )
    by = {"kind": "office", "sub": "t"}
    path = {
        SubmissionStatus.draft: [],
        SubmissionStatus.submitted: ["enter", "submit"],
        SubmissionStatus.returned: ["enter", "submit", "return"],
        SubmissionStatus.approved: ["enter", "submit", "approve"],
    }[status]
    steps = {
        "enter": lambda: s.enter_values(values={"x": 1}, entered_by=by, now=NOW),
        "submit": lambda: s.submit(submitted_by=by, now=NOW),
        "return": lambda: s.return_for_correction(reason="check", by="t", now=NOW),
        "approve": lambda: s.approve(by="t", now=NOW),
    }
    for step in path:
        steps[step]()
    assert s.status == status
    return s


COMMANDS = {
    "enter_values": lambda s: s.enter_values(values={"x": 2}, entered_by={"kind": "office"}, now=NOW),
    "submit": lambda s: s.submit(submitted_by={"kind": "office"}, now=NOW),
    "return_for_correction": lambda s: s.return_for_correction(reason="why", by="t", now=NOW),
    "approve": lambda s: s.approve(by="t", now=NOW),
    "unapprove": lambda s: s.unapprove(reason="why", by="t", now=NOW),
}


@pytest.mark.parametrize("status", list(SubmissionStatus))
@pytest.mark.parametrize("command", list(SUBMISSION_TRANSITIONS))
def test_every_submission_command_from_every_state(status, command):
    submission = submission_in(status)
    if status in SUBMISSION_TRANSITIONS[command] and not (command == "submit" and submission.values is None):
        COMMANDS[command](submission)
    else:
        with pytest.raises(RuleViolation):
            COMMANDS[command](submission)


def test_approved_data_are_locked_and_unapproval_reopens_them_for_correction():
    submission = submission_in(SubmissionStatus.approved)
    with pytest.raises(RuleViolation, match="submission_lifecycle|approved"):
        submission.enter_values(values={"x": 9}, entered_by={}, now=NOW)
    submission.unapprove(reason="the enrolment figure was last year's", by="t", now=NOW)
    submission.enter_values(values={"x": 9}, entered_by={}, now=NOW)
    assert submission.status == SubmissionStatus.returned and submission.values == {"x": 9}


def test_a_submission_needs_a_reason_to_be_returned():
    with pytest.raises(Exception, match="reason"):
        submission_in(SubmissionStatus.submitted).return_for_correction(reason="  ", by="t", now=NOW)


# --- level lifecycle --------------------------------------------------------------------------------------------


def level_in(status: LevelStatus) -> LevelApproval:
    level = LevelApproval.open(framework="balanced_development", period="2025-2026", jurisdiction="530113")
    if status != LevelStatus.open:
        level.approve(covered={"a": 3}, levels_below=[], by="t", now=NOW)
    if status == LevelStatus.accepted:
        level.accept(by="city", now=NOW)
    return level


LEVEL_COMMANDS = {
    "approve": lambda lv: lv.approve(covered={}, levels_below=[], by="t", now=NOW),
    "unapprove": lambda lv: lv.unapprove(reason="why", by="t", now=NOW),
    "accept": lambda lv: lv.accept(by="t", now=NOW),
    "unaccept": lambda lv: lv.unaccept(reason="why", by="t", now=NOW),
    "reopen_below": lambda lv: lv.reopen_below(what="a", reason="why", now=NOW),
}


@pytest.mark.parametrize("status", list(LevelStatus))
@pytest.mark.parametrize("command", list(LEVEL_TRANSITIONS))
def test_every_level_command_from_every_state(status, command):
    level = level_in(status)
    if status in LEVEL_TRANSITIONS[command]:
        LEVEL_COMMANDS[command](level)
    else:
        with pytest.raises(RuleViolation):
            LEVEL_COMMANDS[command](level)


def test_nothing_below_an_approved_level_can_be_reopened():
    with pytest.raises(RuleViolation) as caught:
        level_in(LevelStatus.approved).reopen_below(what="school a", reason="typo", now=NOW)
    assert caught.value.rule == "locked_by_level_approval"


def test_an_upper_acceptance_takes_at_the_version_it_saw_and_lapses_visibly_after_a_change():
    level = level_in(LevelStatus.approved)
    seen = level.version
    level.take_upper_acceptance(accepted_version=seen, by="530100:chen", now=NOW)
    assert level.status == LevelStatus.accepted
    level.take_upper_acceptance(accepted_version=seen, by="530100:chen", now=NOW)  # delivered twice: nothing more
    assert [type(e).__name__ for e in level.collect_events()][-1] == "Accepted"

    changed = level_in(LevelStatus.approved)
    seen = changed.version
    changed.unapprove(reason="改数", by="county", now=NOW)  # crossed the acceptance on the wire
    changed.take_upper_acceptance(accepted_version=seen, by="530100:chen", now=NOW)
    lapsed = changed.collect_events()[-1]
    assert changed.status == LevelStatus.open and type(lapsed).__name__ == "AcceptanceLapsed"
    assert lapsed.accepted_version == seen and "accept it again" in lapsed.reason


def test_an_upper_acceptance_is_accepted_once_per_version_and_handed_back_only_when_accepted():
    acceptance = UpperAcceptance.record(
        framework="balanced_development", period="2025-2026", jurisdiction="530113", level_version=2, by="chen", now=NOW
    )
    with pytest.raises(RuleViolation):
        acceptance.accept_again(level_version=2, by="chen", now=NOW)
    acceptance.unaccept(reason="复核", by="chen", now=NOW)
    with pytest.raises(RuleViolation):
        acceptance.unaccept(reason="复核", by="chen", now=NOW)
    acceptance.accept_again(level_version=4, by="chen", now=NOW)
    assert (acceptance.accepted, acceptance.level_version) == (True, 4)
    assert all(e.jurisdiction == "530113" for e in acceptance.collect_events())  # each event names the level below


def test_an_ended_assignment_cannot_end_again():
    assignment = AgencyAssignment.make(
        framework="preschool_inclusive",
        period="2025-2026",
        jurisdiction="530113",
        agency_id="agency-1",
        agency_name="评估院",
        task="collect",
        contract="合同 2025-17",
        made_by="t",
        made_at=NOW,
    )
    assignment.end(reason="contract over", by="t", now=NOW)
    with pytest.raises(RuleViolation):
        assignment.end(reason="again", by="t", now=NOW)
