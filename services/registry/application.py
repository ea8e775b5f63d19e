"""Registry application: the commands that register and change schools and inspectors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from dudao.events import Envelope
from dudao.store import ServiceApplication
from services.registry.domain import Employment, Inspector, Ownership, School, Stage


class Registry(ServiceApplication):
    """The registry service's write side (event store in schema `registry`)."""

    service = "registry"

    def register_school(
        self,
        *,
        school_id: UUID,
        name: str,
        jurisdiction: str,
        stage: Stage,
        ownership: Ownership,
        enrolment: int,
        now: datetime,
        envelope: Envelope,
    ) -> School:
        school = School.register(
            school_id=school_id,
            name=name,
            jurisdiction=jurisdiction,
            stage=stage,
            ownership=ownership,
            enrolment=enrolment,
            now=now,
        )
        return self.save_new(school, envelope)

    def update_school(
        self,
        school_id: UUID,
        *,
        name: str,
        enrolment: int,
        now: datetime,
        expected_version: int | None,
        envelope: Envelope,
        authorize: Callable[[School], None],
    ) -> School:
        def command(school: School) -> None:
            authorize(school)
            school.update_details(name=name, enrolment=enrolment, now=now)

        return self.change(school_id, School, expected_version, envelope, command)

    def register_inspector(
        self, *, inspector_id: UUID, name: str, jurisdiction: str, employment: Employment, now: datetime, envelope: Envelope
    ) -> Inspector:
        inspector = Inspector.register(
            inspector_id=inspector_id, name=name, jurisdiction=jurisdiction, employment=employment, now=now
        )
        return self.save_new(inspector, envelope)

    def update_inspector(
        self,
        inspector_id: UUID,
        *,
        name: str,
        employment: Employment,
        now: datetime,
        expected_version: int | None,
        envelope: Envelope,
        authorize: Callable[[Inspector], None],
    ) -> Inspector:
        def command(inspector: Inspector) -> None:
            authorize(inspector)
            inspector.update_details(name=name, employment=employment, now=now)

        return self.change(inspector_id, Inspector, expected_version, envelope, command)

    def get_school(self, school_id: UUID) -> School:
        return self.get(school_id, School)

    def get_inspector(self, inspector_id: UUID) -> Inspector:
        return self.get(inspector_id, Inspector)
