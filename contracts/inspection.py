"""Inspection's events that other services consume: an issued report (accountability opens its rectification case),
the committee member units that took part in an activity (the registry counts them), routine visits (monitoring's
coverage figures)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from contracts.base import Contract, Published


@dataclass(frozen=True, kw_only=True)
class ActivityReportIssued(Contract):
    """The report was issued (印发) to the unit; each finding that needs rectification becomes a case's item."""

    event = "Activity.ReportIssued"
    jurisdiction: str
    title: str
    target_kind: str
    target_id: str
    target_name: str
    findings: list[dict[str, Any]]
    issued_on: date


@dataclass(frozen=True, kw_only=True)
class ActivityMemberUnitsParticipated(Contract):
    event = "Activity.MemberUnitsParticipated"
    jurisdiction: str
    unit_names: list[str]
    year: int


@dataclass(frozen=True, kw_only=True)
class RoutineVisitRecorded(Contract):
    event = "RoutineVisit.Recorded"
    school_id: str
    visited_on: date


PUBLISHED = Published(ActivityReportIssued, ActivityMemberUnitsParticipated, RoutineVisitRecorded)
