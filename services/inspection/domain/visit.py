"""Routine visits (经常性督导): the responsible inspector's visit to a school, what was checked, what was wrong."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from dudao.errors import InvalidInput
from dudao.rules import require_name


class RoutineVisit(Aggregate):
    """One visit by a responsible inspector (责任督学); under double reduction, at least one a month per school (S1)."""

    @event("Recorded")
    def __init__(
        self,
        *,
        jurisdiction: str,
        school_id: str,
        school_name: str,
        zone_id: str | None,
        inspector_id: str,
        visited_on: date,
        items_checked: list[str],
        problems: list[dict],
        recorded_at: datetime,
    ):
        self.jurisdiction, self.school_id, self.school_name, self.zone_id = (
            jurisdiction,
            school_id,
            school_name,
            zone_id,
        )
        self.inspector_id, self.visited_on = inspector_id, visited_on
        self.items_checked, self.problems = list(items_checked), list(problems)

    @classmethod
    def record(
        cls,
        *,
        visit_id: UUID,
        jurisdiction: str,
        school_id: str,
        school_name: str,
        zone_id: str | None,
        inspector_id: str,
        visited_on: date,
        items_checked: list[str],
        problems: list[dict],
        now: datetime,
    ) -> RoutineVisit:
        if visited_on > now.date():
            raise InvalidInput("a visit cannot be recorded before it happens", field="visited_on", rule="not_in_future")
        items = [require_name(i, f"items_checked.{n}") for n, i in enumerate(items_checked)]
        if not items:
            raise InvalidInput("name at least one item checked", field="items_checked", rule="non_empty")
        checked_problems = [
            {
                "description": require_name(p.get("description", ""), f"problems.{n}.description"),
                "needs_rectification": bool(p.get("needs_rectification", False)),
            }
            for n, p in enumerate(problems)
        ]
        return cls._create(
            cls.Recorded,
            id=visit_id,
            jurisdiction=jurisdiction,
            school_id=school_id,
            school_name=school_name,
            zone_id=zone_id,
            inspector_id=inspector_id,
            visited_on=visited_on,
            items_checked=items,
            problems=checked_problems,
            recorded_at=now,
        )
