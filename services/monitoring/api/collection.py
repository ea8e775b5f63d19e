"""Collection routes (数据填报与审核): a unit's (or its agency's) values and submission, the county's return,
approval and un-approval, each level's approval and the level above's acceptance, agency assignments."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import APIRouter, Depends, Request, Response

from dudao import jurisdiction as divisions
from dudao.auth import Principal, Role, require
from dudao.commands import Caller
from dudao.errors import InvalidInput, NotFound
from dudao.routes import OFFICES, Admin, Name, OfficeReader, Strict, Text, caller, scope, set_etag
from dudao.scope import OFFICE_ROLES, authorize
from services.monitoring.api.common import app_of, now, reading
from services.monitoring.commands import (
    AcceptLevel,
    ApproveLevel,
    ApproveSubmission,
    AssignAgency,
    EndAssignment,
    EnterValues,
    ReturnForCorrection,
    Submit,
    UnacceptLevel,
    UnapproveLevel,
    UnapproveSubmission,
)
from services.monitoring.domain.collection import (
    AgencyTask,
    LevelApproval,
    Submission,
    UpperAcceptance,
    home_level,
    submission_id,
)
from services.monitoring.domain.framework import check_period
from services.monitoring.projections import reads
from services.monitoring.projections.areas import definition_at

router = APIRouter(tags=["collection"])
C = TypeVar("C")
Collector = Annotated[Principal, Depends(require(Role.admin, Role.unit, Role.agency))]
# A unit's submission and results: offices above it, the unit (its own), an agency assigned there (what it collects
# or assesses). A place's collection: offices and the agencies assigned to it (a unit reads its own submission, not
# its neighbours' statuses).
CollectionReader = Annotated[
    Principal, Depends(require(*OFFICES, Role.unit, Role.agency, target="unit: its own, or its assignment"))
]
PlaceReader = Annotated[
    Principal, Depends(require(*OFFICES, Role.agency, target="place: its subtree, or its assignment"))
]


class ValuesEntry(Strict):
    """The unit's inputs: per-stage inputs as {stage: value}, e.g. {"pupils": {"primary": 620}, "equipment_value": 1500000}."""

    values: dict[str, Any]


class Reason(Strict):
    reason: Text


class AssignmentCreate(Strict):
    """Engage a third-party agency (第三方评估机构) to collect or assess a framework's data in a jurisdiction."""

    framework: Name
    period: Name
    jurisdiction: Name
    agency_id: Name
    agency_name: Name
    task: AgencyTask
    contract: Text


def _read(submission: Submission) -> dict[str, Any]:
    return {
        "id": submission.id,
        "framework": submission.framework,
        "framework_version": submission.framework_version,
        "period": submission.period,
        "unit_kind": submission.unit_kind,
        "unit_id": submission.unit_id,
        "unit_name": submission.unit_name,
        "jurisdiction": submission.jurisdiction,
        "approving_level": home_level(submission.jurisdiction),
        "status": submission.status.value,
        "values": submission.values,
        "version": submission.version,
    }


# --- who may do what --------------------------------------------------------------------------------------------


async def _unit(request: Request, framework: str, period: str, unit_id: str) -> dict[str, Any]:
    """The unit as the framework sees it: a school from the registry's copy, or a county for a county framework."""
    async with reading(request) as conn:
        version = await reads.period_version(conn, framework, period)
        if version is None:
            await reads.framework(conn, framework)  # 404 for an unknown framework
            raise NotFound(
                f"{framework} has no collection open for {period}; the office opens it first",
                field="period",
                rule="period_not_open",
            )
        definition = await definition_at(conn, framework, version)
        if definition.level == "school":
            school = await reads.school(conn, unit_id)
            if school is None:
                raise NotFound(f"the registry has no school {unit_id}", field="unit_id", rule="unknown_school")
            return {
                "kind": "school",
                "id": unit_id,
                "name": school["name"],
                "jurisdiction": school["jurisdiction"],
                "stage": school["stage"],
                "locality": school["locality"],
            }
    if not divisions.is_valid_code(unit_id) or divisions.level_of(unit_id) != "county":
        raise InvalidInput(
            f"{framework} is collected per county: unit_id must be a county code, not {unit_id!r}",
            field="unit_id",
            rule="county_code",
        )
    return {"kind": "jurisdiction", "id": unit_id, "name": divisions.name_of(unit_id), "jurisdiction": unit_id}


async def place_readable(
    request: Request, principal: Principal, framework: str, period: str, jurisdiction: str | None
) -> str:
    """The place a read of a framework and period covers; an agency reads only where it is assigned for them."""
    code = scope(principal, jurisdiction)
    if not principal.roles & OFFICE_ROLES and Role.agency in principal.roles:
        authorize(
            principal,
            await asyncio.to_thread(app_of(request).unit_target, principal, framework, period, code, None, None),
            (Role.agency,),
            write=False,
            field="jurisdiction",
        )
    return code


# --- submissions ------------------------------------------------------------------------------------------------


@router.put("/v1/submissions/{framework}/{period}/{unit_id}")
async def enter_values(
    framework: str,
    period: str,
    unit_id: str,
    body: ValuesEntry,
    request: Request,
    response: Response,
    principal: Collector,
) -> dict[str, Any]:
    """Enter (or correct) a unit's values as a draft; every bad value is named with its rule, and nothing is kept."""
    check_period(period)
    command = EnterValues(
        framework=framework,
        period=period,
        unit=await _unit(request, framework, period, unit_id),
        values=body.values,
        now=now(request),
    )
    return await _act(response, app_of(request).enter_values, command, caller(request, principal, body))


async def _act(
    response: Response, method: Callable[[C, Caller], Submission], command: C, who: Caller
) -> dict[str, Any]:
    """Run the application's method for the command; answer the submission and its ETag."""
    submission = await asyncio.to_thread(method, command, who)
    set_etag(response, submission.version)
    return _read(submission)


@router.post("/v1/submissions/{framework}/{period}/{unit_id}/submit")
async def submit(
    framework: str, period: str, unit_id: str, request: Request, response: Response, principal: Collector
) -> dict[str, Any]:
    unit = await _unit(request, framework, period, unit_id)
    command = Submit(framework=framework, period=period, unit=unit, now=now(request))
    return await _act(response, app_of(request).submit, command, caller(request, principal))


@router.post("/v1/submissions/{framework}/{period}/{unit_id}/return")
async def return_for_correction(
    framework: str, period: str, unit_id: str, body: Reason, request: Request, response: Response, principal: Admin
) -> dict[str, Any]:
    """Send submitted data back to the unit with the reason (退回)."""
    command = ReturnForCorrection(
        framework=framework, period=period, unit_id=unit_id, reason=body.reason, now=now(request)
    )
    return await _act(response, app_of(request).return_for_correction, command, caller(request, principal, body))


@router.post("/v1/submissions/{framework}/{period}/{unit_id}/approve")
async def approve(
    framework: str, period: str, unit_id: str, request: Request, response: Response, principal: Admin
) -> dict[str, Any]:
    """The county approves a unit's submitted data, which locks them (审核通过)."""
    command = ApproveSubmission(framework=framework, period=period, unit_id=unit_id, now=now(request))
    return await _act(response, app_of(request).approve_submission, command, caller(request, principal))


@router.post("/v1/submissions/{framework}/{period}/{unit_id}/unapprove")
async def unapprove(
    framework: str, period: str, unit_id: str, body: Reason, request: Request, response: Response, principal: Admin
) -> dict[str, Any]:
    """Re-open approved data with a reason; refused while the county's level approval stands."""
    command = UnapproveSubmission(
        framework=framework, period=period, unit_id=unit_id, reason=body.reason, now=now(request)
    )
    return await _act(response, app_of(request).unapprove_submission, command, caller(request, principal, body))


@router.get("/v1/submissions/{framework}/{period}/{unit_id}")
async def read_submission(
    framework: str, period: str, unit_id: str, request: Request, principal: CollectionReader
) -> dict[str, Any]:
    submission = await asyncio.to_thread(app_of(request).get, submission_id(framework, period, unit_id), Submission)
    authorize(
        principal,
        await asyncio.to_thread(
            app_of(request).unit_target, principal, framework, period, submission.jurisdiction, unit_id, None
        ),
        (),
        write=False,
    )
    return _read(submission)


@router.get("/v1/collection/{framework}/{period}")
async def collection_status(
    framework: str, period: str, request: Request, principal: PlaceReader, jurisdiction: str | None = None
) -> dict[str, Any]:
    """Where collection stands under a jurisdiction: every expected unit's status, and each level's approval."""
    check_period(period)
    code = await place_readable(request, principal, framework, period, jurisdiction)
    async with reading(request) as conn:
        return await reads.collection_status(conn, framework, period, code)


# --- levels -----------------------------------------------------------------------------------------------------


def _division(code: str) -> str:
    if not divisions.is_valid_code(code) or len(code) != 6:
        raise InvalidInput(f"{code!r} is not a 6-digit division code of a level", field="code", rule="code_format")
    return code


def _level_read(level) -> dict[str, Any]:
    return {
        "framework": level.framework,
        "period": level.period,
        "jurisdiction": level.jurisdiction,
        "status": level.status.value,
        "version": level.version,
    }


def _lower_read(acceptance, response: Response) -> dict[str, Any]:
    """What this instance decided about a lower instance's level; `applied` turns true when the level's own event is back."""
    set_etag(response, acceptance.version)
    return {
        "framework": acceptance.framework,
        "period": acceptance.period,
        "jurisdiction": acceptance.jurisdiction,
        "status": "accepted" if acceptance.accepted else "approved",
        "level_version": acceptance.level_version,
        "held_below": True,
        "version": acceptance.version,
    }


@router.post("/v1/levels/{framework}/{period}/{code}/approve")
async def approve_level(
    framework: str, period: str, code: str, request: Request, response: Response, principal: Admin
) -> dict[str, Any]:
    """A level approves everything under it — only once every unit and every level below is approved (逐级审核)."""
    check_period(period)
    _division(code)
    async with reading(request) as conn:
        version = await reads.period_version(conn, framework, period)
        if version is None:
            raise NotFound(f"{framework} has no collection open for {period}", field="period", rule="period_not_open")
        definition = await definition_at(conn, framework, version)
        units = [u["id"] for u in await reads.expected_units(conn, definition, code)]
        below = await reads.levels_below(conn, definition, code)
        heard = await reads.levels_heard(conn, framework, period, below)
    command = ApproveLevel(
        framework=framework,
        period=period,
        code=code,
        units=units,
        levels_below={c: heard.get(c, {}).get("status", "open") for c in below},
        now=now(request),
    )
    level = await asyncio.to_thread(app_of(request).approve_level, command, caller(request, principal))
    set_etag(response, level.version)
    return _level_read(level)


@router.post("/v1/levels/{framework}/{period}/{code}/unapprove")
async def unapprove_level(
    framework: str, period: str, code: str, body: Reason, request: Request, response: Response, principal: Admin
) -> dict[str, Any]:
    command = UnapproveLevel(framework=framework, period=period, code=code, reason=body.reason, now=now(request))
    level = await asyncio.to_thread(app_of(request).unapprove_level, command, caller(request, principal, body))
    set_etag(response, level.version)
    return _level_read(level)


@router.post("/v1/levels/{framework}/{period}/{code}/accept")
async def accept_level(
    framework: str, period: str, code: str, request: Request, response: Response, principal: Admin
) -> dict[str, Any]:
    """The level above accepts an approved level (上级确认); the level below can no longer un-approve.

    A level held by a lower instance is accepted at the version whose approval reached this one; the acceptance goes
    down and is applied there, and this instance shows the level accepted once that comes back up (decision 020)."""
    async with reading(request) as conn:
        heard = (await reads.levels_heard(conn, framework, period, [_division(code)])).get(code)
    command = AcceptLevel(framework=framework, period=period, code=code, heard=heard, now=now(request))
    return _decided(
        await asyncio.to_thread(app_of(request).accept_level, command, caller(request, principal)), response
    )


@router.post("/v1/levels/{framework}/{period}/{code}/unaccept")
async def unaccept_level(
    framework: str, period: str, code: str, body: Reason, request: Request, response: Response, principal: Admin
) -> dict[str, Any]:
    command = UnacceptLevel(framework=framework, period=period, code=code, reason=body.reason, now=now(request))
    handed_back = await asyncio.to_thread(app_of(request).unaccept_level, command, caller(request, principal, body))
    return _decided(handed_back, response)


def _decided(decision: LevelApproval | UpperAcceptance, response: Response) -> dict[str, Any]:
    if isinstance(decision, UpperAcceptance):  # the level lives in a lower instance
        return _lower_read(decision, response)
    set_etag(response, decision.version)
    return _level_read(decision)


# --- agencies ---------------------------------------------------------------------------------------------------


@router.post("/v1/assignments", status_code=201)
async def assign_agency(
    body: AssignmentCreate, request: Request, response: Response, principal: Admin
) -> dict[str, Any]:
    command = AssignAgency(
        framework=body.framework,
        period=body.period,
        jurisdiction=scope(principal, body.jurisdiction),
        agency_id=body.agency_id,
        agency_name=body.agency_name,
        task=body.task,
        contract=body.contract,
        now=now(request),
    )
    saved = await asyncio.to_thread(app_of(request).assign_agency, command, caller(request, principal, body))
    set_etag(response, saved.version)
    return {
        "id": saved.id,
        "framework": saved.framework,
        "period": saved.period,
        "jurisdiction": saved.jurisdiction,
        "agency_id": saved.agency_id,
        "task": saved.task.value,
        "active": saved.active,
    }


@router.post("/v1/assignments/{assignment_id}/end")
async def end_assignment(
    assignment_id: UUID, body: Reason, request: Request, response: Response, principal: Admin
) -> dict[str, Any]:
    command = EndAssignment(assignment_id=assignment_id, reason=body.reason, now=now(request))
    ended = await asyncio.to_thread(app_of(request).end_assignment, command, caller(request, principal, body))
    set_etag(response, ended.version)
    return {"id": ended.id, "active": ended.active}


@router.get("/v1/assignments")
async def list_assignments(
    request: Request, principal: OfficeReader, jurisdiction: str | None = None
) -> dict[str, Any]:
    code = scope(principal, jurisdiction)
    async with reading(request) as conn:
        rows = await conn.fetch(
            "SELECT id, framework, period, jurisdiction, agency_id, agency_name, task, active FROM monitoring.assignments"
            " WHERE jurisdiction LIKE ANY($1::text[]) ORDER BY framework, period, jurisdiction",
            divisions.patterns(code),
        )
    return {"items": [dict(r) for r in rows]}
