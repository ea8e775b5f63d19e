"""Commands on inspectors: nominate, profile, lifecycle, training, assessment, declared ties."""

from __future__ import annotations

from collections.abc import Callable
from uuid import NAMESPACE_URL, UUID, uuid5

from dudao import jurisdiction as divisions
from dudao import rules
from dudao.commands import Caller, in_scope
from dudao.errors import InvalidInput
from dudao.personal import Sealed
from dudao.scope import check_scope
from dudao.store import ServiceApplication
from services.registry.commands import (
    Activate,
    Appoint,
    Assess,
    DeclareTie,
    ExitInspector,
    FileInspector,
    ImportInspector,
    NominateInspector,
    RecordInspectorPersonal,
    RecordTraining,
    Reinstate,
    RenewTerm,
    Suspend,
    UpdateInspector,
    WithdrawTie,
)
from services.registry.domain import Inspector
from services.registry.domain.inspector import person_of


def inspector_id_for_number(jurisdiction: str, number: str) -> UUID:
    """An inspector known by the office's own number (督学编号) always has the same id, so imports repeat safely."""
    return uuid5(NAMESPACE_URL, f"dudao:inspector-number:{jurisdiction}:{number}")


def checked_personal(details: dict[str, str]) -> dict[str, str | None]:
    """Private details checked field by field (mobile, GB 11643 ID number, address); "" becomes None (clear it)."""
    checks = {"mobile": rules.mobile, "id_number": rules.resident_id, "home_address": rules.require_name}
    return {f: checks[f](v, f) if v.strip() else None for f, v in details.items()}


class InspectorCommands(ServiceApplication):
    def nominate_inspector(self, command: NominateInspector, caller: Caller) -> Inspector:
        """Enter a nominee (提名) of the caller's subtree."""
        check_scope(caller.principal, command.jurisdiction)
        inspector = Inspector.nominate(
            inspector_id=caller.made_id,
            name=command.name,
            jurisdiction=command.jurisdiction,
            employment=command.employment,
            now=command.now,
            roles=command.roles,
            focus=command.focus,
            stages=command.stages,
            subjects=command.subjects,
            public_contact=command.public_contact,
        )
        return self.save_new(inspector, caller.envelope)

    def import_inspector(self, command: ImportInspector, caller: Caller) -> tuple[Inspector, bool]:
        """Nominate the inspector with this office number, or bring the profile (and any private details) up to date;
        a repeat changes nothing. As with `record_inspector_personal`, the sealed details are folded into the hash."""
        inspector, created = self.prepare_inspector_import(command, in_scope(caller))
        sealed = inspector.personal if command.personal else {}
        envelope = caller.envelope.also_hashing(sealed) if sealed else caller.envelope
        if created:
            return self.save_new(inspector, envelope), True
        self.save_checked(inspector, envelope=envelope)
        return inspector, False

    def prepare_inspector_import(
        self, command: ImportInspector, authorize: Callable[[Inspector], None], *, seal: bool = True
    ) -> tuple[Inspector, bool]:
        """The inspector a row nominates or brings up to date, checked (`authorize` on it) and not yet saved: (the
        inspector, whether new). Private details are checked; with `seal` (not in a dry run, which must leave no key
        behind) they are sealed and recorded too."""
        inspector_id = inspector_id_for_number(command.jurisdiction, command.number)
        profile = {
            "roles": command.roles,
            "focus": command.focus,
            "stages": command.stages,
            "subjects": command.subjects,
            "public_contact": command.public_contact,
        }
        plain = checked_personal(command.personal or {})
        existing = self.get(inspector_id, Inspector) if self.exists(inspector_id) else None
        inspector = existing or Inspector.nominate(
            inspector_id=inspector_id,
            name=command.name,
            jurisdiction=command.jurisdiction,
            employment=command.employment,
            now=command.now,
            **profile,
        )
        authorize(inspector)  # before a key is made for someone the caller may not touch
        if existing is not None:
            inspector.update_details(name=command.name, employment=command.employment, now=command.now, **profile)
        if plain and seal:
            inspector.record_personal(details=self._seal(inspector_id, inspector.jurisdiction, plain), now=command.now)
        return inspector, existing is None

    def update_inspector(self, command: UpdateInspector, caller: Caller) -> Inspector:
        return self._on_inspector(
            command.inspector_id,
            caller,
            lambda i: i.update_details(
                name=command.name,
                employment=command.employment,
                now=command.now,
                roles=command.roles,
                focus=command.focus,
                stages=command.stages,
                subjects=command.subjects,
                public_contact=command.public_contact,
            ),
        )

    def record_inspector_personal(self, command: RecordInspectorPersonal, caller: Caller) -> Inspector:
        """Check, seal with the inspector's key and record private details; "" clears a field (decision 019).

        The caller's request hash does not cover the plain values: the sealed ones are folded into it here."""
        plain = checked_personal(command.details)
        inspector = self.get(command.inspector_id, Inspector)
        in_scope(caller)(inspector)  # before a key is made for someone the caller may not touch
        sealed = self._seal(command.inspector_id, inspector.jurisdiction, plain)
        return self.change(
            command.inspector_id,
            Inspector,
            caller.expected_version,
            caller.envelope.also_hashing(sealed),
            lambda i: i.record_personal(details=sealed, now=command.now),
            in_scope(caller),
        )

    # --- the lifecycle: appointment, filing, activation, suspension, renewal, exit ------------------------------

    def appoint(self, command: Appoint, caller: Caller) -> Inspector:
        """Appoint (聘任) a nominee for a numbered term (第N届)."""
        return self._on_inspector(
            command.inspector_id,
            caller,
            lambda i: i.appoint(term_no=command.term_no, term_start=command.term_start, term_end=command.term_end),
        )

    def file_inspector(self, command: FileInspector, caller: Caller) -> Inspector:
        """File (备案) with the body one level up: `filed_with` must contain the inspector's jurisdiction."""

        def apply(inspector: Inspector) -> None:
            filed_with = command.filed_with
            if filed_with == inspector.jurisdiction or not divisions.contains(filed_with, inspector.jurisdiction):
                raise InvalidInput(
                    f"an inspector of {inspector.jurisdiction} is filed with a level above it, not {filed_with}",
                    field="filed_with",
                    rule="filed_with_upper_level",
                )
            inspector.file_upward(filed_with=filed_with, filed_on=command.filed_on, today=command.today)

        return self._on_inspector(command.inspector_id, caller, apply)

    def activate(self, command: Activate, caller: Caller) -> Inspector:
        return self._on_inspector(
            command.inspector_id, caller, lambda i: i.activate(on=command.on, today=command.today)
        )

    def suspend(self, command: Suspend, caller: Caller) -> Inspector:
        return self._on_inspector(
            command.inspector_id,
            caller,
            lambda i: i.suspend(reason=command.reason, on=command.on, today=command.today),
        )

    def reinstate(self, command: Reinstate, caller: Caller) -> Inspector:
        return self._on_inspector(
            command.inspector_id, caller, lambda i: i.reinstate(on=command.on, today=command.today)
        )

    def renew_term(self, command: RenewTerm, caller: Caller) -> Inspector:
        """Re-appoint for the next term (换届续聘)."""
        return self._on_inspector(
            command.inspector_id,
            caller,
            lambda i: i.renew_term(term_no=command.term_no, term_start=command.term_start, term_end=command.term_end),
        )

    def exit_inspector(self, command: ExitInspector, caller: Caller) -> Inspector:
        """Exit (退出): term ended, resigned, or dismissed (解聘) for one of the causes in the closed list."""
        return self._on_inspector(
            command.inspector_id,
            caller,
            lambda i: i.exit(reason=command.reason, on=command.on, note=command.note, today=command.today),
        )

    # --- training, assessment, declared ties --------------------------------------------------------------------

    def record_training(self, command: RecordTraining, caller: Caller) -> Inspector:
        return self._on_inspector(
            command.inspector_id,
            caller,
            lambda i: i.record_training(
                kind=command.kind,
                title=command.title,
                hours=command.hours,
                completed_on=command.completed_on,
                today=command.today,
            ),
        )

    def assess(self, command: Assess, caller: Caller) -> Inspector:
        """The annual assessment (实绩考核); unqualified opens an exit review."""
        return self._on_inspector(
            command.inspector_id, caller, lambda i: i.assess(year=command.year, grade=command.grade)
        )

    def declare_tie(self, command: DeclareTie, caller: Caller) -> Inspector:
        """Declare a tie to a unit (回避): the inspector will never be assigned to inspect it."""
        return self._on_inspector(
            command.inspector_id,
            caller,
            lambda i: i.declare_tie(unit_id=command.unit_id, kind=command.kind, note=command.note),
        )

    def withdraw_tie(self, command: WithdrawTie, caller: Caller) -> Inspector:
        return self._on_inspector(
            command.inspector_id, caller, lambda i: i.withdraw_tie(unit_id=command.unit_id, reason=command.reason)
        )

    def _on_inspector(self, inspector_id: UUID, caller: Caller, apply: Callable[[Inspector], None]) -> Inspector:
        """Offices over the inspector's place act on the inspector."""
        return self.act(inspector_id, Inspector, caller, apply, in_scope(caller))

    def _seal(self, inspector_id: UUID, jurisdiction: str, plain: dict[str, str | None]) -> dict[str, Sealed | None]:
        person = person_of(inspector_id)
        return {f: self.keys.seal(person, jurisdiction, v) for f, v in plain.items()}

    def revealed(self, inspector: Inspector) -> dict[str, str]:
        """The inspector's private details in plain, as far as their key still exists (else ERASED)."""
        return {f: self.keys.reveal(v) for f, v in inspector.personal.items()}
