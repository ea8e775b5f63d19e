"""The registry subgraph's types: entities keyed by id (School, Inspector, Zone) and the values they carry."""

from __future__ import annotations

from datetime import date
from typing import Any

import strawberry

from dudao.scope import OFFICE_ROLES, READERS
from dudao.subgraph import Labelled, caller, problem  # noqa: F401 - re-exported for the subgraph's queries
from services.registry.domain import (
    Employment,
    EnrolmentStatus,
    ExitReason,
    Focus,
    Grade,
    InspectorRole,
    LicenceStatus,
    Locality,
    Ownership,
    Stage,
    Status,
    TieKind,
    TrainingKind,
)


@strawberry.type
class PrincipalInOffice:
    name: str
    term_start: date
    term_end: date


@strawberry.type
class StageEnrolment:
    school_year: str
    stage: str
    pupils: int


@strawberry.federation.type(keys=["id"])
class School:
    id: strawberry.ID
    code: str | None
    name: str
    jurisdiction: str
    stage: str
    stage_label_zh: str
    ownership: str
    ownership_label_zh: str
    locality: Labelled | None
    enrolment: int
    enrolment_by_year: list[StageEnrolment]
    principal: PrincipalInOffice | None
    licence: Labelled
    enrolment_status: Labelled
    zone_id: strawberry.ID | None
    responsible_inspector_id: strawberry.ID | None
    internal_supervisors: int
    version: int

    @classmethod
    def of(cls, row: dict[str, Any]) -> School:
        stage, ownership = Stage(row["stage"]), Ownership(row["ownership"])
        return cls(
            id=strawberry.ID(str(row["id"])),
            code=row.get("code"),
            name=row["name"],
            jurisdiction=row["jurisdiction"],
            stage=stage.value,
            stage_label_zh=stage.label_zh,
            ownership=ownership.value,
            ownership_label_zh=ownership.label_zh,
            locality=Labelled.of(Locality, row.get("locality")),
            enrolment=row["enrolment"],
            enrolment_by_year=[
                StageEnrolment(school_year=year, stage=s, pupils=n)
                for year, stages in sorted((row.get("enrolment_by_year") or {}).items())
                for s, n in sorted(stages.items())
            ],
            principal=PrincipalInOffice(
                name=row["principal_name"], term_start=row["principal_term_start"], term_end=row["principal_term_end"]
            )
            if row.get("principal_name")
            else None,
            licence=Labelled.of(LicenceStatus, row["licence"]),
            enrolment_status=Labelled.of(EnrolmentStatus, row["enrolment_status"]),
            zone_id=_id(row.get("zone_id")),
            responsible_inspector_id=_id(row.get("responsible_inspector_id")),
            internal_supervisors=row.get("internal_supervisors") or 0,
            version=row["version"],
        )

    @classmethod
    async def resolve_reference(cls, info: strawberry.Info, id: strawberry.ID) -> School | None:
        caller(info, READERS)
        return await info.context["schools"].load(str(id))


@strawberry.type
class Term:
    term_no: int
    term_start: date
    term_end: date


@strawberry.type
class Training:
    kind: Labelled
    title: str
    hours: float
    completed_on: date
    term_no: int | None


@strawberry.type
class Assessment:
    year: int
    grade: Labelled


@strawberry.type
class Tie:
    unit_id: str
    kind: Labelled


@strawberry.federation.type(keys=["id"])
class Inspector:
    id: strawberry.ID
    name: str
    jurisdiction: str
    employment: str
    employment_label_zh: str
    status: Labelled
    roles: list[Labelled]
    focus: Labelled
    stages: list[Labelled]
    subjects: list[str]
    public_contact: str | None
    term: Term | None
    filed_with: str | None
    exit_reason: Labelled | None
    exit_review_open: bool
    version: int

    @classmethod
    def of(cls, row: dict[str, Any]) -> Inspector:
        employment = Employment(row["employment"])
        return cls(
            id=strawberry.ID(str(row["id"])),
            name=row["name"],
            jurisdiction=row["jurisdiction"],
            employment=employment.value,
            employment_label_zh=employment.label_zh,
            status=Labelled.of(Status, row.get("status") or "nominated"),
            roles=[Labelled.of(InspectorRole, r) for r in row.get("roles") or []],
            focus=Labelled.of(Focus, row.get("focus") or "schools"),
            stages=[Labelled.of(Stage, s) for s in row.get("stages") or []],
            subjects=row.get("subjects") or [],
            public_contact=row.get("public_contact"),
            term=Term(term_no=row["term_no"], term_start=row["term_start"], term_end=row["term_end"])
            if row.get("term_no")
            else None,
            filed_with=row.get("filed_with"),
            exit_reason=Labelled.of(ExitReason, row.get("exit_reason")),
            exit_review_open=bool(row.get("exit_review_open")),
            version=row["version"],
        )

    async def _records(self, info: strawberry.Info) -> dict[str, list]:
        """Trainings and assessments are an office's, or the inspector's own (as REST's by-id read): others see none."""
        principal = caller(info, READERS)
        if not principal.roles & OFFICE_ROLES and principal.sub != str(self.id):
            return {"trainings": [], "assessments": []}
        return await info.context["inspector_records"].load(str(self.id))

    @strawberry.field(
        description="Trainings with hours: pre-service once, in-service each term (offices and the inspector)."
    )
    async def trainings(self, info: strawberry.Info) -> list[Training]:
        records = await self._records(info)
        return [
            Training(
                kind=Labelled.of(TrainingKind, t["kind"]),
                title=t["title"],
                hours=float(t["hours"]),
                completed_on=t["completed_on"],
                term_no=t["term_no"],
            )
            for t in records["trainings"]
        ]

    @strawberry.field(description="Annual assessments (实绩考核; offices and the inspector).")
    async def assessments(self, info: strawberry.Info) -> list[Assessment]:
        records = await self._records(info)
        return [Assessment(year=a["year"], grade=Labelled.of(Grade, a["grade"])) for a in records["assessments"]]

    @strawberry.field(description="Declared ties (回避); visible to office admins only.")
    async def ties(self, info: strawberry.Info) -> list[Tie]:
        if "admin" not in caller(info, READERS).roles:
            return []
        records = await info.context["inspector_records"].load(str(self.id))
        return [Tie(unit_id=t["unit_id"], kind=Labelled.of(TieKind, t["kind"])) for t in records["ties"]]

    @strawberry.field(description="The zones where this inspector is listed (挂牌).")
    async def zone_ids(self, info: strawberry.Info) -> list[strawberry.ID]:
        return [strawberry.ID(z) for z in await info.context["zones_of_inspector"].load(str(self.id))]

    @classmethod
    async def resolve_reference(cls, info: strawberry.Info, id: strawberry.ID) -> Inspector | None:
        caller(info, READERS)
        return await info.context["inspectors"].load(str(id))


@strawberry.federation.type(keys=["id"])
class Zone:
    """A responsibility zone (督学责任区)."""

    id: strawberry.ID
    name: str
    jurisdiction: str
    listed_inspector_ids: list[strawberry.ID]
    version: int

    @classmethod
    def of(cls, row: dict[str, Any]) -> Zone:
        return cls(
            id=strawberry.ID(str(row["id"])),
            name=row["name"],
            jurisdiction=row["jurisdiction"],
            listed_inspector_ids=[strawberry.ID(str(i)) for i in row["listed_inspectors"]],
            version=row["version"],
        )

    @classmethod
    async def resolve_reference(cls, info: strawberry.Info, id: strawberry.ID) -> Zone | None:
        caller(info, READERS)
        return await info.context["zones"].load(str(id))


@strawberry.type
class MemberUnit:
    name: str
    contact_person: str
    contact_phone: str | None = strawberry.field(description="sealed per person; [已删除] once erased")


@strawberry.type
class Committee:
    """A government's education supervision committee (政府教育督导委员会)."""

    jurisdiction: str
    director: str
    deputies: list[str]
    member_units: list[MemberUnit]
    office: str
    chief_inspector: str
    deputy_chief_inspectors: list[str]
    version: int

    @classmethod
    def of(cls, row: dict[str, Any]) -> Committee:
        m = row["members"]
        return cls(
            jurisdiction=row["jurisdiction"],
            director=m["director"],
            deputies=m["deputies"],
            member_units=[MemberUnit(**u) for u in m["member_units"]],
            office=m["office"],
            chief_inspector=m["chief_inspector"],
            deputy_chief_inspectors=m["deputy_chief_inspectors"],
            version=row["version"],
        )


@strawberry.type
class ListedInspector:
    """What anyone may see of a listed inspector (挂牌督学)."""

    name: str
    zone: str
    schools: list[str]
    public_contact: str | None


@strawberry.type
class RatioCheck:
    """R1: one inspector per N schools, one of its own for each large school."""

    schools_per_inspector: int | None
    large_school_enrolment: int | None
    large_schools: int
    required_inspectors: int | None
    met: bool
    large_schools_without_own_inspector: int


@strawberry.type
class FullTimeCheck:
    full_time_inspectors: int
    full_time_share: float
    minimum: float | None
    met: bool


@strawberry.type
class TermCheck:
    government_inspectors: int
    government_minimum: int | None
    subject_inspectors: int
    subject_minimum: int | None
    met: bool


@strawberry.type
class SupervisorCheck:
    pupils_per_supervisor: int | None
    schools_short_of_supervisors: int
    met: bool


@strawberry.type
class StaffingCompliance:
    """Staffing against R1–R4 for a jurisdiction's subtree, with the profile version used."""

    jurisdiction: str
    jurisdiction_name: str
    profile_version: str
    schools: int
    inspectors: int
    r1: RatioCheck
    r2: FullTimeCheck
    r3: TermCheck
    r4: SupervisorCheck

    @classmethod
    def of(cls, data: dict[str, Any]) -> StaffingCompliance:
        return cls(
            **{k: data[k] for k in ("jurisdiction", "jurisdiction_name", "profile_version", "schools", "inspectors")},
            r1=RatioCheck(**data["r1"]),
            r2=FullTimeCheck(**data["r2"]),
            r3=TermCheck(**data["r3"]),
            r4=SupervisorCheck(**data["r4"]),
        )


def _id(value: Any) -> strawberry.ID | None:
    return strawberry.ID(str(value)) if value else None
