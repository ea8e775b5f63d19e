"""Schools (学校): stage, ownership, locality, enrolment per year, principal, status, zone, internal supervisors."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from dudao.errors import InvalidInput
from dudao.rules import Labelled, RuleViolation, happened, require_name
from dudao.stages import Stage


class Ownership(Labelled):
    """Who runs the school (办学性质): public (公办) or private (民办)."""

    public = "public", "公办"
    private = "private", "民办"


class Locality(Labelled):
    """Urban–rural type (城乡类型)."""

    urban = "urban", "城区"
    town = "town", "镇区"
    rural = "rural", "乡村"


class LicenceStatus(Labelled):
    """State of a private school's operating licence (办学许可证)."""

    valid = "valid", "有效"
    revoked = "revoked", "已吊销"


class EnrolmentStatus(Labelled):
    """Whether the school may enrol (招生状态); only an accountability sanction changes it."""

    normal = "normal", "正常"
    plan_reduced = "plan_reduced", "核减招生计划"
    stopped = "stopped", "停止招生"


# The stages a school's pupils can be counted in, by the kind of school (DOMAIN §5 stage splitting).
STAGES_TAUGHT = {
    Stage.nine_year: {Stage.primary, Stage.junior_secondary},
    Stage.twelve_year: {Stage.primary, Stage.junior_secondary, Stage.senior_secondary},
    Stage.complete_secondary: {Stage.junior_secondary, Stage.senior_secondary},
}


def _require_enrolment(enrolment: int, field: str = "enrolment") -> int:
    if enrolment < 0:
        raise InvalidInput(f"{field} must be 0 or more", field=field, rule="non_negative")
    return enrolment


def _require_school_year(school_year: str) -> str:
    first, _, second = school_year.partition("-")
    if not (first.isdigit() and second.isdigit() and len(first) == 4 and int(second) == int(first) + 1):
        raise InvalidInput("school_year must look like 2025-2026", field="school_year", rule="school_year_format")
    return school_year


class School(Aggregate):
    """A school (学校) under a jurisdiction's supervision."""

    @event("Registered")
    def __init__(
        self,
        *,
        name: str,
        jurisdiction: str,
        stage: Stage,
        ownership: Ownership,
        enrolment: int,
        registered_at: datetime,
        code: str | None = None,
        locality: Locality | None = None,
    ):
        self.name = name
        self.jurisdiction = jurisdiction
        self.stage = Stage(stage)
        self.ownership = Ownership(ownership)
        self.enrolment = enrolment
        self.registered_at = registered_at
        self.code = code
        self.locality = Locality(locality) if locality else None
        self.enrolment_by_year: dict[str, dict[str, int]] = {}
        self.principal: dict | None = None
        self.licence = LicenceStatus.valid
        self.enrolment_status = EnrolmentStatus.normal
        self.zone_id: str | None = None
        self.responsible_inspector_id: str | None = None
        self.internal_supervisors: list[str] = []

    @classmethod
    def register(
        cls,
        *,
        school_id: UUID,
        name: str,
        jurisdiction: str,
        stage: Stage,
        ownership: Ownership,
        enrolment: int,
        now: datetime,
        code: str | None = None,
        locality: Locality | None = None,
    ) -> School:
        # Validate before the event exists, so a bad command records nothing.
        return cls._create(
            cls.Registered,
            id=school_id,
            name=require_name(name),
            jurisdiction=jurisdiction,
            stage=stage,
            ownership=ownership,
            enrolment=_require_enrolment(enrolment),
            registered_at=now,
            code=code,
            locality=locality,
        )

    # --- details ----------------------------------------------------------------------------------

    def update_details(self, *, name: str, enrolment: int, now: datetime, locality: Locality | None = None) -> None:
        name, enrolment = require_name(name), _require_enrolment(enrolment)
        locality = Locality(locality) if locality else self.locality
        if (name, enrolment, locality) != (self.name, self.enrolment, self.locality):
            self._details_updated(name=name, enrolment=enrolment, locality=locality, updated_at=now)

    @event("DetailsUpdated")
    def _details_updated(
        self, name: str, enrolment: int, updated_at: datetime, locality: Locality | None = None
    ) -> None:
        self.name, self.enrolment = name, enrolment
        self.locality = Locality(locality) if locality else None

    def record_enrolment(self, *, school_year: str, by_stage: dict[Stage, int], now: datetime) -> None:
        """Pupils per stage in a school year (学年); the latest year sets the school's enrolment."""
        school_year = _require_school_year(school_year)
        taught = STAGES_TAUGHT.get(self.stage, {self.stage})
        counts: dict[str, int] = {}
        for stage, count in by_stage.items():
            if Stage(stage) not in taught:
                allowed = ", ".join(sorted(s.value for s in taught))
                raise InvalidInput(
                    f"a {self.stage.value} school has no {Stage(stage).value} pupils (it teaches {allowed})",
                    field=f"by_stage.{Stage(stage).value}",
                    rule="stage_not_taught",
                )
            counts[Stage(stage).value] = _require_enrolment(count, f"by_stage.{Stage(stage).value}")
        if not counts:
            raise InvalidInput("give the pupils of at least one stage", field="by_stage", rule="non_empty")
        if self.enrolment_by_year.get(school_year) != counts:
            self._enrolment_recorded(
                school_year=school_year, by_stage=counts, total=sum(counts.values()), recorded_at=now
            )

    class EnrolmentRecorded(Aggregate.Event):
        """Pupils per stage in a school year. v2 also says the `total`, so no reader sums the stages itself.

        Stored v1 events (without `total`) are upcast on read (decision 014).
        """

        class_version = 2
        school_year: str
        by_stage: dict[str, int]
        total: int
        recorded_at: datetime

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            state["total"] = sum(state["by_stage"].values())

    @event(EnrolmentRecorded)
    def _enrolment_recorded(
        self, school_year: str, by_stage: dict[str, int], total: int, recorded_at: datetime
    ) -> None:
        self.enrolment_by_year[school_year] = dict(by_stage)
        if school_year == max(self.enrolment_by_year):
            self.enrolment = total

    # --- principal ----------------------------------------------------------------------------------

    def appoint_principal(self, *, name: str, term_start: date, term_end: date) -> None:
        """A new principal (校长) with a term of office; the previous term must have ended."""
        if self.principal is not None:
            raise RuleViolation(
                "the current principal's term has not ended; end it first",
                field="principal",
                rule="principal_in_office",
            )
        if term_end <= term_start:
            raise InvalidInput("term_end must be after term_start", field="term_end", rule="term_order")
        self._principal_appointed(name=require_name(name), term_start=term_start, term_end=term_end)

    @event("PrincipalAppointed")
    def _principal_appointed(self, name: str, term_start: date, term_end: date) -> None:
        self.principal = {"name": name, "term_start": term_start, "term_end": term_end}
        self.head_replacement_ordered = None

    def end_principal_term(self, *, ended_on: date, reason: str, today: date) -> None:
        """The principal's term ends (任期届满 or earlier); inspection reacts with a term-end supervision (S3)."""
        if self.principal is None:
            raise RuleViolation("the school has no principal in office", field="principal", rule="no_principal")
        happened(ended_on, "ended_on", today=today, after=self.principal["term_start"], after_what="the term started")
        self._principal_term_ended(
            school_name=self.name,
            jurisdiction=self.jurisdiction,
            principal_name=self.principal["name"],
            term_start=self.principal["term_start"],
            ended_on=ended_on,
            reason=require_name(reason, "reason"),
        )

    @event("PrincipalTermEnded")
    def _principal_term_ended(
        self, school_name: str, jurisdiction: str, principal_name: str, term_start: date, ended_on: date, reason: str
    ) -> None:
        self.principal = None

    # --- sanctions ---------------------------------------------------------------------------------------

    def change_enrolment_status(self, *, status: EnrolmentStatus, sanction_ref: str, now: datetime) -> None:
        """Only an accountability sanction (问责处理) changes whether a private school may enrol."""
        self._check_sanctionable(sanction_ref)
        status = EnrolmentStatus(status)
        if status != self.enrolment_status:
            self._enrolment_status_changed(status=status, sanction_ref=sanction_ref.strip(), changed_at=now)

    @event("EnrolmentStatusChanged")
    def _enrolment_status_changed(self, status: EnrolmentStatus, sanction_ref: str, changed_at: datetime) -> None:
        self.enrolment_status = EnrolmentStatus(status)

    def revoke_licence(self, *, sanction_ref: str, now: datetime) -> None:
        """The gravest sanction for a private school: its licence is revoked (吊销办学许可证)."""
        self._check_sanctionable(sanction_ref)
        if self.licence is LicenceStatus.revoked:
            raise RuleViolation("the licence is already revoked", field="licence", rule="licence_revoked")
        self._licence_revoked(sanction_ref=sanction_ref.strip(), revoked_at=now)

    @event("LicenceRevoked")
    def _licence_revoked(self, sanction_ref: str, revoked_at: datetime) -> None:
        self.licence = LicenceStatus.revoked
        self.enrolment_status = EnrolmentStatus.stopped

    def order_head_replacement(self, *, sanction_ref: str, now: datetime) -> None:
        """The bureau must make a private school replace its head (撤换相关负责人); open until a new principal is appointed."""
        self._check_sanctionable(sanction_ref)
        if getattr(self, "head_replacement_ordered", None) != sanction_ref.strip():
            self._head_replacement_ordered(sanction_ref=sanction_ref.strip(), ordered_at=now)

    @event("HeadReplacementOrdered")
    def _head_replacement_ordered(self, sanction_ref: str, ordered_at: datetime) -> None:
        self.head_replacement_ordered: str | None = sanction_ref

    def _check_sanctionable(self, sanction_ref: str) -> None:
        if not sanction_ref.strip():
            raise InvalidInput("a sanction reference is required", field="sanction_ref", rule="sanction_required")
        if self.ownership is not Ownership.private:
            raise RuleViolation(
                "licence and enrolment sanctions apply to private schools (民办学校) only",
                field="ownership",
                rule="sanction_private_only",
            )

    # --- zone, responsible inspector, internal supervisors -----------------------------------------------

    def assign_zone(self, zone_id: UUID) -> None:
        """Put the school in a responsibility zone (督学责任区); a school is in exactly one zone."""
        if self.zone_id != str(zone_id):
            self._zone_assigned(zone_id=str(zone_id), previous_zone_id=self.zone_id)

    @event("ZoneAssigned")
    def _zone_assigned(self, zone_id: str, previous_zone_id: str | None) -> None:
        self.zone_id = zone_id

    def assign_responsible_inspector(self, inspector_id: UUID) -> None:
        """The school's one responsible inspector (责任督学); reassignment replaces the previous one."""
        if self.zone_id is None:
            raise RuleViolation("put the school in a zone first", field="zone_id", rule="school_without_zone")
        if self.responsible_inspector_id != str(inspector_id):
            self._responsible_inspector_assigned(
                inspector_id=str(inspector_id), previous_inspector_id=self.responsible_inspector_id
            )

    @event("ResponsibleInspectorAssigned")
    def _responsible_inspector_assigned(self, inspector_id: str, previous_inspector_id: str | None) -> None:
        self.responsible_inspector_id = inspector_id

    def record_internal_supervisors(self, names: list[str]) -> None:
        """The school's own supervisors (学校督导员); the profile may require one per N pupils."""
        names = [require_name(n, "names") for n in names]
        if len(set(names)) != len(names):
            raise InvalidInput("a supervisor is named twice", field="names", rule="unique")
        if names != self.internal_supervisors:
            self._internal_supervisors_recorded(names=names)

    @event("InternalSupervisorsRecorded")
    def _internal_supervisors_recorded(self, names: list[str]) -> None:
        self.internal_supervisors = list(names)
