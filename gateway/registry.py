"""The gateway's registry types: schools, inspectors, zones, committees and staffing, with the links users follow
from them to activities, draws, rectification cases and indicator results."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from gateway.types import Jurisdiction, Labelled, PageInfo, loaders_of, page_of

if TYPE_CHECKING:
    from gateway.accountability import RectificationCase
    from gateway.inspection import Activity, Draw
    from gateway.monitoring import UnitResult


@strawberry.type
class PrincipalInOffice:
    name: str
    term_start: date
    term_end: date


@strawberry.type
class School:
    id: strawberry.ID
    code: str | None
    name: str
    stage: str
    stage_label_zh: str
    ownership: str
    ownership_label_zh: str
    locality: Labelled | None
    enrolment: int
    principal: PrincipalInOffice | None
    licence: Labelled
    enrolment_status: Labelled
    internal_supervisors: int
    version: int
    jurisdiction_code: strawberry.Private[str]
    zone_id: strawberry.Private[str | None]
    responsible_inspector_id: strawberry.Private[str | None]

    @strawberry.field
    def jurisdiction(self) -> Jurisdiction:
        return Jurisdiction.of(self.jurisdiction_code)

    @strawberry.field(description="The responsibility zone (督学责任区) the school is in.")
    async def zone(self, info: strawberry.Info) -> Zone | None:
        return await loaders_of(info).zones.load(self.zone_id) if self.zone_id else None

    @strawberry.field(description="Supervision activities of this school (as their target).")
    async def activities(
        self, info: strawberry.Info
    ) -> list[Annotated[Activity, strawberry.lazy("gateway.inspection")]] | None:
        return await loaders_of(info).activities_of_school.load(str(self.id))

    @strawberry.field(description="The school's rectification cases (整改), only the open ones with openOnly.")
    async def cases(
        self, info: strawberry.Info, open_only: bool = False
    ) -> list[Annotated[RectificationCase, strawberry.lazy("gateway.accountability")]] | None:
        cases = await loaders_of(info).cases_of_unit.load(str(self.id))
        return [c for c in cases if c.status != "closed"] if open_only else cases

    @strawberry.field(description="The school's indicator results (监测评估结果), newest period first.")
    async def indicator_results(
        self, info: strawberry.Info, framework: str | None = None, period: str | None = None
    ) -> list[Annotated[UnitResult, strawberry.lazy("gateway.monitoring")]] | None:
        results = await loaders_of(info).results_of_unit.load(str(self.id))
        return [r for r in results if framework in (None, r.framework) and period in (None, r.period)]

    @strawberry.field(description="The school's responsible inspector (责任督学).")
    async def responsible_inspector(self, info: strawberry.Info) -> Inspector | None:
        rid = self.responsible_inspector_id
        return await loaders_of(info).inspectors.load(rid) if rid else None


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


@strawberry.type
class Inspector:
    id: strawberry.ID
    name: str
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
    trainings: list[Training]
    assessments: list[Assessment]
    ties: list[Tie] = strawberry.field(description="Declared ties (回避); shown to office admins only.")
    version: int
    jurisdiction_code: strawberry.Private[str]
    zone_ids: strawberry.Private[list[str]]

    @strawberry.field
    def jurisdiction(self) -> Jurisdiction:
        return Jurisdiction.of(self.jurisdiction_code)

    @strawberry.field(description="Supervision activities this inspector serves on.")
    async def activities(
        self, info: strawberry.Info
    ) -> list[Annotated[Activity, strawberry.lazy("gateway.inspection")]] | None:
        return await loaders_of(info).activities_of_inspector.load(str(self.id))

    @strawberry.field(description="Double-random draws (双随机) that put this inspector on a team.")
    async def draws(self, info: strawberry.Info) -> list[Annotated[Draw, strawberry.lazy("gateway.inspection")]] | None:
        return await loaders_of(info).draws_of_inspector.load(str(self.id))

    @strawberry.field(description="The zones where this inspector is listed (挂牌).")
    async def zones(self, info: strawberry.Info) -> list[Zone]:
        return [z for z in await loaders_of(info).zones.load_many(self.zone_ids) if z is not None]


@strawberry.type
class Zone:
    """A responsibility zone (督学责任区)."""

    id: strawberry.ID
    name: str
    version: int
    jurisdiction_code: strawberry.Private[str]
    listed_inspector_ids: strawberry.Private[list[str]]

    @strawberry.field
    def jurisdiction(self) -> Jurisdiction:
        return Jurisdiction.of(self.jurisdiction_code)

    @strawberry.field(description="The zone's listed inspectors (挂牌督学).")
    async def listed_inspectors(self, info: strawberry.Info) -> list[Inspector]:
        return [i for i in await loaders_of(info).inspectors.load_many(self.listed_inspector_ids) if i is not None]


@strawberry.type
class SchoolConnection:
    nodes: list[School]
    page_info: PageInfo


@strawberry.type
class InspectorConnection:
    nodes: list[Inspector]
    page_info: PageInfo


async def schools_page(info: strawberry.Info, first: int, **filters: Any) -> SchoolConnection:
    return SchoolConnection(**await page_of(info, "registry", "schools", School, "schools", first, **filters))


async def inspectors_page(info: strawberry.Info, first: int, **filters: Any) -> InspectorConnection:
    return InspectorConnection(
        **await page_of(info, "registry", "inspectors", Inspector, "inspectors", first, **filters)
    )


@strawberry.type
class MemberUnit:
    name: str
    contact_person: str
    contact_phone: str | None = strawberry.field(description="sealed per person; [已删除] once erased")


@strawberry.type
class Committee:
    """A government's education supervision committee (政府教育督导委员会)."""

    director: str
    deputies: list[str]
    member_units: list[MemberUnit]
    office: str
    chief_inspector: str
    deputy_chief_inspectors: list[str]
    version: int
    jurisdiction_code: strawberry.Private[str]

    @strawberry.field
    def jurisdiction(self) -> Jurisdiction:
        return Jurisdiction.of(self.jurisdiction_code)


@strawberry.type
class ListedInspector:
    """What anyone may see of a listed inspector (挂牌督学)."""

    name: str
    zone: str
    schools: list[str]
    public_contact: str | None


@strawberry.type
class RatioCheck:
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
    """Staffing against R1–R4 (1:5 ratio and large schools, full-time share, term counts, school supervisors)."""

    profile_version: str
    schools: int
    inspectors: int
    r1: RatioCheck
    r2: FullTimeCheck
    r3: TermCheck
    r4: SupervisorCheck
    jurisdiction_code: strawberry.Private[str]

    @strawberry.field
    def jurisdiction(self) -> Jurisdiction:
        return Jurisdiction.of(self.jurisdiction_code)


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)
