"""Supervision committees (政府教育督导委员会): composition, meetings, member units' participation."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from dudao.errors import InvalidInput
from dudao.rules import RuleViolation, happened, require_name

MEMBER_FIELDS = ("director", "deputies", "member_units", "office", "chief_inspector", "deputy_chief_inspectors")


def committee_id(code: str) -> UUID:
    """One committee per jurisdiction, so its id follows from the code."""
    return uuid5(NAMESPACE_URL, f"dudao:committee:{code}")


def composition(
    *,
    director: str,
    deputies: list[str],
    member_units: list[dict[str, str]],
    office: str,
    chief_inspector: str,
    deputy_chief_inspectors: list[str],
) -> dict[str, Any]:
    """The committee's make-up as it goes into events, validated.

    Director (主任, the vice-head in charge of education), deputies (副主任), member units (成员单位)
    each with a contact person, the office (督导室) doing daily work, the chief inspector (总督学).
    """
    units = []
    for i, unit in enumerate(member_units):
        units.append(
            {
                "name": require_name(unit.get("name", ""), f"member_units.{i}.name"),
                "contact_person": require_name(unit.get("contact_person", ""), f"member_units.{i}.contact_person"),
                "contact_phone": (unit.get("contact_phone") or "").strip(),
            }
        )
    names = [u["name"] for u in units]
    if len(set(names)) != len(names):
        raise InvalidInput("a member unit is listed twice", field="member_units", rule="unique")
    return {
        "director": require_name(director, "director"),
        "deputies": [require_name(d, "deputies") for d in deputies],
        "member_units": units,
        "office": require_name(office, "office"),
        "chief_inspector": require_name(chief_inspector, "chief_inspector"),
        "deputy_chief_inspectors": [require_name(d, "deputy_chief_inspectors") for d in deputy_chief_inspectors],
    }


class Committee(Aggregate):
    """A government's education supervision committee (政府教育督导委员会), one per jurisdiction."""

    @event("Constituted")
    def __init__(self, *, jurisdiction: str, members: dict[str, Any], constituted_at: datetime):
        self.jurisdiction = jurisdiction
        self._apply(members)
        self.meetings: list[dict] = []
        self.participation: dict[str, dict[str, list[str]]] = {}

    @classmethod
    def constitute(cls, *, jurisdiction: str, members: dict[str, Any], now: datetime) -> Committee:
        return cls._create(
            cls.Constituted,
            id=committee_id(jurisdiction),
            jurisdiction=jurisdiction,
            members=members,
            constituted_at=now,
        )

    def _apply(self, members: dict[str, Any]) -> None:
        for key, value in members.items():
            setattr(self, key, value)

    def change_composition(self, *, members: dict[str, Any], now: datetime) -> None:
        if any(getattr(self, k) != v for k, v in members.items()):
            self._composition_changed(members=members, changed_at=now)

    @event("CompositionChanged")
    def _composition_changed(self, members: dict[str, Any], changed_at: datetime) -> None:
        self._apply(members)

    def record_meeting(
        self, *, held_on: date, topic: str, on_education: bool, today: date, minutes_ref: str = ""
    ) -> None:
        """A committee meeting, once held; those on education count toward the yearly minimum (O1)."""
        self._meeting_recorded(
            held_on=happened(held_on, "held_on", today=today),
            topic=require_name(topic, "topic"),
            on_education=on_education,
            minutes_ref=minutes_ref.strip(),
        )

    @event("MeetingRecorded")
    def _meeting_recorded(self, held_on: date, topic: str, on_education: bool, minutes_ref: str) -> None:
        self.meetings.append({"held_on": held_on, "topic": topic, "on_education": on_education})

    def record_participation(self, *, unit_name: str, activity_id: str, year: int) -> None:
        """A member unit took part in a supervision activity (filled from inspection's events later)."""
        if unit_name not in [u["name"] for u in self.member_units]:
            raise RuleViolation(
                f"{unit_name} is not a member unit of this committee", field="unit_name", rule="not_a_member_unit"
            )
        activity_id = require_name(activity_id, "activity_id")
        if activity_id not in self.participation.get(str(year), {}).get(unit_name, []):
            self._member_unit_participated(unit_name=unit_name, activity_id=activity_id, year=year)

    @event("MemberUnitParticipated")
    def _member_unit_participated(self, unit_name: str, activity_id: str, year: int) -> None:
        self.participation.setdefault(str(year), {}).setdefault(unit_name, []).append(activity_id)
