"""The inspector lifecycle: every allowed and every forbidden transition, training, assessment, ties."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import uuid4

import pytest

from dudao.errors import InvalidInput
from services.registry.domain import (
    Employment,
    ExitReason,
    Grade,
    Inspector,
    InspectorRole,
    RuleViolation,
    Status,
    TieKind,
    TrainingKind,
)
from services.registry.domain.inspector import TRANSITIONS

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 1, tzinfo=UTC)
DAY = date(2026, 3, 1)

COMMANDS = {
    "appoint": lambda i: i.appoint(
        term_no=i.term["term_no"] + 1 if i.term else 1, term_start=date(2026, 1, 1), term_end=date(2028, 12, 31)
    ),
    "file": lambda i: i.file_upward(filed_with="500000", filed_on=DAY, today=DAY),
    "activate": lambda i: i.activate(on=DAY, today=DAY),
    "suspend": lambda i: i.suspend(reason="长期病假", on=DAY, today=DAY),
    "reinstate": lambda i: i.reinstate(on=DAY, today=DAY),
    "renew_term": lambda i: i.renew_term(
        term_no=(i.term or {"term_no": 0})["term_no"] + 1, term_start=date(2029, 1, 1), term_end=date(2031, 12, 31)
    ),
    "exit": lambda i: i.exit(reason=ExitReason.resigned, on=DAY, today=DAY),
}

# The shortest way to reach each state from a fresh nomination.
PATHS = {
    Status.nominated: [],
    Status.appointed: ["appoint"],
    Status.filed: ["appoint", "file"],
    Status.active: ["appoint", "file", "activate"],
    Status.suspended: ["appoint", "file", "activate", "suspend"],
    Status.exited: ["appoint", "exit"],
}
RESULTING = {
    "appoint": Status.appointed,
    "file": Status.filed,
    "activate": Status.active,
    "suspend": Status.suspended,
    "reinstate": Status.active,
    "exit": Status.exited,
}


def nominee(**overrides) -> Inspector:
    args = {
        "inspector_id": uuid4(),
        "name": "李明远",
        "jurisdiction": "500120",
        "employment": Employment.full_time,
        "now": NOW,
    }
    return Inspector.nominate(**(args | overrides))


def inspector_in(state: Status) -> Inspector:
    inspector = nominee()
    for command in PATHS[state]:
        COMMANDS[command](inspector)
    assert inspector.status is state
    return inspector


CASES = [(command, state) for command in COMMANDS for state in Status]


@pytest.mark.parametrize(("command", "state"), CASES, ids=[f"{c}-from-{s}" for c, s in CASES])
def test_every_lifecycle_command_from_every_state(command, state):
    inspector = inspector_in(state)
    if state in TRANSITIONS[command]:
        COMMANDS[command](inspector)
        assert inspector.status is RESULTING.get(command, state)
    else:
        version = inspector.version
        with pytest.raises(RuleViolation) as caught:
            COMMANDS[command](inspector)
        assert caught.value.rule == "inspector_lifecycle" and caught.value.status == 409
        assert inspector.version == version, "a refused command must record nothing"


def test_the_table_names_every_state_it_allows():
    assert set().union(*TRANSITIONS.values()) <= set(Status)


@pytest.mark.parametrize("reason", list(ExitReason))
def test_every_exit_reason_in_the_closed_list_is_accepted(reason):
    inspector = inspector_in(Status.active)
    inspector.exit(reason=reason, on=DAY, today=DAY)
    assert inspector.exit_reason is reason


def test_an_exit_reason_outside_the_list_is_refused():
    with pytest.raises(ValueError):
        inspector_in(Status.active).exit(reason="got bored", on=DAY, today=DAY)  # type: ignore[arg-type]


def test_a_renewed_term_must_come_after_the_current_one():
    inspector = inspector_in(Status.active)
    with pytest.raises(RuleViolation) as caught:
        inspector.renew_term(term_no=1, term_start=date(2029, 1, 1), term_end=date(2031, 1, 1))
    assert caught.value.rule == "term_order"


def test_a_term_must_end_after_it_starts():
    with pytest.raises(InvalidInput) as caught:
        nominee().appoint(term_no=1, term_start=date(2026, 1, 1), term_end=date(2025, 1, 1))
    assert caught.value.field == "term_end"


def test_training_gaps_are_pre_service_ever_and_in_service_each_term():
    inspector = inspector_in(Status.active)
    assert inspector.missing_training() == [TrainingKind.pre_service, TrainingKind.in_service]
    inspector.record_training(kind=TrainingKind.pre_service, title="上岗培训", hours=24, completed_on=DAY, today=DAY)
    inspector.record_training(
        kind=TrainingKind.in_service, title="责任督学示范培训", hours=16, completed_on=DAY, today=DAY
    )
    assert inspector.missing_training() == []
    COMMANDS["renew_term"](inspector)
    assert inspector.missing_training() == [TrainingKind.in_service]


def test_an_unqualified_assessment_opens_an_exit_review_once():
    inspector = inspector_in(Status.active)
    inspector.assess(year=2025, grade=Grade.unqualified)
    inspector.assess(year=2026, grade=Grade.unqualified)
    names = [type(e).__name__ for e in inspector.collect_events()]
    assert names.count("ExitReviewOpened") == 1 and inspector.exit_review_open
    inspector.exit(reason=ExitReason.dismissed_assessed_unqualified, on=DAY, today=DAY)
    assert not inspector.exit_review_open


def test_a_year_is_assessed_once_and_only_serving_inspectors_are_assessed():
    inspector = inspector_in(Status.active)
    inspector.assess(year=2025, grade=Grade.excellent)
    with pytest.raises(RuleViolation) as again:
        inspector.assess(year=2025, grade=Grade.qualified)
    with pytest.raises(RuleViolation) as nominated:
        nominee().assess(year=2025, grade=Grade.qualified)
    assert (again.value.rule, nominated.value.rule) == ("assessed_once_a_year", "inspector_lifecycle")


def test_ties_are_declared_and_withdrawn_as_events():
    inspector = inspector_in(Status.active)
    inspector.declare_tie(unit_id="school-1", kind=TieKind.former_employer)
    inspector.declare_tie(unit_id="school-1", kind=TieKind.former_employer)  # the same again changes nothing
    assert inspector.has_tie_to("school-1")
    inspector.withdraw_tie(unit_id="school-1", reason="调离五年以上")
    assert not inspector.has_tie_to("school-1")
    assert [type(e).__name__ for e in inspector.collect_events()][-2:] == ["TieDeclared", "TieWithdrawn"]


def test_a_listed_inspector_needs_a_public_contact():
    with pytest.raises(InvalidInput) as caught:
        nominee(roles=[InspectorRole.listed])
    assert caught.value.rule == "listed_needs_contact"
    assert nominee(roles=[InspectorRole.listed], public_contact="023-4140 0000").roles == [InspectorRole.listed]


def test_an_exited_inspector_cannot_be_changed():
    inspector = inspector_in(Status.exited)
    with pytest.raises(RuleViolation):
        inspector.update_details(name="新名字", employment=Employment.part_time, now=NOW)
    with pytest.raises(RuleViolation):
        inspector.declare_tie(unit_id="x", kind=TieKind.relative)


@pytest.mark.parametrize(
    ("on", "rule", "named"),
    [
        (date(2001, 3, 1), "date_order", "2026-01-01"),  # before the term started
        (date(2026, 3, 2), "date_in_future", "2026-03-01"),  # after today
    ],
)
def test_an_activation_is_dated_within_its_term_and_not_after_today(on, rule, named):
    inspector = inspector_in(Status.filed)
    version = inspector.version
    with pytest.raises(InvalidInput) as caught:
        inspector.activate(on=on, today=DAY)
    assert (caught.value.rule, caught.value.field) == (rule, "on") and inspector.version == version
    assert str(on) in caught.value.detail and named in caught.value.detail


def test_training_and_exit_are_not_dated_after_today():
    inspector = inspector_in(Status.active)
    with pytest.raises(InvalidInput) as caught:
        inspector.record_training(
            kind=TrainingKind.in_service, title="在岗培训", hours=8, completed_on=date(2027, 1, 1), today=DAY
        )
    assert caught.value.rule == "date_in_future" and caught.value.field == "completed_on"
    with pytest.raises(InvalidInput):
        inspector.exit(reason=ExitReason.resigned, on=date(2027, 1, 1), today=DAY)
    assert inspector.status is Status.active
