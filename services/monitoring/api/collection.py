"""Collection routes (数据填报与审核): a unit's (or its agency's) values and submission, the county's return,
approval and un-approval, each level's approval and the level above's acceptance, agency assignments."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request, Response

from dudao import jurisdiction as divisions
from dudao.auth import Principal, Role, require
from dudao.errors import Forbidden, InvalidInput, NotFound
from dudao.routes import OFFICES, Admin, Name, OfficeReader, Strict, Text, scope
from dudao.rules import RuleViolation
from dudao.scope import OFFICE_ROLES, Target, authorize, check_scope
from dudao.service import command_envelope, expected_version, set_etag
from services.monitoring.api.common import app_of, now, reading
from services.monitoring.domain.collection import (
    AgencyAssignment,
    AgencyTask,
    Submission,
    UpperAcceptance,
    home_level,
    parent_level,
    submission_id,
)
from services.monitoring.domain.framework import check_period
from services.monitoring.projections import reads
from services.monitoring.projections.collection import definition_at

router = APIRouter(tags=["collection"])
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


async def unit_target(
    request: Request,
    principal: Principal,
    framework: str,
    period: str,
    code: str,
    unit_id: str | None,
    task: str | None,
) -> Target:
    """A unit's data (or a place's) as scope sees it: the agencies assigned there for `task` (None: any task)."""
    agencies: frozenset[str] = frozenset()
    if Role.agency in principal.roles and principal.unit:
        tasks = await asyncio.to_thread(app_of(request).agency_tasks, framework, period, code, principal.unit)
        if tasks and (task is None or task in tasks):
            agencies = frozenset({principal.unit})
    return Target(code, unit=unit_id, agencies=agencies)


async def _collector(
    request: Request, principal: Principal, framework: str, period: str, unit: dict[str, Any]
) -> dict[str, str]:
    """Who enters a unit's data: the unit itself, an office above it, or an agency assigned there to collect."""
    target = await unit_target(
        request, principal, framework, period, unit["jurisdiction"], unit["id"], AgencyTask.collect
    )
    role = authorize(principal, target, (Role.admin, Role.unit, Role.agency), write=True, field="unit_id")
    if role == Role.admin:
        return {"kind": "office", "sub": principal.sub, "jurisdiction": principal.jur}
    if role == Role.unit:
        return {"kind": "unit", "sub": principal.sub}
    return {"kind": "agency", "sub": principal.sub, "agency_id": principal.unit}


async def place_readable(
    request: Request, principal: Principal, framework: str, period: str, jurisdiction: str | None
) -> str:
    """The place a read of a framework and period covers; an agency reads only where it is assigned for them."""
    code = scope(principal, jurisdiction)
    if not principal.roles & OFFICE_ROLES and Role.agency in principal.roles:
        authorize(
            principal,
            await unit_target(request, principal, framework, period, code, None, None),
            (Role.agency,),
            write=False,
            field="jurisdiction",
        )
    return code


def _approver(principal: Principal, jurisdiction: str) -> None:
    """A unit's data are approved (or returned) by the office of its county, not by anyone above or below."""
    check_scope(principal, jurisdiction)  # first who may act here at all; then which office of those
    county = home_level(jurisdiction)
    if principal.jur != county:
        raise Forbidden(f"the office of {county} approves this unit's data", field="jur", rule="approver_level")


def _division(code: str) -> str:
    if not divisions.is_valid_code(code) or len(code) != 6:
        raise InvalidInput(f"{code!r} is not a 6-digit division code of a level", field="code", rule="code_format")
    return code


def _level_office(principal: Principal, code: str) -> None:
    check_scope(principal, _division(code))
    if principal.jur != code:
        raise Forbidden(f"the office of {code} approves its own level", field="jur", rule="approver_level")


def _accepting_office(principal: Principal, code: str) -> None:
    check_scope(principal, _division(code))
    above = parent_level(code)
    if principal.jur != above:
        raise Forbidden(
            f"the office of {above}, the level above {code}, accepts it", field="jur", rule="acceptor_level"
        )


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
    unit = await _unit(request, framework, period, unit_id)
    by = await _collector(request, principal, framework, period, unit)
    submission = await asyncio.to_thread(
        app_of(request).enter_values,
        framework,
        period,
        unit,
        body.values,
        by,
        command_envelope(request, principal, body),
        expected_version(request),
        now(request),
    )
    set_etag(response, submission.version)
    return _read(submission)


async def _act(
    request: Request,
    response: Response,
    principal: Principal,
    framework: str,
    period: str,
    unit_id: str,
    body,
    authorize,
    command,
) -> dict[str, Any]:
    submission = await asyncio.to_thread(
        app_of(request).on_submission,
        submission_id(framework, period, unit_id),
        expected_version(request),
        command_envelope(request, principal, body),
        authorize,
        command,
    )
    set_etag(response, submission.version)
    return _read(submission)


@router.post("/v1/submissions/{framework}/{period}/{unit_id}/submit")
async def submit(
    framework: str, period: str, unit_id: str, request: Request, response: Response, principal: Collector
) -> dict[str, Any]:
    unit = await _unit(request, framework, period, unit_id)
    by = await _collector(request, principal, framework, period, unit)
    return await _act(
        request,
        response,
        principal,
        framework,
        period,
        unit_id,
        None,
        None,
        lambda s: s.submit(submitted_by=by, now=now(request)),
    )


@router.post("/v1/submissions/{framework}/{period}/{unit_id}/return")
async def return_for_correction(
    framework: str, period: str, unit_id: str, body: Reason, request: Request, response: Response, principal: Admin
) -> dict[str, Any]:
    """Send submitted data back to the unit with the reason (退回)."""
    return await _act(
        request,
        response,
        principal,
        framework,
        period,
        unit_id,
        body,
        lambda s: _approver(principal, s.jurisdiction),
        lambda s: s.return_for_correction(reason=body.reason, by=principal.sub, now=now(request)),
    )


@router.post("/v1/submissions/{framework}/{period}/{unit_id}/approve")
async def approve(
    framework: str, period: str, unit_id: str, request: Request, response: Response, principal: Admin
) -> dict[str, Any]:
    """The county approves a unit's submitted data, which locks them (审核通过)."""
    return await _act(
        request,
        response,
        principal,
        framework,
        period,
        unit_id,
        None,
        lambda s: _approver(principal, s.jurisdiction),
        lambda s: s.approve(by=principal.sub, now=now(request)),
    )


@router.post("/v1/submissions/{framework}/{period}/{unit_id}/unapprove")
async def unapprove(
    framework: str, period: str, unit_id: str, body: Reason, request: Request, response: Response, principal: Admin
) -> dict[str, Any]:
    """Re-open approved data with a reason; refused while the county's level approval stands."""
    submission = await asyncio.to_thread(
        app_of(request).unapprove,
        submission_id(framework, period, unit_id),
        body.reason,
        principal.sub,
        command_envelope(request, principal, body),
        lambda s: _approver(principal, s.jurisdiction),
        now(request),
    )
    set_etag(response, submission.version)
    return _read(submission)


@router.get("/v1/submissions/{framework}/{period}/{unit_id}")
async def read_submission(
    framework: str, period: str, unit_id: str, request: Request, principal: CollectionReader
) -> dict[str, Any]:
    submission = await asyncio.to_thread(app_of(request).get, submission_id(framework, period, unit_id), Submission)
    authorize(
        principal,
        await unit_target(request, principal, framework, period, submission.jurisdiction, unit_id, None),
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
    _level_office(principal, code)
    async with reading(request) as conn:
        version = await reads.period_version(conn, framework, period)
        if version is None:
            raise NotFound(f"{framework} has no collection open for {period}", field="period", rule="period_not_open")
        definition = await definition_at(conn, framework, version)
        units = [u["id"] for u in await reads.expected_units(conn, definition, code)]
        below = await reads.levels_below(conn, definition, code)
        heard = await reads.levels_heard(conn, framework, period, below)
    below_status = {c: heard.get(c, {}).get("status", "open") for c in below}
    level = await asyncio.to_thread(
        app_of(request).approve_level,
        framework,
        period,
        code,
        units,
        below_status,
        principal.sub,
        command_envelope(request, principal),
        now(request),
    )
    set_etag(response, level.version)
    return _level_read(level)


@router.post("/v1/levels/{framework}/{period}/{code}/unapprove")
async def unapprove_level(
    framework: str, period: str, code: str, body: Reason, request: Request, response: Response, principal: Admin
) -> dict[str, Any]:
    _level_office(principal, code)
    level = await asyncio.to_thread(
        app_of(request).unapprove_level,
        framework,
        period,
        code,
        body.reason,
        principal.sub,
        command_envelope(request, principal, body),
        now(request),
    )
    set_etag(response, level.version)
    return _level_read(level)


@router.post("/v1/levels/{framework}/{period}/{code}/accept")
async def accept_level(
    framework: str, period: str, code: str, request: Request, response: Response, principal: Admin
) -> dict[str, Any]:
    """The level above accepts an approved level (上级确认); the level below can no longer un-approve.

    A level held by a lower instance is accepted at the version whose approval reached this one; the acceptance goes
    down and is applied there, and this instance shows the level accepted once that comes back up (decision 020)."""
    _accepting_office(principal, code)
    app, envelope = app_of(request), command_envelope(request, principal)
    if await asyncio.to_thread(app.holds_level, framework, period, code):
        level = await asyncio.to_thread(
            app.accept_level, framework, period, code, principal.sub, envelope, now(request)
        )
        set_etag(response, level.version)
        return _level_read(level)
    async with reading(request) as conn:
        heard = (await reads.levels_heard(conn, framework, period, [code])).get(code)
    if heard is None or heard["status"] != "approved":
        state = (
            "is already accepted"
            if heard and heard["status"] == "accepted"
            else (
                f"has not approved {framework} {period} ({heard['status'] if heard else 'nothing heard from it yet'}); its"
                " instance approves first, and its approval must reach this one"
            )
        )
        raise RuleViolation(f"{code} {state}", field="status", rule="level_approval_lifecycle")
    accepted = await asyncio.to_thread(
        app.accept_lower_level, framework, period, code, heard["version"], principal.sub, envelope, now(request)
    )
    return _lower_read(accepted, response)


@router.post("/v1/levels/{framework}/{period}/{code}/unaccept")
async def unaccept_level(
    framework: str, period: str, code: str, body: Reason, request: Request, response: Response, principal: Admin
) -> dict[str, Any]:
    _accepting_office(principal, code)
    handed_back = await asyncio.to_thread(
        app_of(request).unaccept_level,
        framework,
        period,
        code,
        body.reason,
        principal.sub,
        command_envelope(request, principal, body),
        now(request),
    )
    if isinstance(handed_back, UpperAcceptance):  # the level lives in a lower instance
        return _lower_read(handed_back, response)
    set_etag(response, handed_back.version)
    return _level_read(handed_back)


# --- agencies ---------------------------------------------------------------------------------------------------


@router.post("/v1/assignments", status_code=201)
async def assign_agency(
    body: AssignmentCreate, request: Request, response: Response, principal: Admin
) -> dict[str, Any]:
    check_period(body.period)
    code = scope(principal, body.jurisdiction)
    assignment = AgencyAssignment.make(
        framework=body.framework,
        period=body.period,
        jurisdiction=code,
        agency_id=body.agency_id,
        agency_name=body.agency_name,
        task=body.task,
        contract=body.contract,
        made_by=principal.sub,
        made_at=now(request),
    )
    saved = await asyncio.to_thread(
        app_of(request).assign_agency, assignment, command_envelope(request, principal, body)
    )
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
    ended = await asyncio.to_thread(
        app_of(request).end_assignment,
        assignment_id,
        body.reason,
        principal.sub,
        command_envelope(request, principal, body),
        lambda a: check_scope(principal, a.jurisdiction),
        now(request),
    )
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
