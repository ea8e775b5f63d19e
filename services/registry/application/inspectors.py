"""Commands on inspectors: nominate, profile, lifecycle, training, assessment, declared ties."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from dudao import jurisdiction as divisions
from dudao import rules
from dudao.errors import InvalidInput
from dudao.events import Envelope
from dudao.personal import Sealed
from dudao.store import ServiceApplication
from services.registry.domain import Employment, Focus, Inspector, InspectorRole, Stage
from services.registry.domain.inspector import person_of

Authorize = Callable[[Inspector], None]


def inspector_id_for_number(jurisdiction: str, number: str) -> UUID:
    """An inspector known by the office's own number (督学编号) always has the same id, so imports repeat safely."""
    return uuid5(NAMESPACE_URL, f"dudao:inspector-number:{jurisdiction}:{number}")


def checked_personal(details: dict[str, str]) -> dict[str, str | None]:
    """Private details checked field by field (mobile, GB 11643 ID number, address); "" becomes None (clear it)."""
    checks = {"mobile": rules.mobile, "id_number": rules.resident_id, "home_address": rules.require_name}
    return {f: checks[f](v, f) if v.strip() else None for f, v in details.items()}


class InspectorCommands(ServiceApplication):
    def nominate_inspector(
        self,
        *,
        inspector_id: UUID,
        name: str,
        jurisdiction: str,
        employment: Employment,
        now: datetime,
        envelope: Envelope,
        roles: list[InspectorRole] = (),
        focus: Focus = Focus.schools,  # type: ignore[assignment]
        stages: list[Stage] = (),
        subjects: list[str] = (),
        public_contact: str | None = None,  # type: ignore[assignment]
    ) -> Inspector:
        inspector = Inspector.nominate(
            inspector_id=inspector_id,
            name=name,
            jurisdiction=jurisdiction,
            employment=employment,
            now=now,
            roles=roles,
            focus=focus,
            stages=stages,
            subjects=subjects,
            public_contact=public_contact,
        )
        return self.save_new(inspector, envelope)

    def import_inspector(
        self,
        *,
        number: str,
        name: str,
        jurisdiction: str,
        employment: Employment,
        roles: list[InspectorRole],
        focus: Focus,
        stages: list[Stage],
        subjects: list[str],
        public_contact: str | None,
        now: datetime,
        envelope: Envelope,
        authorize: Authorize,
        personal: dict[str, str] | None = None,
    ) -> tuple[Inspector, bool]:
        """Nominate the inspector with this office number, or bring the profile (and any private details) up to date;
        a repeat changes nothing. As with `record_inspector_personal`, the sealed details are folded into the hash."""
        inspector, created = self.prepare_inspector_import(
            number=number,
            name=name,
            jurisdiction=jurisdiction,
            employment=employment,
            roles=roles,
            focus=focus,
            stages=stages,
            subjects=subjects,
            public_contact=public_contact,
            now=now,
            authorize=authorize,
            personal=personal,
        )
        sealed = inspector.personal if personal else {}
        envelope = envelope.also_hashing(sealed) if sealed else envelope
        if created:
            return self.save_new(inspector, envelope), True
        self.save_checked(inspector, envelope=envelope)
        return inspector, False

    def prepare_inspector_import(
        self,
        *,
        number: str,
        name: str,
        jurisdiction: str,
        employment: Employment,
        roles: list[InspectorRole],
        focus: Focus,
        stages: list[Stage],
        subjects: list[str],
        public_contact: str | None,
        now: datetime,
        authorize: Authorize,
        personal: dict[str, str] | None = None,
        seal: bool = True,
    ) -> tuple[Inspector, bool]:
        """The inspector a row nominates or brings up to date, checked and not yet saved: (the inspector, whether new).
        Private details are checked; with `seal` (not in a dry run, which must leave no key behind) they are sealed
        and recorded too."""
        inspector_id = inspector_id_for_number(jurisdiction, number)
        profile = {
            "roles": roles,
            "focus": focus,
            "stages": stages,
            "subjects": subjects,
            "public_contact": public_contact,
        }
        plain = checked_personal(personal or {})
        existing = self.get(inspector_id, Inspector) if self.exists(inspector_id) else None
        inspector = existing or Inspector.nominate(
            inspector_id=inspector_id, name=name, jurisdiction=jurisdiction, employment=employment, now=now, **profile
        )
        authorize(inspector)  # before a key is made for someone the caller may not touch
        if existing is not None:
            inspector.update_details(name=name, employment=employment, now=now, **profile)
        if plain and seal:
            inspector.record_personal(details=self._seal(inspector_id, inspector.jurisdiction, plain), now=now)
        return inspector, existing is None

    def update_inspector(
        self,
        inspector_id: UUID,
        *,
        name: str,
        employment: Employment,
        now: datetime,
        expected_version: int | None,
        envelope: Envelope,
        authorize: Authorize,
        roles: list[InspectorRole] | None = None,
        focus: Focus | None = None,
        stages: list[Stage] | None = None,
        subjects: list[str] | None = None,
        public_contact: str | None = None,
    ) -> Inspector:
        return self.on_inspector(
            inspector_id,
            expected_version,
            envelope,
            authorize,
            lambda i: i.update_details(
                name=name,
                employment=employment,
                now=now,
                roles=roles,
                focus=focus,
                stages=stages,
                subjects=subjects,
                public_contact=public_contact,
            ),
        )

    def file_inspector(
        self,
        inspector_id: UUID,
        *,
        filed_with: str,
        filed_on: date,
        today: date,
        expected_version: int | None,
        envelope: Envelope,
        authorize: Authorize,
    ) -> Inspector:
        """File (备案) with the body one level up: `filed_with` must contain the inspector's jurisdiction."""

        def command(inspector: Inspector) -> None:
            if filed_with == inspector.jurisdiction or not divisions.contains(filed_with, inspector.jurisdiction):
                raise InvalidInput(
                    f"an inspector of {inspector.jurisdiction} is filed with a level above it, not {filed_with}",
                    field="filed_with",
                    rule="filed_with_upper_level",
                )
            inspector.file_upward(filed_with=filed_with, filed_on=filed_on, today=today)

        return self.on_inspector(inspector_id, expected_version, envelope, authorize, command)

    def on_inspector(
        self,
        inspector_id: UUID,
        expected_version: int | None,
        envelope: Envelope,
        authorize: Authorize,
        command: Callable[[Inspector], None],
    ) -> Inspector:
        """Apply one lifecycle, training, assessment or tie command to an inspector."""
        return self.change(inspector_id, Inspector, expected_version, envelope, command, authorize)

    def record_inspector_personal(
        self,
        inspector_id: UUID,
        *,
        details: dict[str, str],
        now: datetime,
        expected_version: int | None,
        envelope: Envelope,
        authorize: Authorize,
    ) -> Inspector:
        """Check, seal with the inspector's key and record private details; "" clears a field (decision 019).

        `envelope`'s request hash must not cover the plain values: the sealed ones are folded into it here."""
        plain = checked_personal(details)
        inspector = self.get(inspector_id, Inspector)
        authorize(inspector)
        sealed = self._seal(inspector_id, inspector.jurisdiction, plain)
        return self.change(
            inspector_id,
            Inspector,
            expected_version,
            envelope.also_hashing(sealed),
            lambda i: i.record_personal(details=sealed, now=now),
            authorize,
        )

    def _seal(self, inspector_id: UUID, jurisdiction: str, plain: dict[str, str | None]) -> dict[str, Sealed | None]:
        person = person_of(inspector_id)
        return {f: self.keys.seal(person, jurisdiction, v) for f, v in plain.items()}

    def revealed(self, inspector: Inspector) -> dict[str, str]:
        """The inspector's private details in plain, as far as their key still exists (else ERASED)."""
        return {f: self.keys.reveal(v) for f, v in inspector.personal.items()}
