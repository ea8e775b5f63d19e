"""School routes: register, import by code, details, enrolment, principal, sanctions, supervisors, zone."""

from __future__ import annotations

import math
from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field, StringConstraints

from dudao import jurisdiction
from dudao.cursors import decode_cursor, page_cursor
from dudao.errors import NotFound
from dudao.routes import caller, current_division, set_etag, today
from dudao.scope import Target, authorize, check_scope, inspector_only, unit_only
from services.registry.api.common import (
    Admin,
    Enrolment,
    JurisdictionCode,
    Name,
    PageSize,
    Reader,
    Strict,
    now,
    registry,
    scope,
)
from services.registry.commands import (
    AppointPrincipal,
    AssignResponsibleInspector,
    ChangeEnrolmentStatus,
    EndPrincipalTerm,
    ImportSchool,
    PutSchoolInZone,
    RecordEnrolment,
    RecordInternalSupervisors,
    RegisterSchool,
    RevokeLicence,
    UpdateSchool,
)
from services.registry.domain import EnrolmentStatus, LicenceStatus, Locality, Ownership, School, Stage
from services.registry.projections import directory
from services.registry.projections.staffing import effective_profile

SchoolCode = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z]{4,20}$")]
CodeInPath = Annotated[str, Path(pattern=r"^[0-9A-Za-z]{4,20}$")]


class SchoolCreate(Strict):
    name: Name
    jurisdiction: JurisdictionCode
    stage: Stage
    ownership: Ownership
    enrolment: Enrolment
    code: SchoolCode | None = None
    locality: Locality | None = None


class SchoolImport(Strict):
    """A school as an office's own list has it, keyed by its national school code (学校代码)."""

    name: Name
    jurisdiction: JurisdictionCode
    stage: Stage
    ownership: Ownership
    locality: Locality
    enrolment: Enrolment


class SchoolUpdate(Strict):
    name: Name
    enrolment: Enrolment
    locality: Locality | None = None


class EnrolmentCreate(Strict):
    school_year: Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{4}$")]
    by_stage: dict[Stage, Enrolment] = Field(min_length=1)


class PrincipalCreate(Strict):
    name: Name
    term_start: date
    term_end: date


class PrincipalTermEnd(Strict):
    ended_on: date
    reason: Name


class EnrolmentStatusChange(Strict):
    status: EnrolmentStatus
    sanction_ref: Name


class LicenceRevocation(Strict):
    sanction_ref: Name


class SupervisorsUpdate(Strict):
    names: list[Name] = Field(max_length=500)


class ZoneAssignment(Strict):
    zone_id: UUID


class ResponsibleInspectorAssignment(Strict):
    inspector_id: UUID


class Principal(BaseModel):
    name: str
    term_start: date
    term_end: date


class SchoolRead(BaseModel):
    id: UUID
    code: str | None
    name: str
    jurisdiction: str
    jurisdiction_name: str
    stage: Stage
    stage_label_zh: str
    ownership: Ownership
    ownership_label_zh: str
    locality: Locality | None
    locality_label_zh: str | None
    enrolment: int
    enrolment_by_year: dict[str, dict[str, int]]
    principal: Principal | None
    licence: LicenceStatus
    enrolment_status: EnrolmentStatus
    enrolment_status_label_zh: str
    zone_id: UUID | None
    responsible_inspector_id: UUID | None
    internal_supervisors: int
    version: int

    @classmethod
    def of(cls, source: dict[str, Any] | School) -> SchoolRead:
        row = _row_of(source) if isinstance(source, School) else source
        stage, ownership = Stage(row["stage"]), Ownership(row["ownership"])
        locality = Locality(row["locality"]) if row.get("locality") else None
        status = EnrolmentStatus(row["enrolment_status"])
        principal = (
            Principal(
                name=row["principal_name"], term_start=row["principal_term_start"], term_end=row["principal_term_end"]
            )
            if row.get("principal_name")
            else None
        )
        return cls(
            id=row["id"],
            code=row.get("code"),
            name=row["name"],
            jurisdiction=row["jurisdiction"],
            jurisdiction_name=row.get("township_name") or jurisdiction.name_of(row["jurisdiction"]),
            stage=stage,
            stage_label_zh=stage.label_zh,
            ownership=ownership,
            ownership_label_zh=ownership.label_zh,
            locality=locality,
            locality_label_zh=locality.label_zh if locality else None,
            enrolment=row["enrolment"],
            enrolment_by_year=row.get("enrolment_by_year") or {},
            principal=principal,
            licence=row["licence"],
            enrolment_status=status,
            enrolment_status_label_zh=status.label_zh,
            zone_id=row.get("zone_id"),
            responsible_inspector_id=row.get("responsible_inspector_id"),
            internal_supervisors=row.get("internal_supervisors") or 0,
            version=row["version"],
        )


def _row_of(school: School) -> dict[str, Any]:
    principal = school.principal or {}
    return {
        "id": school.id,
        "code": school.code,
        "name": school.name,
        "jurisdiction": school.jurisdiction,
        "stage": school.stage,
        "ownership": school.ownership,
        "locality": school.locality,
        "enrolment": school.enrolment,
        "enrolment_by_year": school.enrolment_by_year,
        "principal_name": principal.get("name"),
        "principal_term_start": principal.get("term_start"),
        "principal_term_end": principal.get("term_end"),
        "licence": school.licence,
        "enrolment_status": school.enrolment_status,
        "zone_id": school.zone_id,
        "responsible_inspector_id": school.responsible_inspector_id,
        "internal_supervisors": len(school.internal_supervisors),
        "version": school.version,
    }


class SchoolPage(BaseModel):
    items: list[SchoolRead]
    next_cursor: str | None


class SupervisorsRead(BaseModel):
    school_id: UUID
    internal_supervisors: int
    required: int | None
    pupils_per_supervisor: int | None
    profile_version: str


router = APIRouter(prefix="/v1/schools", tags=["schools"])


def _written(response: Response, school: School, status_code: int | None = None) -> SchoolRead:
    set_etag(response, school.version)
    if status_code:
        response.status_code = status_code
    return SchoolRead.of(school)


@router.post("", status_code=201, response_model=SchoolRead)
def register_school(body: SchoolCreate, request: Request, response: Response, principal: Admin) -> SchoolRead:
    """Register a school (登记学校). Retries with the same `Idempotency-Key` return the first result."""
    check_scope(principal, body.jurisdiction)  # whose place it is comes first, then whether the division is current
    current_division(request, body.jurisdiction)
    command = RegisterSchool(**body.model_dump(), now=now(request))
    school = registry(request).register_school(command, caller(request, principal, body, creates="school"))
    response.headers["Location"] = f"/v1/schools/{school.id}"
    return _written(response, school)


@router.put("/by-code/{code}", response_model=SchoolRead, responses={201: {"model": SchoolRead}})
def import_school(
    code: CodeInPath, body: SchoolImport, request: Request, response: Response, principal: Admin
) -> SchoolRead:
    """Create or bring up to date the school with this national code (学校代码); the same body twice changes nothing."""
    command = ImportSchool(code=code, **body.model_dump(), now=now(request))
    school, created = registry(request).import_school(command, caller(request, principal, body))
    return _written(response, school, 201 if created else 200)


@router.put("/{school_id}", response_model=SchoolRead)
def update_school(
    school_id: UUID, body: SchoolUpdate, request: Request, response: Response, principal: Admin
) -> SchoolRead:
    """Change a school's name, enrolment or locality; `If-Match` makes it conditional (stale: 412)."""
    command = UpdateSchool(school_id=school_id, **body.model_dump(), now=now(request))
    return _written(response, registry(request).update_school(command, caller(request, principal, body)))


@router.post("/{school_id}/enrolment", response_model=SchoolRead)
def record_enrolment(
    school_id: UUID, body: EnrolmentCreate, request: Request, response: Response, principal: Admin
) -> SchoolRead:
    """Pupils per stage for a school year (学年); the latest year is the school's enrolment."""
    command = RecordEnrolment(
        school_id=school_id, school_year=body.school_year, by_stage=body.by_stage, now=now(request)
    )
    return _written(response, registry(request).record_enrolment(command, caller(request, principal, body)))


@router.post("/{school_id}/principal", response_model=SchoolRead)
def appoint_principal(
    school_id: UUID, body: PrincipalCreate, request: Request, response: Response, principal: Admin
) -> SchoolRead:
    command = AppointPrincipal(school_id=school_id, **body.model_dump())
    return _written(response, registry(request).appoint_principal(command, caller(request, principal, body)))


@router.post("/{school_id}/principal/term-end", response_model=SchoolRead)
def end_principal_term(
    school_id: UUID, body: PrincipalTermEnd, request: Request, response: Response, principal: Admin
) -> SchoolRead:
    """The principal's term ends; inspection adds a term-end comprehensive supervision (S3)."""
    command = EndPrincipalTerm(school_id=school_id, **body.model_dump(), today=today(request))
    return _written(response, registry(request).end_principal_term(command, caller(request, principal, body)))


@router.post("/{school_id}/enrolment-status", response_model=SchoolRead)
def change_enrolment_status(
    school_id: UUID, body: EnrolmentStatusChange, request: Request, response: Response, principal: Admin
) -> SchoolRead:
    """Cut the enrolment plan, stop or restore enrolment of a private school, citing the sanction (问责处理)."""
    command = ChangeEnrolmentStatus(school_id=school_id, **body.model_dump(), now=now(request))
    return _written(response, registry(request).change_enrolment_status(command, caller(request, principal, body)))


@router.post("/{school_id}/licence-revocation", response_model=SchoolRead)
def revoke_licence(
    school_id: UUID, body: LicenceRevocation, request: Request, response: Response, principal: Admin
) -> SchoolRead:
    command = RevokeLicence(school_id=school_id, sanction_ref=body.sanction_ref, now=now(request))
    return _written(response, registry(request).revoke_licence(command, caller(request, principal, body)))


@router.put("/{school_id}/internal-supervisors", response_model=SchoolRead)
def record_internal_supervisors(
    school_id: UUID, body: SupervisorsUpdate, request: Request, response: Response, principal: Admin
) -> SchoolRead:
    """The school's own supervisors (学校督导员), by name."""
    command = RecordInternalSupervisors(school_id=school_id, names=body.names)
    return _written(response, registry(request).record_internal_supervisors(command, caller(request, principal, body)))


@router.put("/{school_id}/zone", response_model=SchoolRead)
def put_school_in_zone(
    school_id: UUID, body: ZoneAssignment, request: Request, response: Response, principal: Admin
) -> SchoolRead:
    """Put the school in a responsibility zone (督学责任区); moving it to another zone is an event too."""
    command = PutSchoolInZone(school_id=school_id, zone_id=body.zone_id)
    return _written(response, registry(request).put_school_in_zone(command, caller(request, principal, body)))


@router.put("/{school_id}/responsible-inspector", response_model=SchoolRead)
def assign_responsible_inspector(
    school_id: UUID, body: ResponsibleInspectorAssignment, request: Request, response: Response, principal: Admin
) -> SchoolRead:
    """The school's responsible inspector (责任督学): active, with that role, no declared tie to the school."""
    command = AssignResponsibleInspector(school_id=school_id, inspector_id=body.inspector_id)
    who = caller(request, principal, body)
    return _written(response, registry(request).assign_responsible_inspector(command, who))


async def _readable(conn, principal: Reader, school_id: UUID) -> dict[str, Any]:
    """The school as the directory has it, once the caller may read it: an office over its place, the school itself,
    or an inspector who answers for it."""
    rows = await directory.schools_by_id(conn, [str(school_id)])
    if not rows:
        raise NotFound(f"no school with id {school_id}", field="school_id")
    target = Target(rows[0]["jurisdiction"], unit=str(school_id), team=await directory.answerers(conn, rows[0]))
    authorize(principal, target, (), write=False, field="school_id")
    return rows[0]


@router.get("/{school_id}", response_model=SchoolRead)
async def read_school(school_id: UUID, request: Request, response: Response, principal: Reader) -> SchoolRead:
    async with request.app.state.pool.acquire() as conn:
        row = await _readable(conn, principal, school_id)
    set_etag(response, row["version"])
    return SchoolRead.of(row)


@router.get("/{school_id}/internal-supervisors", response_model=SupervisorsRead)
async def internal_supervisors(school_id: UUID, request: Request, principal: Reader) -> SupervisorsRead:
    """How many internal supervisors the school has, and how many its profile requires (R4)."""
    async with request.app.state.pool.acquire() as conn:
        rows = [await _readable(conn, principal, school_id)]
        profile = await effective_profile(conn, rows[0]["jurisdiction"])
    per = profile.get("pupils_per_school_supervisor")
    return SupervisorsRead(
        school_id=school_id,
        internal_supervisors=rows[0]["internal_supervisors"],
        required=math.ceil(rows[0]["enrolment"] / per) if per else None,
        pupils_per_supervisor=per,
        profile_version=profile.version,
    )


@router.get("", response_model=SchoolPage)
async def list_schools(
    request: Request,
    principal: Reader,
    jurisdiction: str | None = None,
    stage: Stage | None = None,
    ownership: Ownership | None = None,
    zone_id: UUID | None = None,
    cursor: str | None = None,
    limit: PageSize = 50,
) -> SchoolPage:
    """Schools in a jurisdiction's subtree, in registration order, a page at a time (a school sees itself; an
    inspector the schools it answers for)."""
    within, after = scope(principal, jurisdiction), decode_cursor(cursor)
    async with request.app.state.pool.acquire() as conn:
        rows = await directory.school_page(
            conn,
            within=within,
            stage=stage,
            ownership=ownership,
            zone_id=zone_id,
            after=after,
            limit=limit,
            school_id=unit_only(principal),
            answered_by=inspector_only(principal),
        )
    return SchoolPage(items=[SchoolRead.of(r) for r in rows], next_cursor=page_cursor(rows, limit))
