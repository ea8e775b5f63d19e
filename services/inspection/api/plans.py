"""Annual work plan routes: draft, items, approval (reported to the level above), revision."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import uuid4

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, Field

from dudao import jurisdiction as divisions
from dudao.auth import LINE, Principal, require
from dudao.errors import InvalidInput, NotFound
from dudao.routes import OFFICES, caller, set_etag
from dudao.scope import check_scope
from services.inspection.api.activities import Admin, Name, Strict, Text
from services.inspection.application import Inspection
from services.inspection.commands import AddPlanItem, ApprovePlan, DraftPlan, RemovePlanItem, RevisePlan
from services.inspection.domain.activity_terms import ActivityKind, SpecialTopic, TargetKind
from services.inspection.domain.plan import WorkPlan, plan_id
from services.inspection.projections import plans

Code = Annotated[str, Path(pattern=r"^\d{6}$")]
Year = Annotated[int, Path(ge=2000, le=2100)]
# An office reads its own plans and those of the levels above it, which come down (decision 011).
PlanReader = Annotated[Principal, Depends(require(*OFFICES, reach=LINE))]


class PlanCreate(Strict):
    title: Name


class Target(Strict):
    target_kind: TargetKind
    target_id: Name
    target_name: Name


class ItemCreate(Strict):
    kind: ActivityKind
    title: Name
    month: int = Field(ge=1, le=12)
    topic: SpecialTopic | None = None
    targets: list[Target] | None = Field(default=None, max_length=500)
    population: Name | None = Field(default=None, description="e.g. 全区义务教育学校, when the targets are drawn later")


class ItemRemoval(Strict):
    reason: Name


class Approval(Strict):
    approved_on: date


class Revision(Strict):
    reason: Text


class PlanRead(BaseModel):
    jurisdiction: str
    year: int
    title: str
    status: str
    items: list[dict[str, Any]]
    report_to: str | None
    version: int

    @classmethod
    def of(cls, plan: WorkPlan | dict[str, Any]) -> PlanRead:
        if isinstance(plan, dict):
            return cls(**plan)
        return cls(
            jurisdiction=plan.jurisdiction,
            year=plan.year,
            title=plan.title,
            status=str(plan.status),
            items=plan.items,
            report_to=plan.report_to,
            version=plan.version,
        )


router = APIRouter(prefix="/v1/plans", tags=["plans"])


def _app(request: Request) -> Inspection:
    return request.app.state.application


def _written(response: Response, plan: WorkPlan) -> PlanRead:
    set_etag(response, plan.version)
    return PlanRead.of(plan)


@router.put("/{code}/{year}", response_model=PlanRead, status_code=201)
def draft_plan(
    code: Code, year: Year, body: PlanCreate, request: Request, response: Response, principal: Admin
) -> PlanRead:
    """Start the year's work plan (年度督导工作计划) for a jurisdiction."""
    if not divisions.is_known(code):
        raise InvalidInput(f"{code} is not a known jurisdiction", field="code", rule="unknown_jurisdiction")
    command = DraftPlan(jurisdiction=code, year=year, title=body.title, now=request.app.state.clock.now())
    return _written(response, _app(request).draft_plan(command, caller(request, principal, body)))


@router.post("/{code}/{year}/items", response_model=PlanRead)
def add_item(
    code: Code, year: Year, body: ItemCreate, request: Request, response: Response, principal: Admin
) -> PlanRead:
    item = {
        "item_id": str(uuid4()),
        "kind": body.kind,
        "title": body.title,
        "month": body.month,
        "topic": body.topic,
        "targets": [t.model_dump() for t in body.targets] if body.targets else None,
        "population": body.population,
    }
    command = AddPlanItem(jurisdiction=code, year=year, item=item)
    return _written(response, _app(request).add_plan_item(command, caller(request, principal, body)))


@router.post("/{code}/{year}/items/{item_id}/removal", response_model=PlanRead)
def remove_item(
    code: Code, year: Year, item_id: str, body: ItemRemoval, request: Request, response: Response, principal: Admin
):
    command = RemovePlanItem(jurisdiction=code, year=year, item_id=item_id, reason=body.reason)
    return _written(response, _app(request).remove_plan_item(command, caller(request, principal, body)))


@router.post("/{code}/{year}/approval", response_model=PlanRead)
def approve(code: Code, year: Year, body: Approval, request: Request, response: Response, principal: Admin) -> PlanRead:
    """Approve the plan; the approval is the event that reports it to the body one level up (O2)."""
    command = ApprovePlan(jurisdiction=code, year=year, approved_on=body.approved_on)
    return _written(response, _app(request).approve_plan(command, caller(request, principal, body)))


@router.post("/{code}/{year}/revision", response_model=PlanRead)
def revise(code: Code, year: Year, body: Revision, request: Request, response: Response, principal: Admin) -> PlanRead:
    command = RevisePlan(jurisdiction=code, year=year, reason=body.reason)
    return _written(response, _app(request).revise_plan(command, caller(request, principal, body)))


@router.get("/{code}/{year}", response_model=PlanRead)
async def read_plan(code: Code, year: Year, request: Request, response: Response, principal: PlanReader) -> PlanRead:
    """A plan of the caller's jurisdiction or below, or of a level above it (upper plans come down: decision 011)."""
    if code not in divisions.ancestors(principal.jur):
        check_scope(principal, code)
    async with request.app.state.pool.acquire() as conn:
        row = await plans.plan(conn, str(plan_id(code, year)))
    if row is None:
        raise NotFound(f"{code} has no work plan for {year}", field="year")
    set_etag(response, row["version"])
    return PlanRead.of(row)
