"""What each registry command asks, as the route parsed it: one frozen object per command, named for it. The
application method of the same name (snake case) takes it with the caller (`dudao.commands.Caller`). `now` and
`today` are the service clock's, when the command arrived."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

from dudao.profiles import Effective
from services.registry.domain import EnrolmentStatus, Locality, Ownership, Stage
from services.registry.domain.inspector_terms import (
    Employment,
    ExitReason,
    Focus,
    Grade,
    InspectorRole,
    TieKind,
    TrainingKind,
)

# --- schools ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegisterSchool:
    name: str
    jurisdiction: str
    stage: Stage
    ownership: Ownership
    enrolment: int
    now: datetime
    code: str | None = None
    locality: Locality | None = None


@dataclass(frozen=True)
class ImportSchool:
    """Register the school with this national code (学校代码), or bring it up to date."""

    code: str
    name: str
    jurisdiction: str
    stage: Stage
    ownership: Ownership
    locality: Locality
    enrolment: int
    now: datetime


@dataclass(frozen=True)
class UpdateSchool:
    school_id: UUID
    name: str
    enrolment: int
    now: datetime
    locality: Locality | None = None


@dataclass(frozen=True)
class RecordEnrolment:
    school_id: UUID
    school_year: str
    by_stage: dict[Stage, int]
    now: datetime


@dataclass(frozen=True)
class AppointPrincipal:
    school_id: UUID
    name: str
    term_start: date
    term_end: date


@dataclass(frozen=True)
class EndPrincipalTerm:
    school_id: UUID
    ended_on: date
    reason: str
    today: date


@dataclass(frozen=True)
class ChangeEnrolmentStatus:
    school_id: UUID
    status: EnrolmentStatus
    sanction_ref: str
    now: datetime


@dataclass(frozen=True)
class RevokeLicence:
    school_id: UUID
    sanction_ref: str
    now: datetime


@dataclass(frozen=True)
class RecordInternalSupervisors:
    school_id: UUID
    names: list[str]


@dataclass(frozen=True)
class PutSchoolInZone:
    school_id: UUID
    zone_id: UUID


@dataclass(frozen=True)
class AssignResponsibleInspector:
    school_id: UUID
    inspector_id: UUID


# --- inspectors ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NominateInspector:
    name: str
    jurisdiction: str
    employment: Employment
    now: datetime
    roles: list[InspectorRole] = field(default_factory=list)
    focus: Focus = Focus.schools
    stages: list[Stage] = field(default_factory=list)
    subjects: list[str] = field(default_factory=list)
    public_contact: str | None = None


@dataclass(frozen=True)
class ImportInspector:
    """Nominate the inspector with this office number (督学编号), or bring the profile and private details up to date."""

    number: str
    name: str
    jurisdiction: str
    employment: Employment
    roles: list[InspectorRole]
    focus: Focus
    stages: list[Stage]
    subjects: list[str]
    public_contact: str | None
    now: datetime
    personal: dict[str, str] | None = None


@dataclass(frozen=True)
class UpdateInspector:
    inspector_id: UUID
    name: str
    employment: Employment
    now: datetime
    roles: list[InspectorRole] | None = None
    focus: Focus | None = None
    stages: list[Stage] | None = None
    subjects: list[str] | None = None
    public_contact: str | None = None


@dataclass(frozen=True)
class RecordInspectorPersonal:
    """Private details (mobile, ID number, home address) to check, seal and record; "" clears a field."""

    inspector_id: UUID
    details: dict[str, str]
    now: datetime


@dataclass(frozen=True)
class Appoint:
    inspector_id: UUID
    term_no: int
    term_start: date
    term_end: date


@dataclass(frozen=True)
class FileInspector:
    """File (备案) the appointment with the body one level up."""

    inspector_id: UUID
    filed_with: str
    filed_on: date
    today: date


@dataclass(frozen=True)
class Activate:
    inspector_id: UUID
    on: date
    today: date


@dataclass(frozen=True)
class Suspend:
    inspector_id: UUID
    reason: str
    on: date
    today: date


@dataclass(frozen=True)
class Reinstate:
    inspector_id: UUID
    on: date
    today: date


@dataclass(frozen=True)
class RenewTerm:
    inspector_id: UUID
    term_no: int
    term_start: date
    term_end: date


@dataclass(frozen=True)
class ExitInspector:
    inspector_id: UUID
    reason: ExitReason
    on: date
    note: str
    today: date


@dataclass(frozen=True)
class RecordTraining:
    inspector_id: UUID
    kind: TrainingKind
    title: str
    hours: float
    completed_on: date
    today: date


@dataclass(frozen=True)
class Assess:
    inspector_id: UUID
    year: int
    grade: Grade


@dataclass(frozen=True)
class DeclareTie:
    inspector_id: UUID
    unit_id: str
    kind: TieKind
    note: str = ""


@dataclass(frozen=True)
class WithdrawTie:
    inspector_id: UUID
    unit_id: str
    reason: str


# --- zones, committees, profiles, townships, API clients -----------------------------------------------------------


@dataclass(frozen=True)
class CreateZone:
    name: str
    jurisdiction: str
    now: datetime


@dataclass(frozen=True)
class ListInspectorInZone:
    zone_id: UUID
    inspector_id: UUID


@dataclass(frozen=True)
class UnlistInspectorInZone:
    zone_id: UUID
    inspector_id: UUID


@dataclass(frozen=True)
class ConstituteOrChangeCommittee:
    """The committee's make-up; the first one constitutes it. Contact phones arrive in plain and are sealed."""

    jurisdiction: str
    members: dict[str, Any]
    now: datetime


@dataclass(frozen=True)
class RecordMeeting:
    jurisdiction: str
    held_on: date
    topic: str
    on_education: bool
    minutes_ref: str
    today: date


@dataclass(frozen=True)
class RecordParticipation:
    jurisdiction: str
    unit_name: str
    activity_id: str
    year: int


@dataclass(frozen=True)
class ChangeProfile:
    """Override keys for a jurisdiction, or stop overriding them; `upper`: the profile in force at the level above
    (None at the national level), which a value may tighten and never loosen."""

    jurisdiction: str
    set_values: dict[str, Any]
    remove: list[str]
    reason: str
    now: datetime
    upper: Effective | None


@dataclass(frozen=True)
class NameTownship:
    code: str
    name: str
    now: datetime


@dataclass(frozen=True)
class RegisterApiClient:
    name: str
    jurisdiction: str
    secret_hash: str
    now: datetime


@dataclass(frozen=True)
class RotateApiClientSecret:
    client_id: UUID
    secret_hash: str
    now: datetime


@dataclass(frozen=True)
class RevokeApiClient:
    client_id: UUID
    now: datetime


@dataclass(frozen=True)
class ImportList:
    """An office's spreadsheet of schools or inspectors, every row inside `place`; a dry run records nothing."""

    kind: str
    rows: list[Any]
    place: str
    now: datetime
    dry_run: bool
