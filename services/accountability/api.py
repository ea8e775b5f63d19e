"""Accountability HTTP API: rectification cases and the office's feedback on them."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from dudao import jurisdiction as divisions
from dudao.auth import Principal, Role, check_scope, require
from dudao.errors import Conflict, InvalidInput
from dudao.profiles import effective_from_copy
from dudao.service import command_envelope, decode_cursor, expected_version, page_cursor, set_etag
from services.accountability.domain.case import FeedbackMode, RectificationCase
from services.accountability.projections import case_page

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
Admin = Annotated[Principal, Depends(require(Role.admin))]
Reader = Annotated[Principal, Depends(require())]


class Feedback(BaseModel):
    """Feedback (反馈) in writing or at a meeting: the decision, the requirements, a deadline per item."""

    model_config = ConfigDict(extra="forbid")
    mode: FeedbackMode
    decision: Text
    requirements: Text
    given_on: date
    deadlines: dict[str, date] = Field(default_factory=dict, description="item id -> deadline; others get the profile's default")


class CaseRead(BaseModel):
    id: UUID
    activity_id: str
    jurisdiction: str
    unit_id: str
    unit_name: str
    status: str
    items: list[dict[str, Any]]
    version: int

    @classmethod
    def of(cls, case: RectificationCase) -> CaseRead:
        return cls(
            id=case.id, activity_id=case.activity_id, jurisdiction=case.jurisdiction, unit_id=case.unit_id,
            unit_name=case.unit_name, status=str(case.status), items=[dict(i) for i in case.items.values()], version=case.version,
        )  # fmt: skip


class CaseSummary(BaseModel):
    id: UUID
    activity_id: str
    jurisdiction: str
    unit_id: str
    unit_name: str
    activity_title: str
    status: str
    items: int
    version: int


class CasePage(BaseModel):
    items: list[CaseSummary]
    next_cursor: str | None


router = APIRouter(prefix="/v1/cases", tags=["rectification"])


@router.post("/{case_id}/feedback", response_model=CaseRead)
async def give_feedback(case_id: UUID, body: Feedback, request: Request, response: Response, principal: Admin) -> CaseRead:
    """Give feedback and set deadlines; an item without its own deadline gets the profile's rectification period."""
    app = request.app.state.application
    case: RectificationCase = await asyncio.to_thread(app.get, case_id, RectificationCase)
    check_scope(principal, case.jurisdiction)
    async with request.app.state.pool.acquire() as conn:
        profile = await effective_from_copy(conn, "accountability", case.jurisdiction)
    days = profile.get("rectification_days")
    if days is None:
        raise Conflict("no rectification period in the policy profile (rectification_days)", field="deadlines", rule="no_rectification_period")
    default = body.given_on + timedelta(days=days)
    case = await asyncio.to_thread(
        app.on_case, case_id, expected_version(request), command_envelope(request, principal, body),
        lambda c: check_scope(principal, c.jurisdiction),
        lambda c: c.give_feedback(
            mode=body.mode, decision=body.decision, requirements=body.requirements, deadlines=body.deadlines,
            default_deadline=default, deadline_basis=profile.version, given_on=body.given_on,
        ),
    )  # fmt: skip
    set_etag(response, case.version)
    return CaseRead.of(case)


@router.get("", response_model=CasePage)
async def list_cases(
    request: Request, principal: Reader, jurisdiction: str | None = None, unit_id: str | None = None,
    cursor: str | None = None, limit: int = 50,
) -> CasePage:  # fmt: skip
    """Rectification cases by jurisdiction subtree or unit."""
    within = jurisdiction or principal.jur
    if not divisions.is_valid_code(within):
        raise InvalidInput(f"{within!r} is not a division code", field="jurisdiction", rule="code_format")
    check_scope(principal, within)
    if not 1 <= limit <= 200:
        raise InvalidInput("limit must be between 1 and 200", field="limit", rule="page_size")
    async with request.app.state.pool.acquire() as conn:
        rows = await case_page(conn, within=within, unit_id=unit_id, after=decode_cursor(cursor), limit=limit)
    summaries = [CaseSummary(**{k: r[k] for k in CaseSummary.model_fields if k != "items"}, items=len(r["items"])) for r in rows]
    return CasePage(items=summaries, next_cursor=page_cursor(rows, limit))
