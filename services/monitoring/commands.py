"""What each monitoring command asks, as the route parsed it: one frozen object per command, named for it. The
application method of the same name (snake case) takes it with the caller (`dudao.commands.Caller`). `now` is the
service clock's, when the command arrived."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from services.monitoring.domain.collection import AgencyTask

# --- frameworks and periods (the instance's own office) -----------------------------------------------------------


@dataclass(frozen=True)
class PublishFramework:
    """A framework, or a new version of one; periods already open keep the version they opened with."""

    definition: dict[str, Any]
    note: str
    now: datetime


@dataclass(frozen=True)
class OpenPeriod:
    code: str
    period: str
    now: datetime


# --- a unit's submission: `unit` is the unit as the framework sees it (a school from the registry's copy, or a
# county), with kind, id, name, jurisdiction and, for a school, stage and locality ----------------------------------


@dataclass(frozen=True)
class EnterValues:
    """Enter (or correct) a unit's values as a draft; `via`: how they came (`import` for a spreadsheet)."""

    framework: str
    period: str
    unit: dict[str, Any]
    values: Any
    now: datetime
    via: str = ""


@dataclass(frozen=True)
class Submit:
    framework: str
    period: str
    unit: dict[str, Any]
    now: datetime


@dataclass(frozen=True)
class ReturnForCorrection:
    framework: str
    period: str
    unit_id: str
    reason: str
    now: datetime


@dataclass(frozen=True)
class ApproveSubmission:
    framework: str
    period: str
    unit_id: str
    now: datetime


@dataclass(frozen=True)
class UnapproveSubmission:
    framework: str
    period: str
    unit_id: str
    reason: str
    now: datetime


# --- levels (逐级审核): `code` is the level's division ----------------------------------------------------------------


@dataclass(frozen=True)
class ApproveLevel:
    """Approve a level; `units` are those it expects, `levels_below` each level below with its status as this
    instance's read model last heard it."""

    framework: str
    period: str
    code: str
    units: list[str]
    levels_below: dict[str, str]
    now: datetime


@dataclass(frozen=True)
class UnapproveLevel:
    framework: str
    period: str
    code: str
    reason: str
    now: datetime


@dataclass(frozen=True)
class AcceptLevel:
    """The level above accepts a level; `heard`: what this instance last heard of it (status, version), for a level
    a lower instance holds."""

    framework: str
    period: str
    code: str
    heard: dict[str, Any] | None
    now: datetime


@dataclass(frozen=True)
class UnacceptLevel:
    framework: str
    period: str
    code: str
    reason: str
    now: datetime


# --- third-party agencies (第三方评估机构) ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AssignAgency:
    framework: str
    period: str
    jurisdiction: str
    agency_id: str
    agency_name: str
    task: AgencyTask
    contract: str
    now: datetime


@dataclass(frozen=True)
class EndAssignment:
    assignment_id: UUID
    reason: str
    now: datetime
