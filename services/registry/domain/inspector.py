"""Inspectors (督学): lifecycle from nomination to exit, kinds, training, annual assessment, declared ties."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from dudao.errors import InvalidInput
from dudao.personal import Sealed
from dudao.rules import RuleViolation, check_transition, happened, require_name
from dudao.stages import Stage
from services.registry.domain.inspector_terms import (
    Employment,
    ExitReason,
    Focus,
    Grade,
    InspectorRole,
    Status,
    TieKind,
    TrainingKind,
)

S = Status
PERSONAL_FIELDS = ("mobile", "id_number", "home_address")  # sealed with the inspector's key, never in plain
# Which states each lifecycle command may start from. A walk of this table is in the tests.
TRANSITIONS: dict[str, frozenset[str]] = {
    "appoint": frozenset({S.nominated}),
    "file": frozenset({S.appointed}),
    "activate": frozenset({S.filed}),
    "suspend": frozenset({S.active}),
    "reinstate": frozenset({S.suspended}),
    "renew_term": frozenset({S.active, S.suspended}),
    "exit": frozenset({S.appointed, S.filed, S.active, S.suspended}),
}
LIVE = frozenset({S.nominated, S.appointed, S.filed, S.active, S.suspended})


class Inspector(Aggregate):
    """An inspector (督学), nominated, appointed for a term (届), filed upward, active until exit."""

    @event("Registered")
    def __init__(
        self,
        *,
        name: str,
        jurisdiction: str,
        employment: Employment,
        registered_at: datetime,
        roles: list[str] | None = None,
        focus: Focus = Focus.schools,
        stages: list[str] | None = None,
        subjects: list[str] | None = None,
        public_contact: str | None = None,
    ):
        self.name = name
        self.jurisdiction = jurisdiction
        self.employment = Employment(employment)
        self.registered_at = registered_at
        self.roles = [InspectorRole(r) for r in roles or []]
        self.focus = Focus(focus)
        self.stages = [Stage(s) for s in stages or []]
        self.subjects = list(subjects or [])
        self.public_contact = public_contact
        self.status = Status.nominated
        self.term: dict | None = None
        self.filed_with: str | None = None
        self.trainings: list[dict] = []
        self.assessments: dict[str, str] = {}
        self.exit_review_open = False
        self.ties: dict[str, str] = {}
        self.exit_reason: ExitReason | None = None
        self.personal: dict[str, Sealed] = {}

    @classmethod
    def nominate(
        cls,
        *,
        inspector_id: UUID,
        name: str,
        jurisdiction: str,
        employment: Employment,
        now: datetime,
        roles: list[InspectorRole] = (),  # type: ignore[assignment]
        focus: Focus = Focus.schools,
        stages: list[Stage] = (),  # type: ignore[assignment]
        subjects: list[str] = (),  # type: ignore[assignment]
        public_contact: str | None = None,
    ) -> Inspector:
        """Enter a nominee (提名) in the registry; appointment comes next."""
        return cls._create(
            cls.Registered,
            id=inspector_id,
            name=require_name(name),
            jurisdiction=jurisdiction,
            employment=Employment(employment),
            registered_at=now,
            **_profile(roles, focus, stages, subjects, public_contact),
        )

    def update_details(
        self,
        *,
        name: str,
        employment: Employment,
        now: datetime,
        roles: list[InspectorRole] | None = None,
        focus: Focus | None = None,
        stages: list[Stage] | None = None,
        subjects: list[str] | None = None,
        public_contact: str | None = None,
    ) -> None:
        """Change name, employment and profile; a field left out (None) keeps its value."""
        self._check_live("update")
        profile = _profile(
            self.roles if roles is None else roles,
            focus or self.focus,
            self.stages if stages is None else stages,
            self.subjects if subjects is None else subjects,
            self.public_contact if public_contact is None else (public_contact or None),
        )
        current = _profile(self.roles, self.focus, self.stages, self.subjects, self.public_contact)
        name, employment = require_name(name), Employment(employment)
        if (name, employment, profile) != (self.name, self.employment, current):
            self._details_updated(name=name, employment=employment, updated_at=now, **profile)

    @event("DetailsUpdated")
    def _details_updated(
        self,
        name: str,
        employment: Employment,
        updated_at: datetime,
        roles: list[str] | None = None,
        focus: Focus = Focus.schools,
        stages: list[str] | None = None,
        subjects: list[str] | None = None,
        public_contact: str | None = None,
    ) -> None:
        self.name, self.employment = name, Employment(employment)
        self.roles = [InspectorRole(r) for r in roles or []]
        self.focus = Focus(focus)
        self.stages = [Stage(s) for s in stages or []]
        self.subjects = list(subjects or [])
        self.public_contact = public_contact

    # --- lifecycle --------------------------------------------------------------------------------------

    def appoint(self, *, term_no: int, term_start: date, term_end: date) -> None:
        """Appointment (聘任) for a numbered term (第N届) with its start and end."""
        check_transition("inspector", TRANSITIONS, "appoint", self.status)
        self._appointed(**_term(term_no, term_start, term_end))

    @event("Appointed")
    def _appointed(self, term_no: int, term_start: date, term_end: date) -> None:
        self.status = Status.appointed
        self.term = {"term_no": term_no, "term_start": term_start, "term_end": term_end}

    def file_upward(self, *, filed_with: str, filed_on: date, today: date) -> None:
        """Filing (备案) with the supervision body one level up (000 §15)."""
        check_transition("inspector", TRANSITIONS, "file", self.status)
        self._filed(filed_with=filed_with, filed_on=happened(filed_on, "filed_on", today=today))

    @event("Filed")
    def _filed(self, filed_with: str, filed_on: date) -> None:
        self.status, self.filed_with = Status.filed, filed_with

    def activate(self, *, on: date, today: date) -> None:
        """Activation (激活) once filed: a day of the term, and not after today."""
        check_transition("inspector", TRANSITIONS, "activate", self.status)
        term = self.term or {}
        happened(
            on, "on", today=today, after=term.get("term_start"), after_what=f"the start of term {term.get('term_no')}"
        )
        if term.get("term_end") and on > term["term_end"]:
            raise InvalidInput(
                f"on {on} is after the end of term {term['term_no']} ({term['term_end']})",
                field="on",
                rule="date_order",
                date=on.isoformat(),
                latest=term["term_end"].isoformat(),
            )
        self._activated(on=on)

    @event("Activated")
    def _activated(self, on: date) -> None:
        self.status = Status.active

    def suspend(self, *, reason: str, on: date, today: date) -> None:
        check_transition("inspector", TRANSITIONS, "suspend", self.status)
        self._suspended(reason=require_name(reason, "reason"), on=happened(on, "on", today=today))

    @event("Suspended")
    def _suspended(self, reason: str, on: date) -> None:
        self.status = Status.suspended

    def reinstate(self, *, on: date, today: date) -> None:
        check_transition("inspector", TRANSITIONS, "reinstate", self.status)
        self._reinstated(on=happened(on, "on", today=today))

    @event("Reinstated")
    def _reinstated(self, on: date) -> None:
        self.status = Status.active

    def renew_term(self, *, term_no: int, term_start: date, term_end: date) -> None:
        """Re-appointment for the next term (换届续聘)."""
        check_transition("inspector", TRANSITIONS, "renew_term", self.status)
        if self.term and term_no <= self.term["term_no"]:
            raise RuleViolation(
                f"the new term must come after term {self.term['term_no']}", field="term_no", rule="term_order"
            )
        self._term_renewed(**_term(term_no, term_start, term_end))

    @event("TermRenewed")
    def _term_renewed(self, term_no: int, term_start: date, term_end: date) -> None:
        self.term = {"term_no": term_no, "term_start": term_start, "term_end": term_end}

    def exit(self, *, reason: ExitReason, on: date, today: date, note: str = "") -> None:
        """Leave the corps (退出): term ended, resigned, or dismissed (解聘) for a named cause."""
        check_transition("inspector", TRANSITIONS, "exit", self.status)
        self._exited(reason=ExitReason(reason), on=happened(on, "on", today=today), note=note.strip())

    @event("Exited")
    def _exited(self, reason: ExitReason, on: date, note: str) -> None:
        self.status = Status.exited
        self.exit_reason = ExitReason(reason)
        self.exit_review_open = False

    # --- training, assessment, ties ----------------------------------------------------------------------

    def record_training(self, *, kind: TrainingKind, title: str, hours: float, completed_on: date, today: date) -> None:
        """A training with its hours: pre-service (上岗) once, in-service (在岗) at least once per term."""
        self._check_live("record training for")
        if not 0 < hours <= 1000:
            raise InvalidInput("hours must be more than 0 and at most 1000", field="hours", rule="hours_range")
        term_no = self.term["term_no"] if self.term else None
        self._training_recorded(
            kind=TrainingKind(kind),
            title=require_name(title, "title"),
            hours=hours,
            completed_on=happened(completed_on, "completed_on", today=today),
            term_no=term_no,
        )

    @event("TrainingRecorded")
    def _training_recorded(
        self, kind: TrainingKind, title: str, hours: float, completed_on: date, term_no: int | None
    ) -> None:
        self.trainings.append(
            {
                "kind": TrainingKind(kind),
                "title": title,
                "hours": hours,
                "completed_on": completed_on,
                "term_no": term_no,
            }
        )

    def missing_training(self) -> list[TrainingKind]:
        """What this inspector lacks: pre-service ever, in-service in the current term."""
        kinds = {(t["kind"], t["term_no"]) for t in self.trainings}
        missing = [] if any(k == TrainingKind.pre_service for k, _ in kinds) else [TrainingKind.pre_service]
        term_no = self.term["term_no"] if self.term else None
        if term_no is not None and (TrainingKind.in_service, term_no) not in kinds:
            missing.append(TrainingKind.in_service)
        return missing

    def assess(self, *, year: int, grade: Grade) -> None:
        """The annual assessment (实绩考核); unqualified opens an exit review (退出审查)."""
        if self.status not in (Status.active, Status.suspended):
            raise RuleViolation(
                f"only an active or suspended inspector is assessed, not one that is {self.status}",
                field="status",
                rule="inspector_lifecycle",
            )
        if str(year) in self.assessments:
            raise RuleViolation(f"{year} has already been assessed", field="year", rule="assessed_once_a_year")
        self._assessed(year=year, grade=Grade(grade))
        if grade is Grade.unqualified and not self.exit_review_open:
            self._exit_review_opened(year=year)

    @event("Assessed")
    def _assessed(self, year: int, grade: Grade) -> None:
        self.assessments[str(year)] = Grade(grade)

    @event("ExitReviewOpened")
    def _exit_review_opened(self, year: int) -> None:
        self.exit_review_open = True

    def declare_tie(self, *, unit_id: str, kind: TieKind, note: str = "") -> None:
        """A tie (former employer, relative, own school …) that bars inspecting the unit (回避)."""
        self._check_live("declare a tie for")
        unit_id = require_name(unit_id, "unit_id")
        if self.ties.get(unit_id) != TieKind(kind):
            self._tie_declared(unit_id=unit_id, kind=TieKind(kind), note=note.strip())

    @event("TieDeclared")
    def _tie_declared(self, unit_id: str, kind: TieKind, note: str) -> None:
        self.ties[unit_id] = TieKind(kind)

    def withdraw_tie(self, *, unit_id: str, reason: str) -> None:
        if unit_id not in self.ties:
            raise RuleViolation(f"no tie to {unit_id} was declared", field="unit_id", rule="no_such_tie")
        self._tie_withdrawn(unit_id=unit_id, reason=require_name(reason, "reason"))

    @event("TieWithdrawn")
    def _tie_withdrawn(self, unit_id: str, reason: str) -> None:
        del self.ties[unit_id]

    # --- personal data (PIPL) -----------------------------------------------------------------------------

    def record_personal(self, *, details: dict[str, Sealed | None], now: datetime) -> None:
        """Private mobile, ID number and home address, sealed (dudao.personal); None clears a field, one left out stays."""
        merged = {k: v for k, v in {**self.personal, **details}.items() if v is not None}
        if unknown := set(merged) - set(PERSONAL_FIELDS):
            raise InvalidInput(
                f"not a personal field: {', '.join(sorted(unknown))}", field="personal", rule="known_fields"
            )
        if merged != self.personal:
            self._personal_recorded(details=merged, recorded_at=now)

    @event("PersonalDetailsRecorded")
    def _personal_recorded(self, details: dict[str, Sealed], recorded_at: datetime) -> None:
        self.personal = dict(details)

    def person(self) -> str:
        """Whose personal data this is, as keys and erasures name it."""
        return person_of(self.id)

    def has_tie_to(self, unit_id: str) -> bool:
        return unit_id in self.ties

    def _check_live(self, what: str) -> None:
        if self.status not in LIVE:
            raise RuleViolation(
                f"cannot {what} an inspector who has exited", field="status", rule="inspector_lifecycle"
            )


def person_of(inspector_id: UUID) -> str:
    """An inspector as the keys that seal their personal data, and erasures, name them."""
    return f"inspector:{inspector_id}"


def _profile(roles, focus, stages, subjects, public_contact) -> dict:
    """The profile fields as they go into events: plain, sorted, validated."""
    roles = sorted({InspectorRole(r).value for r in roles})
    if InspectorRole.listed.value in roles and not (public_contact or "").strip():
        raise InvalidInput(
            "a listed inspector (挂牌督学) needs a public contact", field="public_contact", rule="listed_needs_contact"
        )
    return {
        "roles": roles,
        "focus": Focus(focus).value,
        "stages": sorted({Stage(s).value for s in stages}),
        "subjects": sorted({require_name(s, "subjects") for s in subjects}),
        "public_contact": (public_contact or "").strip() or None,
    }


def _term(term_no: int, term_start: date, term_end: date) -> dict:
    if term_no < 1:
        raise InvalidInput("term_no must be 1 or more", field="term_no", rule="positive")
    if term_end <= term_start:
        raise InvalidInput("term_end must be after term_start", field="term_end", rule="term_order")
    return {"term_no": term_no, "term_start": term_start, "term_end": term_end}
