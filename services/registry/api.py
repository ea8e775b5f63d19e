"""Registry HTTP API: who may register and read schools and inspectors, and in what words."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

from dudao import jurisdiction
from dudao.auth import Principal, Role, check_scope, require
from dudao.errors import InvalidInput, NotFound
from dudao.service import (
    command_envelope,
    decode_cursor,
    expected_version,
    new_aggregate_id,
    page_cursor,
    set_etag,
)
from services.registry import projections
from services.registry.application import Registry
from services.registry.domain import Employment, Inspector, Ownership, School, Stage


def _known_jurisdiction(code: str) -> str:
    if not jurisdiction.is_known(code):
        raise PydanticCustomError(
            "unknown_jurisdiction", "{code} is not a known administrative division code (GB/T 2260)", {"code": code}
        )
    return code


JurisdictionCode = Annotated[str, StringConstraints(pattern=r"^\d{6}(\d{3})?$"), AfterValidator(_known_jurisdiction)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Enrolment = Annotated[int, Field(ge=0, le=100_000, strict=True)]
PageSize = Annotated[int, Query(ge=1, le=200)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SchoolCreate(Strict):
    name: Name
    jurisdiction: JurisdictionCode
    stage: Stage
    ownership: Ownership
    enrolment: Enrolment


class SchoolUpdate(Strict):
    name: Name
    enrolment: Enrolment


class SchoolRead(BaseModel):
    id: UUID
    name: str
    jurisdiction: str
    jurisdiction_name: str
    stage: Stage
    stage_label_zh: str
    ownership: Ownership
    ownership_label_zh: str
    enrolment: int
    version: int

    @classmethod
    def of(cls, row: dict[str, Any] | School) -> SchoolRead:
        get = row.get if isinstance(row, dict) else lambda k: getattr(row, k)
        stage, ownership = Stage(get("stage")), Ownership(get("ownership"))
        return cls(
            id=get("id"),
            name=get("name"),
            jurisdiction=get("jurisdiction"),
            jurisdiction_name=jurisdiction.name_of(get("jurisdiction")),
            stage=stage,
            stage_label_zh=stage.label_zh,
            ownership=ownership,
            ownership_label_zh=ownership.label_zh,
            enrolment=get("enrolment"),
            version=get("version"),
        )


class SchoolPage(BaseModel):
    items: list[SchoolRead]
    next_cursor: str | None


class InspectorCreate(Strict):
    name: Name
    jurisdiction: JurisdictionCode
    employment: Employment


class InspectorUpdate(Strict):
    name: Name
    employment: Employment


class InspectorRead(BaseModel):
    id: UUID
    name: str
    jurisdiction: str
    jurisdiction_name: str
    employment: Employment
    employment_label_zh: str
    version: int

    @classmethod
    def of(cls, row: dict[str, Any] | Inspector) -> InspectorRead:
        get = row.get if isinstance(row, dict) else lambda k: getattr(row, k)
        employment = Employment(get("employment"))
        return cls(
            id=get("id"),
            name=get("name"),
            jurisdiction=get("jurisdiction"),
            jurisdiction_name=jurisdiction.name_of(get("jurisdiction")),
            employment=employment,
            employment_label_zh=employment.label_zh,
            version=get("version"),
        )


class InspectorPage(BaseModel):
    items: list[InspectorRead]
    next_cursor: str | None


router = APIRouter(prefix="/v1", tags=["registry"])
Admin = Annotated[Principal, Depends(require(Role.admin))]
Reader = Annotated[Principal, Depends(require())]


def _registry(request: Request) -> Registry:
    return request.app.state.application


def _now() -> datetime:
    return datetime.now(UTC)


def _scope(principal: Principal, code: str | None) -> str:
    """The subtree a list covers: the caller's own unless a code inside it is asked for."""
    if code is None:
        return principal.jur
    if not jurisdiction.is_valid_code(code):
        raise InvalidInput(f"{code!r} is not a 6- or 9-digit division code", field="jurisdiction", rule="code_format")
    check_scope(principal, code)
    return code


# --- schools ---------------------------------------------------------------------------------------


@router.post("/schools", status_code=201, response_model=SchoolRead)
def register_school(body: SchoolCreate, request: Request, response: Response, principal: Admin) -> SchoolRead:
    """Register a school (登记学校). Retries with the same `Idempotency-Key` return the first result."""
    check_scope(principal, body.jurisdiction)
    school = _registry(request).register_school(
        school_id=new_aggregate_id(request, principal, "school"),
        name=body.name,
        jurisdiction=body.jurisdiction,
        stage=body.stage,
        ownership=body.ownership,
        enrolment=body.enrolment,
        now=_now(),
        envelope=command_envelope(request, principal, body),
    )
    set_etag(response, school.version)
    response.headers["Location"] = f"/v1/schools/{school.id}"
    return SchoolRead.of(school)


@router.put("/schools/{school_id}", response_model=SchoolRead)
def update_school(school_id: UUID, body: SchoolUpdate, request: Request, response: Response, principal: Admin) -> SchoolRead:
    """Change a school's name or enrolment; `If-Match` makes it conditional (stale: 412)."""
    school = _registry(request).update_school(
        school_id,
        name=body.name,
        enrolment=body.enrolment,
        now=_now(),
        expected_version=expected_version(request),
        envelope=command_envelope(request, principal, body),
        authorize=lambda s: check_scope(principal, s.jurisdiction),
    )
    set_etag(response, school.version)
    return SchoolRead.of(school)


@router.get("/schools/{school_id}", response_model=SchoolRead)
async def read_school(school_id: UUID, request: Request, response: Response, principal: Reader) -> SchoolRead:
    async with request.app.state.pool.acquire() as conn:
        rows = await projections.schools_by_id(conn, [str(school_id)])
    if not rows or not principal.can_act_in(rows[0]["jurisdiction"]):
        raise NotFound(f"no school with id {school_id}", field="school_id")
    set_etag(response, rows[0]["version"])
    return SchoolRead.of(rows[0])


@router.get("/schools", response_model=SchoolPage)
async def list_schools(
    request: Request,
    principal: Reader,
    jurisdiction: str | None = None,
    stage: Stage | None = None,
    ownership: Ownership | None = None,
    cursor: str | None = None,
    limit: PageSize = 50,
) -> SchoolPage:
    """Schools in a jurisdiction's subtree, in registration order, a page at a time."""
    within = _scope(principal, jurisdiction)
    after = decode_cursor(cursor)
    async with request.app.state.pool.acquire() as conn:
        rows = await projections.school_page(conn, within=within, stage=stage, ownership=ownership, after=after, limit=limit)
    return SchoolPage(items=[SchoolRead.of(r) for r in rows], next_cursor=page_cursor(rows, limit))


# --- inspectors ------------------------------------------------------------------------------------


@router.post("/inspectors", status_code=201, response_model=InspectorRead)
def register_inspector(body: InspectorCreate, request: Request, response: Response, principal: Admin) -> InspectorRead:
    """Register an inspector (登记督学)."""
    check_scope(principal, body.jurisdiction)
    inspector = _registry(request).register_inspector(
        inspector_id=new_aggregate_id(request, principal, "inspector"),
        name=body.name,
        jurisdiction=body.jurisdiction,
        employment=body.employment,
        now=_now(),
        envelope=command_envelope(request, principal, body),
    )
    set_etag(response, inspector.version)
    response.headers["Location"] = f"/v1/inspectors/{inspector.id}"
    return InspectorRead.of(inspector)


@router.put("/inspectors/{inspector_id}", response_model=InspectorRead)
def update_inspector(
    inspector_id: UUID, body: InspectorUpdate, request: Request, response: Response, principal: Admin
) -> InspectorRead:
    inspector = _registry(request).update_inspector(
        inspector_id,
        name=body.name,
        employment=body.employment,
        now=_now(),
        expected_version=expected_version(request),
        envelope=command_envelope(request, principal, body),
        authorize=lambda i: check_scope(principal, i.jurisdiction),
    )
    set_etag(response, inspector.version)
    return InspectorRead.of(inspector)


@router.get("/inspectors/{inspector_id}", response_model=InspectorRead)
async def read_inspector(inspector_id: UUID, request: Request, response: Response, principal: Reader) -> InspectorRead:
    async with request.app.state.pool.acquire() as conn:
        rows = await projections.inspectors_by_id(conn, [str(inspector_id)])
    if not rows or not principal.can_act_in(rows[0]["jurisdiction"]):
        raise NotFound(f"no inspector with id {inspector_id}", field="inspector_id")
    set_etag(response, rows[0]["version"])
    return InspectorRead.of(rows[0])


@router.get("/inspectors", response_model=InspectorPage)
async def list_inspectors(
    request: Request,
    principal: Reader,
    jurisdiction: str | None = None,
    employment: Employment | None = None,
    cursor: str | None = None,
    limit: PageSize = 50,
) -> InspectorPage:
    within = _scope(principal, jurisdiction)
    after = decode_cursor(cursor)
    async with request.app.state.pool.acquire() as conn:
        rows = await projections.inspector_page(conn, within=within, employment=employment, after=after, limit=limit)
    return InspectorPage(items=[InspectorRead.of(r) for r in rows], next_cursor=page_cursor(rows, limit))
