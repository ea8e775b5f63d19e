"""Responsibility zones (督学责任区): a group of schools and the listed inspectors who answer for them."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from dudao.rules import RuleViolation, require_name


class Zone(Aggregate):
    """A responsibility zone (督学责任区). Which schools are in it is recorded on each school."""

    @event("Created")
    def __init__(self, *, name: str, jurisdiction: str, created_at: datetime):
        self.name = name
        self.jurisdiction = jurisdiction
        self.created_at = created_at
        self.listed_inspectors: list[str] = []

    @classmethod
    def create(cls, *, zone_id: UUID, name: str, jurisdiction: str, now: datetime) -> Zone:
        return cls._create(cls.Created, id=zone_id, name=require_name(name), jurisdiction=jurisdiction, created_at=now)

    def rename(self, name: str) -> None:
        name = require_name(name)
        if name != self.name:
            self._renamed(name=name)

    @event("Renamed")
    def _renamed(self, name: str) -> None:
        self.name = name

    def add_listed_inspector(self, inspector_id: UUID) -> None:
        """A listed inspector (挂牌督学) whose name and contact are posted for the zone's schools."""
        if str(inspector_id) not in self.listed_inspectors:
            self._listed_inspector_added(inspector_id=str(inspector_id))

    @event("ListedInspectorAdded")
    def _listed_inspector_added(self, inspector_id: str) -> None:
        self.listed_inspectors.append(inspector_id)

    def remove_listed_inspector(self, inspector_id: UUID) -> None:
        if str(inspector_id) not in self.listed_inspectors:
            raise RuleViolation(
                "that inspector is not listed for this zone", field="inspector_id", rule="not_listed_here"
            )
        self._listed_inspector_removed(inspector_id=str(inspector_id))

    @event("ListedInspectorRemoved")
    def _listed_inspector_removed(self, inspector_id: str) -> None:
        self.listed_inspectors.remove(inspector_id)
