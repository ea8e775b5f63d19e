"""Commands on schools: register (or import by code), details, enrolment, principal, sanctions, supervisors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from dudao.events import Envelope
from dudao.store import ServiceApplication
from services.registry.domain import EnrolmentStatus, Locality, Ownership, School, Stage

Authorize = Callable[[School], None]


def school_id_for_code(code: str) -> UUID:
    """A school known by its national code (学校代码) always has the same id, so imports repeat safely."""
    return uuid5(NAMESPACE_URL, f"dudao:school-code:{code}")


class SchoolCommands(ServiceApplication):
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
        code: str | None = None,
        locality: Locality | None = None,
    ) -> School:
        school = School.register(
            school_id=school_id,
            name=name,
            jurisdiction=jurisdiction,
            stage=stage,
            ownership=ownership,
            enrolment=enrolment,
            now=now,
            code=code,
            locality=locality,
        )
        return self.save_new(school, envelope)

    def import_school(
        self,
        *,
        code: str,
        name: str,
        jurisdiction: str,
        stage: Stage,
        ownership: Ownership,
        locality: Locality,
        enrolment: int,
        now: datetime,
        envelope: Envelope,
        authorize: Authorize,
    ) -> tuple[School, bool]:
        """Register the school with this code, or bring it up to date; the same row twice changes nothing."""
        school, created = self.prepare_school_import(
            code=code,
            name=name,
            jurisdiction=jurisdiction,
            stage=stage,
            ownership=ownership,
            locality=locality,
            enrolment=enrolment,
            now=now,
            authorize=authorize,
        )
        if created:
            return self.save_new(school, envelope), True
        self.save_checked(school, envelope=envelope)
        return school, False

    def prepare_school_import(
        self,
        *,
        code: str,
        name: str,
        jurisdiction: str,
        stage: Stage,
        ownership: Ownership,
        locality: Locality,
        enrolment: int,
        now: datetime,
        authorize: Authorize,
    ) -> tuple[School, bool]:
        """The school a row registers or brings up to date, checked and not yet saved: (the school, whether it is new).
        Its pending events are what saving it records (none when the row changes nothing)."""
        school_id = school_id_for_code(code)
        if not self.exists(school_id):
            school = School.register(
                school_id=school_id,
                name=name,
                jurisdiction=jurisdiction,
                stage=stage,
                ownership=ownership,
                enrolment=enrolment,
                now=now,
                code=code,
                locality=locality,
            )
            authorize(school)
            return school, True
        school = self.get(school_id, School)
        authorize(school)
        school.update_details(name=name, enrolment=enrolment, locality=locality, now=now)
        return school, False

    def update_school(
        self,
        school_id: UUID,
        *,
        name: str,
        enrolment: int,
        now: datetime,
        expected_version: int | None,
        envelope: Envelope,
        authorize: Authorize,
        locality: Locality | None = None,
    ) -> School:
        return self._on_school(
            school_id,
            expected_version,
            envelope,
            authorize,
            lambda s: s.update_details(name=name, enrolment=enrolment, locality=locality, now=now),
        )

    def record_enrolment(
        self,
        school_id: UUID,
        *,
        school_year: str,
        by_stage: dict[Stage, int],
        now: datetime,
        expected_version: int | None,
        envelope: Envelope,
        authorize: Authorize,
    ) -> School:
        return self._on_school(
            school_id,
            expected_version,
            envelope,
            authorize,
            lambda s: s.record_enrolment(school_year=school_year, by_stage=by_stage, now=now),
        )

    def appoint_principal(
        self,
        school_id: UUID,
        *,
        name: str,
        term_start: date,
        term_end: date,
        expected_version: int | None,
        envelope: Envelope,
        authorize: Authorize,
    ) -> School:
        return self._on_school(
            school_id,
            expected_version,
            envelope,
            authorize,
            lambda s: s.appoint_principal(name=name, term_start=term_start, term_end=term_end),
        )

    def end_principal_term(
        self,
        school_id: UUID,
        *,
        ended_on: date,
        reason: str,
        today: date,
        expected_version: int | None,
        envelope: Envelope,
        authorize: Authorize,
    ) -> School:
        return self._on_school(
            school_id,
            expected_version,
            envelope,
            authorize,
            lambda s: s.end_principal_term(ended_on=ended_on, reason=reason, today=today),
        )

    def change_enrolment_status(
        self,
        school_id: UUID,
        *,
        status: EnrolmentStatus,
        sanction_ref: str,
        now: datetime,
        expected_version: int | None,
        envelope: Envelope,
        authorize: Authorize,
    ) -> School:
        return self._on_school(
            school_id,
            expected_version,
            envelope,
            authorize,
            lambda s: s.change_enrolment_status(status=status, sanction_ref=sanction_ref, now=now),
        )

    def revoke_licence(
        self,
        school_id: UUID,
        *,
        sanction_ref: str,
        now: datetime,
        expected_version: int | None,
        envelope: Envelope,
        authorize: Authorize,
    ) -> School:
        return self._on_school(
            school_id,
            expected_version,
            envelope,
            authorize,
            lambda s: s.revoke_licence(sanction_ref=sanction_ref, now=now),
        )

    def record_internal_supervisors(
        self,
        school_id: UUID,
        *,
        names: list[str],
        expected_version: int | None,
        envelope: Envelope,
        authorize: Authorize,
    ) -> School:
        return self._on_school(
            school_id, expected_version, envelope, authorize, lambda s: s.record_internal_supervisors(names)
        )

    def _on_school(
        self,
        school_id: UUID,
        expected_version: int | None,
        envelope: Envelope,
        authorize: Authorize,
        command: Callable[[School], None],
    ) -> School:
        return self.change(school_id, School, expected_version, envelope, command, authorize)
