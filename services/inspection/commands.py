"""What each inspection command asks, as the route parsed it: one frozen object per command, named for it. The
application method of the same name (snake case) takes it with the caller (`dudao.commands.Caller`). `now` and
`today` are the service clock's, when the command arrived."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from services.inspection.domain.activity import ActivityKind, SpecialTopic, TargetKind
from services.inspection.domain.draw import DrawInputs

# --- activities: plan, team, notice, self-evaluation, site visit, findings, report ------------------------------


@dataclass(frozen=True)
class PlanActivity:
    """Put an activity on the calendar. `earlier`: the read model's count of this school's visits in the period, to
    open its semester's count with; `draw_id`: the performed draw that picked the school (its team then binds)."""

    jurisdiction: str
    kind: ActivityKind
    title: str
    target_kind: TargetKind
    target_id: str
    target_name: str
    period: str
    planned_month: str
    topic: SpecialTopic | None
    plan_id: str | None
    frequency_override: str | None
    draw_id: UUID | None
    earlier: int
    now: datetime


@dataclass(frozen=True)
class AssignTeam:
    """Name the team by hand; `ties` and `inspectors`: what the registry's copy knows of the people named."""

    activity_id: UUID
    leader_id: str
    member_ids: list[str]
    deviation_reason: str | None
    ties: dict[str, Any]
    inspectors: dict[str, Any]
    now: datetime


@dataclass(frozen=True)
class SendNotice:
    activity_id: UUID
    notified_on: date
    today: date


@dataclass(frozen=True)
class SubmitSelfEvaluation:
    """The unit's self-evaluation; `evidence`: files (name, media_type, content_base64) stored once it is admitted."""

    activity_id: UUID
    items: list[dict[str, Any]]
    evidence: list[Any]
    now: datetime


@dataclass(frozen=True)
class RecordMemberUnits:
    activity_id: UUID
    unit_names: list[str]
    year: int


@dataclass(frozen=True)
class StartOnSite:
    activity_id: UUID
    on: date
    today: date


@dataclass(frozen=True)
class RecordFindings:
    activity_id: UUID
    findings: list[dict[str, Any]]
    now: datetime


@dataclass(frozen=True)
class DraftReport:
    """The report; a duty evaluation's `score` becomes a grade by the bands of the activity's place's profile."""

    activity_id: UUID
    summary: str
    score: float | None
    now: datetime


@dataclass(frozen=True)
class ApproveReport:
    activity_id: UUID
    now: datetime


@dataclass(frozen=True)
class IssueReport:
    activity_id: UUID
    issued_on: date
    now: datetime


@dataclass(frozen=True)
class Publish:
    activity_id: UUID
    public_summary: str
    now: datetime


@dataclass(frozen=True)
class LogEvidenceOpened:
    """Someone allowed to read the activity opened one of its evidence files: the audit records who and when."""

    activity_id: UUID
    jurisdiction: str
    sha256: str
    name: str
    now: datetime


# --- double-random draws (双随机) ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnnounceDraw:
    """Record the candidates and publish the seed's hash; the seed is revealed when the draw is performed."""

    jurisdiction: str
    purpose: str
    criteria: dict[str, Any]
    inputs: DrawInputs
    seed: str
    now: datetime


@dataclass(frozen=True)
class PerformDraw:
    draw_id: UUID
    now: datetime


# --- routine visits (经常性督导) ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordVisit:
    """A routine visit; `school`: the registry copy's row for it (place, name, zone, responsible inspector)."""

    school: dict[str, Any]
    inspector_id: str
    visited_on: date
    items_checked: list[str]
    problems: list[dict[str, Any]]
    now: datetime


# --- annual work plans (年度督导工作计划) ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DraftPlan:
    jurisdiction: str
    year: int
    title: str
    now: datetime


@dataclass(frozen=True)
class AddPlanItem:
    jurisdiction: str
    year: int
    item: dict[str, Any]


@dataclass(frozen=True)
class RemovePlanItem:
    jurisdiction: str
    year: int
    item_id: str
    reason: str


@dataclass(frozen=True)
class ApprovePlan:
    """Approve the plan; the approval reports it to the level above."""

    jurisdiction: str
    year: int
    approved_on: date


@dataclass(frozen=True)
class RevisePlan:
    jurisdiction: str
    year: int
    reason: str
