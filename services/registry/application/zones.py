"""Commands on responsibility zones: create, list inspectors, put schools in, assign responsible inspectors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from dudao import jurisdiction as divisions
from dudao.events import Envelope
from dudao.store import ServiceApplication
from services.registry.domain import Inspector, InspectorRole, RuleViolation, School, Status, Zone


class ZoneCommands(ServiceApplication):
    def create_zone(self, *, zone_id: UUID, name: str, jurisdiction: str, now: datetime, envelope: Envelope) -> Zone:
        return self.save_new(Zone.create(zone_id=zone_id, name=name, jurisdiction=jurisdiction, now=now), envelope)

    def list_inspector_in_zone(
        self,
        zone_id: UUID,
        inspector_id: UUID,
        *,
        expected_version: int | None,
        envelope: Envelope,
        authorize: Callable[[Zone], None],
    ) -> Zone:
        """Post a listed inspector (挂牌督学) for the zone; they must hold that role and belong to the place."""
        inspector = self.get(inspector_id, Inspector)

        def command(zone: Zone) -> None:
            if InspectorRole.listed not in inspector.roles or inspector.status is Status.exited:
                raise RuleViolation(
                    "only a serving inspector with the listed role (挂牌督学) can be listed for a zone",
                    field="inspector_id",
                    rule="not_a_listed_inspector",
                )
            _check_within(zone.jurisdiction, inspector.jurisdiction, "inspector_id")
            zone.add_listed_inspector(inspector_id)

        return self.change(zone_id, Zone, expected_version, envelope, command, authorize)

    def unlist_inspector_in_zone(
        self,
        zone_id: UUID,
        inspector_id: UUID,
        *,
        expected_version: int | None,
        envelope: Envelope,
        authorize: Callable[[Zone], None],
    ) -> Zone:
        return self.change(
            zone_id, Zone, expected_version, envelope, lambda z: z.remove_listed_inspector(inspector_id), authorize
        )

    def put_school_in_zone(
        self,
        school_id: UUID,
        zone_id: UUID,
        *,
        expected_version: int | None,
        envelope: Envelope,
        authorize: Callable[[School], None],
    ) -> School:
        zone = self.get(zone_id, Zone)

        def command(school: School) -> None:
            _check_within(zone.jurisdiction, school.jurisdiction, "zone_id")
            school.assign_zone(zone_id)

        return self.change(school_id, School, expected_version, envelope, command, authorize)

    def assign_responsible_inspector(
        self,
        school_id: UUID,
        inspector_id: UUID,
        *,
        expected_version: int | None,
        envelope: Envelope,
        authorize: Callable[[School], None],
    ) -> School:
        """The school's responsible inspector (责任督学): serving, with that role, and with no tie to the school."""
        inspector = self.get(inspector_id, Inspector)

        def command(school: School) -> None:
            if inspector.status is not Status.active or InspectorRole.responsible not in inspector.roles:
                raise RuleViolation(
                    "a responsible inspector must be active and hold the responsible role (责任督学)",
                    field="inspector_id",
                    rule="not_a_responsible_inspector",
                )
            if inspector.has_tie_to(str(school.id)):
                raise RuleViolation(
                    f"{inspector.name} declared a tie to this school and must recuse (回避)",
                    field="inspector_id",
                    rule="recusal",
                )
            _check_within(inspector.jurisdiction, school.jurisdiction, "inspector_id")
            school.assign_responsible_inspector(inspector_id)

        return self.change(school_id, School, expected_version, envelope, command, authorize)


def _check_within(outer: str, inner: str, field: str) -> None:
    if not divisions.contains(outer, inner):
        raise RuleViolation(f"{inner} is not inside {outer}", field=field, rule="outside_jurisdiction")
