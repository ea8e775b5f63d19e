"""Routine-visit routes: the responsible inspector records a visit; the office asks which schools had none this month."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field, StringConstraints

from dudao import jurisdiction as divisions
from dudao.auth import Principal, Role, require
from dudao.errors import InvalidInput, NotFound
from dudao.routes import caller, set_etag
from dudao.scope import check_scope
from services.inspection.api.activities import Name, OfficeReader, Strict, Text
from services.inspection.commands import RecordVisit
from services.inspection.projections import registry_copy, visits

Recorder = Annotated[
    Principal, Depends(require(Role.admin, Role.inspector, target="school (its responsible inspector)"))
]
Month = Annotated[str, StringConstraints(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]


class Problem(Strict):
    description: Text
    needs_rectification: bool = False


class VisitCreate(Strict):
    school_id: UUID
    inspector_id: UUID
    visited_on: date
    items_checked: list[Name] = Field(min_length=1, max_length=100)
    problems: list[Problem] = Field(default_factory=list, max_length=100)


class VisitRead(BaseModel):
    id: UUID
    school_id: str
    school_name: str
    inspector_id: str
    visited_on: date
    items_checked: list[str]
    problems: list[dict[str, Any]]


router = APIRouter(prefix="/v1", tags=["routine supervision"])


@router.post("/routine-visits", status_code=201, response_model=VisitRead)
async def record_visit(body: VisitCreate, request: Request, response: Response, principal: Recorder) -> VisitRead:
    """Record a routine visit (经常性督导). An inspector records their own visits to the schools they answer for."""
    async with request.app.state.pool.acquire() as conn:
        school = await registry_copy.school(conn, str(body.school_id))
    if school is None:
        raise NotFound(f"no school {body.school_id} is known to inspection yet", field="school_id")
    command = RecordVisit(
        school=dict(school),
        inspector_id=str(body.inspector_id),
        visited_on=body.visited_on,
        items_checked=body.items_checked,
        problems=[p.model_dump() for p in body.problems],
        now=request.app.state.clock.now(),
    )
    who = caller(request, principal, body, creates="routine-visit")
    visit = await asyncio.to_thread(request.app.state.application.record_visit, command, who)
    set_etag(response, visit.version)
    return VisitRead(
        id=visit.id,
        school_id=visit.school_id,
        school_name=visit.school_name,
        inspector_id=visit.inspector_id,
        visited_on=visit.visited_on,
        items_checked=visit.items_checked,
        problems=visit.problems,
    )


@router.get("/routine-coverage")
async def routine_coverage(
    request: Request, principal: OfficeReader, month: Month, jurisdiction: str | None = None
) -> dict:
    """Which compulsory-education schools have had no routine visit yet in `month`, zone by zone (S1)."""
    within = jurisdiction or principal.jur
    if not divisions.is_valid_code(within):
        raise InvalidInput(f"{within!r} is not a division code", field="jurisdiction", rule="code_format")
    check_scope(principal, within)
    async with request.app.state.pool.acquire() as conn:
        return await visits.coverage(conn, within=within, month=month)
