"""What each accountability command asks, as the route parsed it: one frozen object per command, named for it. The
application method of the same name (snake case) takes it with the caller (`dudao.commands.Caller`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from services.accountability.domain.case import FeedbackMode
from services.accountability.domain.terms import (
    AccountabilityTrigger,
    CircularTrigger,
    Conduct,
    InterviewTrigger,
    TransferTo,
    UnitKind,
)

# --- rectification cases (整改): `today` is the service clock's day the command arrived ------------------------


@dataclass(frozen=True)
class GiveFeedback:
    """Feedback (反馈) and deadlines; an item without its own deadline gets the profile's rectification period."""

    case_id: UUID
    mode: FeedbackMode
    decision: str
    requirements: str
    given_on: date
    deadlines: dict[str, date]
    today: date


@dataclass(frozen=True)
class ChangeDeadline:
    case_id: UUID
    item_id: str
    deadline: date
    reason: str
    today: date


@dataclass(frozen=True)
class ReportItem:
    """The unit's report on one item, with its evidence files (objects with name, media_type, content_base64)."""

    case_id: UUID
    item_id: str
    statement: str
    evidence: list[Any]
    today: date


@dataclass(frozen=True)
class AcceptItem:
    case_id: UUID
    item_id: str
    today: date


@dataclass(frozen=True)
class RejectItem:
    case_id: UUID
    item_id: str
    reason: str
    today: date


@dataclass(frozen=True)
class RecheckItem:
    """A re-check (回头看); a failed one without its own period gets the profile's rectification period."""

    case_id: UUID
    item_id: str
    passed: bool
    note: str
    rectify_within_days: int | None
    today: date


@dataclass(frozen=True)
class PublishStatement:
    case_id: UUID
    text: str
    today: date


# --- measures (约谈 · 通报 · 问责 · 表彰) ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    """The supervised unit a new measure is about, as our own data knows it (a school's place is the registry's)."""

    jurisdiction: str
    unit_kind: UnitKind
    unit_id: str
    unit_name: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "jurisdiction": self.jurisdiction,
            "unit_kind": self.unit_kind,
            "unit_id": self.unit_id,
            "unit_name": self.unit_name,
        }


@dataclass(frozen=True)
class ProposeInterview:
    unit: Unit
    trigger: InterviewTrigger
    reason: str
    case_id: UUID | None
    related_departments: list[str]
    today: date


@dataclass(frozen=True)
class RecordInterview:
    measure_id: UUID
    held_on: date
    interviewees: list[dict[str, Any]]
    record: str
    commitments: str
    early_reason: str | None
    today: date


@dataclass(frozen=True)
class FileInterview:
    measure_id: UUID
    filed_with: list[str]
    filed_on: date
    today: date


@dataclass(frozen=True)
class ProposeCircular:
    unit: Unit
    trigger: CircularTrigger
    reason: str
    case_id: UUID | None
    today: date


@dataclass(frozen=True)
class IssueCircular:
    """Circulate; the named leaders are restricted for the profile's `restriction_days`."""

    measure_id: UUID
    recipients: list[str]
    leaders: list[dict[str, Any]]
    content: str
    today: date


@dataclass(frozen=True)
class Decide:
    """An accountability decision (问责); `private_school`: the unit is a private school (sanctions need it)."""

    unit: Unit
    private_school: bool
    trigger: AccountabilityTrigger
    reason: str
    people: list[dict[str, Any]]
    unit_actions: list[str]
    sanctions: list[str]
    circular_id: UUID | None
    case_id: UUID | None
    today: date


@dataclass(frozen=True)
class Transfer:
    measure_id: UUID
    to: TransferTo
    conduct: Conduct
    receiving_body: str
    case_reference: str
    today: date


@dataclass(frozen=True)
class RecordJointLiability:
    """The superior department's joint liability (连带责任) for the failed rectification the decision cites."""

    measure_id: UUID
    superior_department: str
    reason: str
    today: date


@dataclass(frozen=True)
class Commend:
    """A commendation (表彰); `restricted`: the leaders a circular restricts today, who may not be commended."""

    unit: Unit
    people: list[dict[str, Any]]
    reason: str
    activity_id: str | None
    today: date
    restricted: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class PublishOutcome:
    """Publish (or correct) what the public is told of a circular, decision or commendation."""

    kind: type[Aggregate]
    measure_id: UUID
    public_text: str
    today: date
