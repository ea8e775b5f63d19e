"""Commands on schools: register (or import by code), details, enrolment, principal, sanctions, supervisors."""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from dudao.commands import Caller, in_scope
from dudao.scope import check_scope
from dudao.store import ServiceApplication
from services.registry.commands import (
    AppointPrincipal,
    ChangeEnrolmentStatus,
    EndPrincipalTerm,
    ImportSchool,
    RecordEnrolment,
    RecordInternalSupervisors,
    RegisterSchool,
    RevokeLicence,
    UpdateSchool,
)
from services.registry.domain import School


def school_id_for_code(code: str) -> UUID:
    """A school known by its national code (学校代码) always has the same id, so imports repeat safely."""
    return uuid5(NAMESPACE_URL, f"dudao:school-code:{code}")


def _registered(school_id: UUID, command: RegisterSchool | ImportSchool) -> School:
    """A new school from a command that registers one, by hand or from an imported row."""
    return School.register(
        school_id=school_id,
        name=command.name,
        jurisdiction=command.jurisdiction,
        stage=command.stage,
        ownership=command.ownership,
        enrolment=command.enrolment,
        now=command.now,
        code=command.code,
        locality=command.locality,
    )


class SchoolCommands(ServiceApplication):
    def register_school(self, command: RegisterSchool, caller: Caller) -> School:
        """Register a school (登记学校) in the caller's subtree."""
        check_scope(caller.principal, command.jurisdiction)
        return self.save_new(_registered(caller.made_id, command), caller.envelope)

    def import_school(self, command: ImportSchool, caller: Caller) -> tuple[School, bool]:
        """Register the school with this code, or bring it up to date; the same row twice changes nothing."""
        school, created = self.prepare_school_import(command, in_scope(caller))
        if created:
            return self.save_new(school, caller.envelope), True
        self.save_checked(school, envelope=caller.envelope)
        return school, False

    def prepare_school_import(self, command: ImportSchool, authorize) -> tuple[School, bool]:
        """The school a row registers or brings up to date, checked (`authorize` on it) and not yet saved: (the school,
        whether it is new). Its pending events are what saving it records (none when the row changes nothing)."""
        school_id = school_id_for_code(command.code)
        if not self.exists(school_id):
            school = _registered(school_id, command)
            authorize(school)
            return school, True
        school = self.get(school_id, School)
        authorize(school)
        school.update_details(
            name=command.name, enrolment=command.enrolment, locality=command.locality, now=command.now
        )
        return school, False

    def update_school(self, command: UpdateSchool, caller: Caller) -> School:
        return self.act(
            command.school_id,
            School,
            caller,
            lambda s: s.update_details(
                name=command.name, enrolment=command.enrolment, locality=command.locality, now=command.now
            ),
            in_scope(caller),
        )

    def record_enrolment(self, command: RecordEnrolment, caller: Caller) -> School:
        return self.act(
            command.school_id,
            School,
            caller,
            lambda s: s.record_enrolment(school_year=command.school_year, by_stage=command.by_stage, now=command.now),
            in_scope(caller),
        )

    def appoint_principal(self, command: AppointPrincipal, caller: Caller) -> School:
        return self.act(
            command.school_id,
            School,
            caller,
            lambda s: s.appoint_principal(name=command.name, term_start=command.term_start, term_end=command.term_end),
            in_scope(caller),
        )

    def end_principal_term(self, command: EndPrincipalTerm, caller: Caller) -> School:
        return self.act(
            command.school_id,
            School,
            caller,
            lambda s: s.end_principal_term(ended_on=command.ended_on, reason=command.reason, today=command.today),
            in_scope(caller),
        )

    def change_enrolment_status(self, command: ChangeEnrolmentStatus, caller: Caller) -> School:
        return self.act(
            command.school_id,
            School,
            caller,
            lambda s: s.change_enrolment_status(
                status=command.status, sanction_ref=command.sanction_ref, now=command.now
            ),
            in_scope(caller),
        )

    def revoke_licence(self, command: RevokeLicence, caller: Caller) -> School:
        return self.act(
            command.school_id,
            School,
            caller,
            lambda s: s.revoke_licence(sanction_ref=command.sanction_ref, now=command.now),
            in_scope(caller),
        )

    def record_internal_supervisors(self, command: RecordInternalSupervisors, caller: Caller) -> School:
        return self.act(
            command.school_id, School, caller, lambda s: s.record_internal_supervisors(command.names), in_scope(caller)
        )
