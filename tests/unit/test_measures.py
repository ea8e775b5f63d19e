"""Interviews, circulars, accountability decisions and commendations: every command from every state, and the rules."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import pytest

from dudao.errors import InvalidInput
from dudao.rules import RuleViolation
from services.accountability.domain.measures import (
    CIRCULAR_TRANSITIONS,
    COMMENDATION_TRANSITIONS,
    DECISION_TRANSITIONS,
    INTERVIEW_TRANSITIONS,
    AccountabilityDecision,
    Circular,
    CircularStatus,
    Commendation,
    CommendationStatus,
    DecisionStatus,
    Interview,
    InterviewStatus,
    escalation_id,
    sanction_ref,
)
from services.accountability.domain.terms import GRAVEST, AccountabilityTrigger, InterviewTrigger

pytestmark = pytest.mark.unit

ID = UUID("00000000-0000-0000-0000-0000000000aa")
DAY = date(2026, 12, 1)
BODIES = ["party_committee", "government", "superior"]
SCHOOL = {"jurisdiction": "500120", "unit_kind": "school", "unit_id": "s-1", "unit_name": "璧山区实验小学"}
LEADER = [{"name": "周校长", "post": "校长"}]


def interview(**overrides) -> Interview:
    args = SCHOOL | {"id": ID, "trigger": "safety_problems", "reason": "安全隐患多", "proposed_on": DAY}
    return Interview.propose(**(args | overrides))


def circular() -> Circular:
    return Circular.propose(id=ID, **SCHOOL, trigger="ineffective", reason="整改不力", proposed_on=DAY)


def decision(**overrides) -> AccountabilityDecision:
    args = SCHOOL | {
        "id": ID,
        "private_school": True,
        "trigger": "supervision_obstructed",
        "reason": "拒不配合",
        "people": [],
        "unit_actions": ["责令整改"],
        "sanctions": [],
        "decided_on": DAY,
        "case_id": None,
    }
    return AccountabilityDecision.decide(**(args | overrides))


def commendation() -> Commendation:
    return Commendation.award(id=ID, **SCHOOL, people=LEADER, reason="督导结果优秀", awarded_on=DAY, restricted=set())


INTERVIEW_COMMANDS = {
    "record": lambda m: m.record(
        held_on=DAY, interviewees=LEADER, record="书面记录", commitments="限期整改", today=DAY
    ),
    "file": lambda m: m.file(filed_with=BODIES, filed_on=DAY, today=DAY),
}
CIRCULAR_COMMANDS = {
    "issue": lambda m: m.issue(
        recipients=BODIES, leaders=LEADER, content="通报", issued_on=DAY, restriction_days=365, basis="000000@2"
    ),
    "publish": lambda m: m.publish(public_text="公开", published_on=DAY),
}
DECISION_COMMANDS = {
    "transfer": lambda m: m.transfer(
        to="law_enforcement",
        conduct="illegal_schooling",
        receiving_body="区市场监管局",
        case_reference="璧市监〔2026〕1号",
        transferred_on=DAY,
    ),
    "record_joint_liability": lambda m: m.record_joint_liability(
        superior_department="区教委", reason="指导不力", case_failed=True, recorded_on=DAY
    ),
    "publish": lambda m: m.publish(public_text="公开", published_on=DAY),
}
COMMENDATION_COMMANDS = {"publish": lambda m: m.publish(public_text="公开", published_on=DAY)}

# How to bring a fresh measure of each kind into each of its states.
WALKS = {
    "interview": (
        interview,
        INTERVIEW_COMMANDS,
        INTERVIEW_TRANSITIONS,
        {InterviewStatus.proposed: [], InterviewStatus.recorded: ["record"], InterviewStatus.filed: ["record", "file"]},
    ),
    "circular": (
        circular,
        CIRCULAR_COMMANDS,
        CIRCULAR_TRANSITIONS,
        {CircularStatus.proposed: [], CircularStatus.issued: ["issue"], CircularStatus.published: ["issue", "publish"]},
    ),
    "decision": (
        lambda: decision(case_id=ID),
        DECISION_COMMANDS,
        DECISION_TRANSITIONS,
        {DecisionStatus.decided: [], DecisionStatus.published: ["publish"]},
    ),
    "commendation": (
        commendation,
        COMMENDATION_COMMANDS,
        COMMENDATION_TRANSITIONS,
        {CommendationStatus.awarded: [], CommendationStatus.published: ["publish"]},
    ),
}
WALK = [
    (kind, command, state) for kind, (_, commands, _, paths) in WALKS.items() for command in commands for state in paths
]


@pytest.mark.parametrize(("kind", "command", "state"), WALK, ids=[f"{k}-{c}-from-{s}" for k, c, s in WALK])
def test_every_measure_command_from_every_state(kind, command, state):
    make, commands, transitions, paths = WALKS[kind]
    measure = make()
    for step in paths[state]:
        commands[step](measure)
    assert measure.status == state
    if state in transitions[command]:
        commands[command](measure)
        assert measure.status != state or command in (
            "transfer",
            "record_joint_liability",
            "publish",
        )  # publish again: a correction
    else:
        version = measure.version
        with pytest.raises(RuleViolation) as caught:
            commands[command](measure)
        assert caught.value.rule == f"{kind}_lifecycle" and caught.value.status == 409
        assert measure.version == version


def test_every_state_of_every_measure_is_walked():
    assert set(WALKS["interview"][3]) == set(InterviewStatus)
    assert set(WALKS["circular"][3]) == set(CircularStatus)
    assert set(WALKS["decision"][3]) == set(DecisionStatus)
    assert set(WALKS["commendation"][3]) == set(CommendationStatus)


def test_interview_triggers_are_the_closed_list_and_organisers_follow_the_unit():
    assert len(InterviewTrigger) == 7
    with pytest.raises(InvalidInput) as caught:
        interview(trigger="late_rectification")
    assert (caught.value.field, caught.value.rule) == ("trigger", "not_in_list")
    assert interview().organisers == ["supervision_office", "education_bureau"]
    town = interview(
        unit_kind="government", unit_id="500120001", unit_name="璧城街道", related_departments=["区财政局"]
    )
    assert town.organisers == ["supervision_office", "organisation_department"] and town.related_departments == [
        "区财政局"
    ]
    with pytest.raises(InvalidInput):
        interview(related_departments=["区财政局"])  # a school's interview is with the education bureau only


def test_an_interview_is_filed_with_all_three_bodies_and_then_cannot_change():
    filed = interview()
    INTERVIEW_COMMANDS["record"](filed)
    with pytest.raises(InvalidInput) as caught:
        filed.file(filed_with=["government", "superior"], filed_on=DAY, today=DAY)
    assert caught.value.rule == "all_filing_bodies"
    INTERVIEW_COMMANDS["file"](filed)
    for command in INTERVIEW_COMMANDS.values():
        with pytest.raises(RuleViolation):
            command(filed)


def test_a_circular_restricts_its_leaders_for_the_profiles_period():
    issued = circular()
    CIRCULAR_COMMANDS["issue"](issued)
    assert issued.restricted_until == date(2027, 12, 1) and issued.leaders == LEADER


def test_sanctions_only_on_private_schools_and_revocation_only_for_the_gravest_cases():
    with pytest.raises(RuleViolation) as caught:
        decision(private_school=False, sanctions=["stop_enrolment"])
    assert caught.value.rule == "sanction_private_only"
    with pytest.raises(RuleViolation) as caught:
        decision(unit_kind="government", sanctions=["cut_enrolment_plan"])
    assert caught.value.rule == "sanction_private_only"
    with pytest.raises(RuleViolation) as caught:
        decision(sanctions=["revoke_licence"])
    assert caught.value.rule == "revocation_needs_gravest_trigger"
    assert AccountabilityTrigger.threats_against_inspectors in GRAVEST
    revoked = decision(trigger="threats_against_inspectors", sanctions=["revoke_licence", "replace_head"])
    imposed = [e for e in revoked.collect_events() if type(e).__name__ == "SanctionImposed"]
    assert [(e.school_id, e.sanction, e.sanction_ref) for e in imposed] == [
        ("s-1", "revoke_licence", sanction_ref(ID)),
        ("s-1", "replace_head", sanction_ref(ID)),
    ]


def test_a_decision_decides_something_and_names_each_persons_action():
    with pytest.raises(InvalidInput) as caught:
        decision(unit_actions=[])
    assert caught.value.rule == "nothing_decided"
    with pytest.raises(InvalidInput) as caught:
        decision(people=[{"name": "王某", "post": "副校长", "action": "firing_squad"}])
    assert caught.value.field == "people.0.action"
    assert (
        decision(people=[{"name": "王某", "post": "副校长", "action": "admonishment"}]).people[0]["action"]
        == "admonishment"
    )


def test_transfers_go_to_the_right_body():
    with pytest.raises(RuleViolation) as caught:
        decision().transfer(
            to="judiciary", conduct="teacher_ethics", receiving_body="区检察院", case_reference="x", transferred_on=DAY
        )
    assert caught.value.rule == "transfer_body"
    sent = decision()
    sent.transfer(
        to="judiciary",
        conduct="suspected_crime",
        receiving_body="区检察院",
        case_reference="璧检〔2026〕3号",
        transferred_on=DAY,
    )
    assert sent.transfers[0]["receiving_body"] == "区检察院"


def test_joint_liability_needs_a_failed_rectification():
    for failed in (decision(case_id=None), decision(case_id=ID)):
        with pytest.raises(RuleViolation) as caught:
            failed.record_joint_liability(superior_department="区教委", reason="x", case_failed=False, recorded_on=DAY)
        assert caught.value.rule == "rectification_not_failed"


def test_a_restricted_leader_is_not_commended():
    with pytest.raises(RuleViolation) as caught:
        Commendation.award(id=ID, **SCHOOL, people=LEADER, reason="优秀", awarded_on=DAY, restricted={"周校长"})
    assert caught.value.rule == "leader_restricted"


def test_one_escalation_of_each_kind_per_case():
    assert escalation_id(ID, "interview") == escalation_id(ID, "interview") != escalation_id(ID, "circular")


def test_an_interview_record_is_dated_between_its_proposal_and_today_unless_it_was_held_first():
    record = {"interviewees": LEADER, "record": "书面记录", "commitments": "限期整改", "today": DAY}
    for held_on, rule in ((date(2026, 12, 2), "date_in_future"), (date(2026, 11, 28), "date_order")):
        with pytest.raises(InvalidInput) as caught:
            interview().record(held_on=held_on, **record)
        assert caught.value.rule == rule and str(held_on) in caught.value.detail and str(DAY) in caught.value.detail
    early = interview()
    early.record(held_on=date(2026, 11, 28), early_reason="现场约谈在先，书面程序补办", **record)
    assert early.written_record["early_reason"] == "现场约谈在先，书面程序补办"
    with pytest.raises(InvalidInput) as caught:
        early.file(filed_with=BODIES, filed_on=date(2026, 11, 27), today=DAY)
    assert caught.value.rule == "date_order" and "2026-11-28" in caught.value.detail


def test_publishing_again_is_a_correction_with_a_new_public_version():
    published = circular()
    published.issue(
        recipients=BODIES, leaders=LEADER, content="通报", issued_on=DAY, restriction_days=365, basis="500120@1"
    )
    published.publish(public_text="通报结果", published_on=DAY)
    published.publish(public_text="更正：通报结果", published_on=DAY)
    assert (published.status, published.public_versions, published.version) == ("published", 2, 4)
