"""Rectification routes (反馈 · 整改 · 督办 · 复查): the office's feedback and verdicts, the unit's reports and
statement, deadlines and notices, re-checks, each case's history and its state on a past date."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from dudao.auth import Principal, Role, require
from dudao.commands import Caller
from dudao.cursors import decode_cursor, page_cursor
from dudao.errors import InvalidInput
from dudao.routes import caller, set_etag, today
from dudao.scope import Target, authorize, check_scope, listed_unit
from services.accountability.api.common import (
    Admin,
    Name,
    OfficeReader,
    Strict,
    Text,
    UnitOrAdmin,
    UnitReader,
    app_of,
    page_size,
    scope,
)
from services.accountability.commands import (
    AcceptItem,
    ChangeDeadline,
    GiveFeedback,
    PublishStatement,
    RecheckItem,
    RejectItem,
    ReportItem,
)
from services.accountability.deadlines import DeadlineSweeper
from services.accountability.domain.case import FeedbackMode, RectificationCase
from services.accountability.projections import case_page, item_rows, notice_page, overdue_page, summary

router = APIRouter(tags=["rectification"])
C = TypeVar("C")
Ops = Annotated[Principal, Depends(require(Role.ops, Role.admin))]


class Feedback(Strict):
    """Feedback (反馈) in writing or at a meeting: the decision, the requirements, a deadline per item."""

    mode: FeedbackMode
    decision: Text
    requirements: Text
    given_on: date
    deadlines: dict[str, date] = Field(
        default_factory=dict, description="item id -> deadline; others get the profile's default"
    )


class DeadlineChange(Strict):
    deadline: date
    reason: Text


class EvidenceFile(Strict):
    name: Name
    media_type: Name
    content_base64: str = Field(description="the file's bytes, base64-encoded")


class ItemReport(Strict):
    """The unit's report on one item: what it did, with evidence (佐证材料)."""

    statement: Text
    evidence: list[EvidenceFile] = Field(default_factory=list, max_length=50)


class Rejection(Strict):
    reason: Text


class Recheck(Strict):
    passed: bool
    note: Text
    rectify_within_days: int | None = Field(
        default=None, ge=1, le=365, description="a failed re-check: days to fix the rebound"
    )


class Statement(Strict):
    """The unit's public rectification statement (整改情况向社会公布)."""

    text: Text


class CaseRead(BaseModel):
    id: UUID
    activity_id: str
    jurisdiction: str
    unit_kind: str
    unit_id: str
    unit_name: str
    activity_title: str
    status: str
    feedback: dict[str, Any] | None
    statement: dict[str, Any] | None
    items: list[dict[str, Any]]
    version: int

    @classmethod
    def of(cls, case: RectificationCase) -> CaseRead:
        return cls(
            id=case.id,
            activity_id=case.activity_id,
            jurisdiction=case.jurisdiction,
            unit_kind=case.unit_kind,
            unit_id=case.unit_id,
            unit_name=case.unit_name,
            activity_title=case.activity_title,
            status=str(case.status),
            feedback=case.feedback,
            statement=case.statement,
            items=[dict(i) for i in case.items.values()],
            version=case.version,
        )


class CasePage(BaseModel):
    items: list[dict[str, Any]]
    next_cursor: str | None


async def _act(
    response: Response, method: Callable[[C, Caller], RectificationCase], command: C, who: Caller
) -> CaseRead:
    """Run the application's method for the command; answer the case and its ETag."""
    case = await asyncio.to_thread(method, command, who)
    set_etag(response, case.version)
    return CaseRead.of(case)


async def _case(request: Request, principal: Principal, case_id: UUID) -> RectificationCase:
    """The case, if the caller may see it: offices over its place, the unit it concerns."""
    case = await asyncio.to_thread(app_of(request).get, case_id, RectificationCase)
    authorize(principal, Target(case.jurisdiction, unit=case.unit_id), (), write=principal.writing)
    return case


# --- the office: feedback, deadlines, verdicts, re-checks ---------------------------------------------------------


@router.post("/v1/cases/{case_id}/feedback", response_model=CaseRead)
async def give_feedback(
    case_id: UUID, body: Feedback, request: Request, response: Response, principal: Admin
) -> CaseRead:
    """Give feedback and set deadlines; an item without its own deadline gets the profile's rectification period."""
    command = GiveFeedback(
        case_id=case_id,
        mode=body.mode,
        decision=body.decision,
        requirements=body.requirements,
        given_on=body.given_on,
        deadlines=body.deadlines,
        today=today(request),
    )
    return await _act(response, app_of(request).give_feedback, command, caller(request, principal, body))


@router.post("/v1/cases/{case_id}/items/{item_id}/deadline", response_model=CaseRead)
async def change_deadline(
    case_id: UUID, item_id: str, body: DeadlineChange, request: Request, response: Response, principal: Admin
) -> CaseRead:
    """Move an unaccepted item's deadline, with the reason recorded."""
    command = ChangeDeadline(
        case_id=case_id, item_id=item_id, deadline=body.deadline, reason=body.reason, today=today(request)
    )
    return await _act(response, app_of(request).change_deadline, command, caller(request, principal, body))


@router.post("/v1/cases/{case_id}/items/{item_id}/accept", response_model=CaseRead)
async def accept_item(case_id: UUID, item_id: str, request: Request, response: Response, principal: Admin) -> CaseRead:
    """Accept (验收) a reported item; its re-check falls due after the profile's interval."""
    command = AcceptItem(case_id=case_id, item_id=item_id, today=today(request))
    return await _act(response, app_of(request).accept_item, command, caller(request, principal, None))


@router.post("/v1/cases/{case_id}/items/{item_id}/reject", response_model=CaseRead)
async def reject_item(
    case_id: UUID, item_id: str, body: Rejection, request: Request, response: Response, principal: Admin
) -> CaseRead:
    """Send a reported item back with the reason; the unit reports again."""
    command = RejectItem(case_id=case_id, item_id=item_id, reason=body.reason, today=today(request))
    return await _act(response, app_of(request).reject_item, command, caller(request, principal, body))


@router.post("/v1/cases/{case_id}/items/{item_id}/recheck", response_model=CaseRead)
async def recheck_item(
    case_id: UUID, item_id: str, body: Recheck, request: Request, response: Response, principal: Admin
) -> CaseRead:
    """Re-check (回头看) an accepted item; a failed re-check reopens it as a rebound (反弹), counted against the unit."""
    command = RecheckItem(
        case_id=case_id,
        item_id=item_id,
        passed=body.passed,
        note=body.note,
        rectify_within_days=body.rectify_within_days,
        today=today(request),
    )
    return await _act(response, app_of(request).recheck_item, command, caller(request, principal, body))


# --- the unit: reports and its public statement -----------------------------------------------------------------


@router.post("/v1/cases/{case_id}/items/{item_id}/report", response_model=CaseRead)
async def report_item(
    case_id: UUID, item_id: str, body: ItemReport, request: Request, response: Response, principal: UnitOrAdmin
) -> CaseRead:
    """The supervised unit (role `unit`) reports what it did about one item; evidence goes to the blob store."""
    command = ReportItem(
        case_id=case_id, item_id=item_id, statement=body.statement, evidence=body.evidence, today=today(request)
    )
    return await _act(response, app_of(request).report_item, command, caller(request, principal, body))


@router.post("/v1/cases/{case_id}/statement", response_model=CaseRead)
async def publish_statement(
    case_id: UUID, body: Statement, request: Request, response: Response, principal: UnitOrAdmin
) -> CaseRead:
    """The unit publishes what it did (shown at `GET /v1/public/statements`)."""
    command = PublishStatement(case_id=case_id, text=body.text, today=today(request))
    return await _act(response, app_of(request).publish_statement, command, caller(request, principal, body))


# --- reads ------------------------------------------------------------------------------------------------------


@router.get("/v1/cases", response_model=CasePage)
async def list_cases(
    request: Request,
    principal: UnitReader,
    jurisdiction: str | None = None,
    unit_id: str | None = None,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> CasePage:
    """Cases by jurisdiction subtree, unit and status (opened, in_rectification, closed), with their items."""
    within, limit, unit_id = scope(principal, jurisdiction), page_size(limit), listed_unit(principal, unit_id)
    async with request.app.state.pool.acquire() as conn:
        rows = await case_page(
            conn, within=within, unit_id=unit_id, status=status, after=decode_cursor(cursor), limit=limit
        )
        items = await item_rows(conn, [r["id"] for r in rows])
    for row in rows:
        row["items"] = [i for i in items if i["case_id"] == row["id"]]
    return CasePage(
        items=[{k: v for k, v in r.items() if k != "position"} for r in rows], next_cursor=page_cursor(rows, limit)
    )


@router.get("/v1/cases/{case_id}", response_model=CaseRead)
async def get_case(
    case_id: UUID, request: Request, response: Response, principal: UnitReader, as_of: date | None = None
) -> CaseRead:
    """A case from its events; with `as_of` (a date in China) the case as it stood at the end of that day."""
    if as_of is not None and as_of > (today := request.app.state.clock.today()):
        raise InvalidInput(
            f"as_of {as_of} is after today ({today}): a case is known as it stood, not as it will",
            field="as_of",
            rule="date_in_future",
        )
    case = await _case(request, principal, case_id)
    if as_of is not None:
        case = await asyncio.to_thread(app_of(request).as_of, case_id, as_of)
    set_etag(response, case.version)
    return CaseRead.of(case)


@router.get("/v1/cases/{case_id}/history")
async def case_history(case_id: UUID, request: Request, principal: UnitReader) -> list[dict[str, Any]]:
    """Every step of the case: who, what, when, why, and under which policy profile version."""
    await _case(request, principal, case_id)
    return await asyncio.to_thread(app_of(request).history, case_id)


@router.get("/v1/overdue-items")
async def overdue_items(
    request: Request, principal: OfficeReader, jurisdiction: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Items past their deadline and not accepted, oldest deadline first."""
    within, limit = scope(principal, jurisdiction), page_size(limit)
    async with request.app.state.pool.acquire() as conn:
        return await overdue_page(conn, within=within, today=request.app.state.clock.today(), limit=limit)


@router.get("/v1/notices")
async def notices(
    request: Request,
    principal: UnitReader,
    jurisdiction: str | None = None,
    unit_id: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """Supervision notices (督办单) issued: for which item, which lapse, the missed and the new deadline."""
    within, limit, unit_id = scope(principal, jurisdiction), page_size(limit), listed_unit(principal, unit_id)
    async with request.app.state.pool.acquire() as conn:
        rows = await notice_page(conn, within=within, unit_id=unit_id, after=decode_cursor(cursor), limit=limit)
    return {
        "items": [{k: v for k, v in r.items() if k != "position"} for r in rows],
        "next_cursor": page_cursor(rows, limit),
    }


@router.get("/v1/summary")
async def accountability_summary(
    request: Request, principal: OfficeReader, jurisdiction: str | None = None
) -> dict[str, Any]:
    """Open cases, overdue items, notices issued, rebound rate and on-time rectification rate."""
    within = scope(principal, jurisdiction)
    async with request.app.state.pool.acquire() as conn:
        return await summary(conn, within=within, today=request.app.state.clock.today())


@router.post("/v1/ops/sweep-deadlines")
async def sweep_deadlines(request: Request, principal: Ops, jurisdiction: str | None = None) -> dict[str, Any]:
    """Run the deadline sweeper now over the caller's subtree, or a place inside it (the sweeper also runs every
    DUDAO_SWEEP_SECONDS over the whole instance): what was overdue, noticed, skipped."""
    within = scope(principal, jurisdiction)
    check_scope(principal, within)  # a write: inside this instance too
    [sweeper] = [r for r in request.app.state.workers.background if isinstance(r, DeadlineSweeper)]
    return vars(await sweeper.sweep(within))
