"""Commands on responsibility zones: create, list inspectors, put schools in, assign responsible inspectors."""

from __future__ import annotations

from dudao import jurisdiction as divisions
from dudao.commands import Caller, in_scope
from dudao.scope import check_scope
from dudao.store import ServiceApplication
from services.registry.commands import (
    AssignResponsibleInspector,
    CreateZone,
    ListInspectorInZone,
    PutSchoolInZone,
    UnlistInspectorInZone,
)
from services.registry.domain import Inspector, InspectorRole, RuleViolation, School, Status, Zone


class ZoneCommands(ServiceApplication):
    def create_zone(self, command: CreateZone, caller: Caller) -> Zone:
        """Create a responsibility zone (督学责任区) in the caller's subtree."""
        check_scope(caller.principal, command.jurisdiction)
        zone = Zone.create(
            zone_id=caller.made_id, name=command.name, jurisdiction=command.jurisdiction, now=command.now
        )
        return self.save_new(zone, caller.envelope)

    def list_inspector_in_zone(self, command: ListInspectorInZone, caller: Caller) -> Zone:
        """Post a listed inspector (挂牌督学) for the zone; they must hold that role and belong to the place."""

        def apply(zone: Zone) -> None:
            inspector = self.get(command.inspector_id, Inspector)
            if InspectorRole.listed not in inspector.roles or inspector.status is Status.exited:
                raise RuleViolation(
                    "only a serving inspector with the listed role (挂牌督学) can be listed for a zone",
                    field="inspector_id",
                    rule="not_a_listed_inspector",
                )
            _check_within(zone.jurisdiction, inspector.jurisdiction, "inspector_id")
            zone.add_listed_inspector(command.inspector_id)

        return self.act(command.zone_id, Zone, caller, apply, in_scope(caller))

    def unlist_inspector_in_zone(self, command: UnlistInspectorInZone, caller: Caller) -> Zone:
        return self.act(
            command.zone_id, Zone, caller, lambda z: z.remove_listed_inspector(command.inspector_id), in_scope(caller)
        )

    def put_school_in_zone(self, command: PutSchoolInZone, caller: Caller) -> School:
        """Put the school in a responsibility zone of a place containing it; moving it is an event too."""

        def apply(school: School) -> None:
            zone = self.get(command.zone_id, Zone)
            _check_within(zone.jurisdiction, school.jurisdiction, "zone_id")
            school.assign_zone(command.zone_id)

        return self.act(command.school_id, School, caller, apply, in_scope(caller))

    def assign_responsible_inspector(self, command: AssignResponsibleInspector, caller: Caller) -> School:
        """The school's responsible inspector (责任督学): serving, with that role, and with no tie to the school."""

        def apply(school: School) -> None:
            inspector = self.get(command.inspector_id, Inspector)
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
            school.assign_responsible_inspector(command.inspector_id)

        return self.act(command.school_id, School, caller, apply, in_scope(caller))


def _check_within(outer: str, inner: str, field: str) -> None:
    if not divisions.contains(outer, inner):
        raise RuleViolation(f"{inner} is not inside {outer}", field=field, rule="outside_jurisdiction")
