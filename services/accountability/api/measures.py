"""Routes for the measures that make results bite: interviews (约谈), circulars (通报) and the restrictions they
impose, accountability decisions (问责) with sanctions and transfers, and commendations (表彰)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate
from fastapi import APIRouter, Request, Response
from pydantic import Field

from dudao import jurisdiction as divisions
from dudao.auth import Principal
from dudao.commands import Caller
from dudao.cursors import decode_cursor, page_cursor
from dudao.errors import InvalidInput, NotFound
from dudao.routes import caller, today
from dudao.scope import Target, authorize, listed_unit
from services.accountability import commands
from services.accountability.api.common import (
    Admin,
    Name,
    Person,
    Publication,
    Strict,
    Text,
    UnitReader,
    app_of,
    jsonable,
    page_size,
    scope,
)
from services.accountability.commands import (
    Commend,
    Decide,
    FileInterview,
    IssueCircular,
    ProposeCircular,
    ProposeInterview,
    PublishOutcome,
    RecordInterview,
    RecordJointLiability,
    Unit,
)
from services.accountability.domain.measures import AccountabilityDecision, Circular, Commendation, Interview
from services.accountability.domain.terms import (
    AccountabilityTrigger,
    CircularTrigger,
    Conduct,
    FilingBody,
    InterviewTrigger,
    PersonAction,
    Sanction,
    TransferTo,
    UnitKind,
)
from services.accountability.projections import measure_page, restricted_names, restrictions, school_copy

router = APIRouter(tags=["measures"])
C = TypeVar("C")


class UnitRef(Strict):
    """The supervised unit a measure is about. A school's or government's place is known; a department's defaults to
    the caller's jurisdiction."""

    jurisdiction: str | None = Field(default=None, pattern=r"^\d{6}(\d{3})?$")
    unit_kind: UnitKind
    unit_id: Name
    unit_name: Name


class InterviewCreate(UnitRef):
    trigger: InterviewTrigger
    reason: Text
    case_id: UUID | None = None
    related_departments: list[Name] = Field(
        default_factory=list, max_length=20, description="departments concerned by the matter"
    )


class InterviewRecord(Strict):
    held_on: date
    interviewees: list[Person] = Field(min_length=1, max_length=50)
    record: Text
    commitments: Text
    early_reason: Text | None = Field(
        default=None, description="why the interview was held before it was proposed here"
    )


class InterviewFiling(Strict):
    filed_with: list[FilingBody] = Field(description="party_committee, government and superior: all three")
    filed_on: date


class CircularCreate(UnitRef):
    trigger: CircularTrigger
    reason: Text
    case_id: UUID | None = None


class CircularIssue(Strict):
    recipients: list[FilingBody]
    leaders: list[Person] = Field(
        min_length=1, max_length=50, description="the leaders restricted for the profile's period"
    )
    content: Text


class NamedPerson(Person):
    action: PersonAction


class DecisionCreate(UnitRef):
    trigger: AccountabilityTrigger
    reason: Text
    people: list[NamedPerson] = Field(default_factory=list, max_length=50)
    unit_actions: list[Text] = Field(default_factory=list, max_length=20)
    sanctions: list[Sanction] = Field(default_factory=list, max_length=4)
    circular_id: UUID | None = None
    case_id: UUID | None = None


class Transfer(Strict):
    to: TransferTo
    conduct: Conduct
    receiving_body: Name
    case_reference: Name


class JointLiability(Strict):
    superior_department: Name
    reason: Text


class CommendationCreate(UnitRef):
    people: list[Person] = Field(default_factory=list, max_length=50)
    reason: Text
    activity_id: Name | None = None


# --- shared shapes ------------------------------------------------------------------------------------------------

KINDS: dict[str, tuple[str, type[Aggregate]]] = {
    "interviews": ("interview", Interview),
    "circulars": ("circular", Circular),
    "decisions": ("decision", AccountabilityDecision),
    "commendations": ("commendation", Commendation),
}


async def _unit(request: Request, principal: Principal, body: UnitRef) -> Unit:
    """The unit a measure is about, as our own data knows it (the application then admits the caller to it).

    A school must be one the registry has told us of, and its place is the registry's, not the body's; a government
    is named by its division code; a department is the body's, in the jurisdiction the body names (or the caller's)."""
    name = body.unit_name
    if body.unit_kind is UnitKind.school:
        async with request.app.state.pool.acquire() as conn:
            school = await school_copy(conn, body.unit_id)
        if school is None:
            raise NotFound(f"no school {body.unit_id} in the registry (yet)", field="unit_id", rule="school_not_found")
        code, name = school["jurisdiction"], school["name"]
    elif body.unit_kind is UnitKind.government:
        if not divisions.is_valid_code(body.unit_id):
            raise InvalidInput("a government is named by its division code", field="unit_id", rule="code_format")
        code = body.unit_id
    else:
        code = body.jurisdiction or principal.jur
    if body.jurisdiction is not None and body.jurisdiction != code:
        raise InvalidInput(
            f"{body.unit_id} lies in {code}, not {body.jurisdiction}; leave jurisdiction out",
            field="jurisdiction",
            rule="unit_jurisdiction",
        )
    return Unit(jurisdiction=code, unit_kind=body.unit_kind, unit_id=body.unit_id, unit_name=name)


def _read(measure: Aggregate) -> dict[str, Any]:
    """A measure as its aggregate holds it now."""
    state = {k: v for k, v in vars(measure).items() if not k.startswith("_")}
    return state | {"id": measure.id, "version": measure.version, "status": str(getattr(measure, "status", ""))}


async def _create(
    response: Response, kind: str, method: Callable[[C, Caller], Aggregate], command: C, who: Caller
) -> dict[str, Any]:
    """Run the application's method for a command that makes a measure; answer it with its place and ETag."""
    saved = await asyncio.to_thread(method, command, who)
    response.status_code = 201
    response.headers["Location"] = f"/v1/{kind}/{saved.id}"
    response.headers["ETag"] = f'"{saved.version}"'
    return _read(saved)


async def _act(response: Response, method: Callable[[C, Caller], Aggregate], command: C, who: Caller) -> dict[str, Any]:
    """Run the application's method for a later step of a measure; answer it with its ETag."""
    measure = await asyncio.to_thread(method, command, who)
    response.headers["ETag"] = f'"{measure.version}"'
    return _read(measure)


async def _get(request: Request, principal: Principal, kind: str, measure_id: UUID) -> Aggregate:
    measure = await asyncio.to_thread(app_of(request).get, measure_id, KINDS[kind][1])
    authorize(principal, _target(measure), (), write=principal.writing)
    return measure


def _target(measure: Aggregate) -> Target:
    return Target(measure.jurisdiction, unit=measure.unit_id)


def _register_reads(kind: str) -> None:
    row_kind, _ = KINDS[kind]

    async def list_measures(
        request: Request,
        principal: UnitReader,
        jurisdiction: str | None = None,
        unit_id: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> dict[str, Any]:
        within, limit, unit_id = scope(principal, jurisdiction), page_size(limit), listed_unit(principal, unit_id)
        async with request.app.state.pool.acquire() as conn:
            rows = await measure_page(
                conn, kind=row_kind, within=within, unit_id=unit_id, after=decode_cursor(cursor), limit=limit
            )
        return {"items": [jsonable(r) for r in rows], "next_cursor": page_cursor(rows, limit)}

    async def get_measure(measure_id: UUID, request: Request, principal: UnitReader) -> dict[str, Any]:
        measure = await _get(request, principal, kind, measure_id)
        return _read(measure) | {"history": await asyncio.to_thread(app_of(request).history, measure_id)}

    list_measures.__doc__ = f"The {kind} in a jurisdiction subtree (read model), optionally of one unit."
    get_measure.__doc__ = f"One of the {kind} from its events, with its full history."
    router.add_api_route(f"/v1/{kind}", list_measures, methods=["GET"], name=f"list_{kind}")
    router.add_api_route(f"/v1/{kind}/{{measure_id}}", get_measure, methods=["GET"], name=f"get_{kind}")


for _kind in KINDS:
    _register_reads(_kind)


# --- interviews (约谈) --------------------------------------------------------------------------------------------


@router.post("/v1/interviews", status_code=201)
async def propose_interview(
    body: InterviewCreate, request: Request, response: Response, principal: Admin
) -> dict[str, Any]:
    """Propose an interview of a unit's leaders on a trigger from the closed list; organisers follow from the unit's kind."""
    command = ProposeInterview(
        unit=await _unit(request, principal, body),
        trigger=body.trigger,
        reason=body.reason,
        case_id=body.case_id,
        related_departments=body.related_departments,
        today=today(request),
    )
    who = caller(request, principal, body, creates="interviews")
    return await _create(response, "interviews", app_of(request).propose_interview, command, who)


@router.post("/v1/interviews/{measure_id}/record")
async def record_interview(
    measure_id: UUID, body: InterviewRecord, request: Request, response: Response, principal: Admin
) -> dict[str, Any]:
    """The written record of the interview."""
    command = RecordInterview(
        measure_id=measure_id,
        held_on=body.held_on,
        interviewees=[p.model_dump() for p in body.interviewees],
        record=body.record,
        commitments=body.commitments,
        early_reason=body.early_reason,
        today=today(request),
    )
    return await _act(response, app_of(request).record_interview, command, caller(request, principal, body))


@router.post("/v1/interviews/{measure_id}/file")
async def file_interview(
    measure_id: UUID, body: InterviewFiling, request: Request, response: Response, principal: Admin
) -> dict[str, Any]:
    """File the record with the party committee, government and superiors; afterwards it cannot change."""
    command = FileInterview(
        measure_id=measure_id,
        filed_with=[b.value for b in body.filed_with],
        filed_on=body.filed_on,
        today=today(request),
    )
    return await _act(response, app_of(request).file_interview, command, caller(request, principal, body))


# --- circulars (通报) and restrictions ----------------------------------------------------------------------------


@router.post("/v1/circulars", status_code=201)
async def propose_circular(
    body: CircularCreate, request: Request, response: Response, principal: Admin
) -> dict[str, Any]:
    """Propose a circular for ineffective, evasive or undone rectification."""
    command = ProposeCircular(
        unit=await _unit(request, principal, body),
        trigger=body.trigger,
        reason=body.reason,
        case_id=body.case_id,
        today=today(request),
    )
    who = caller(request, principal, body, creates="circulars")
    return await _create(response, "circulars", app_of(request).propose_circular, command, who)


@router.post("/v1/circulars/{measure_id}/issue")
async def issue_circular(
    measure_id: UUID, body: CircularIssue, request: Request, response: Response, principal: Admin
) -> dict[str, Any]:
    """Circulate; the named leaders are restricted for the profile's `restriction_days` from today."""
    command = IssueCircular(
        measure_id=measure_id,
        recipients=[b.value for b in body.recipients],
        leaders=[p.model_dump() for p in body.leaders],
        content=body.content,
        today=today(request),
    )
    return await _act(response, app_of(request).issue_circular, command, caller(request, principal, body))


@router.get("/v1/restrictions")
async def list_restrictions(
    request: Request, principal: UnitReader, jurisdiction: str | None = None, unit_id: str | None = None
) -> list[dict[str, Any]]:
    """Leaders who may not be commended, promoted or moved to key posts today, with the circular and until when."""
    within, unit_id = scope(principal, jurisdiction), listed_unit(principal, unit_id)
    async with request.app.state.pool.acquire() as conn:
        return await restrictions(conn, within=within, unit_id=unit_id, today=request.app.state.clock.today())


# --- accountability decisions (问责) ------------------------------------------------------------------------------


@router.post("/v1/decisions", status_code=201)
async def decide(body: DecisionCreate, request: Request, response: Response, principal: Admin) -> dict[str, Any]:
    """Hold a unit and named people to account; sanctions on a private school are applied by the registry."""
    unit = await _unit(request, principal, body)
    private = False
    if body.unit_kind is UnitKind.school and body.sanctions:
        async with request.app.state.pool.acquire() as conn:
            private = (await school_copy(conn, body.unit_id))["ownership"] == "private"
    command = Decide(
        unit=unit,
        private_school=private,
        trigger=body.trigger,
        reason=body.reason,
        people=[p.model_dump() for p in body.people],
        unit_actions=body.unit_actions,
        sanctions=[s.value for s in body.sanctions],
        circular_id=body.circular_id,
        case_id=body.case_id,
        today=today(request),
    )
    who = caller(request, principal, body, creates="decisions")
    return await _create(response, "decisions", app_of(request).decide, command, who)


@router.post("/v1/decisions/{measure_id}/transfers")
async def transfer(
    measure_id: UUID, body: Transfer, request: Request, response: Response, principal: Admin
) -> dict[str, Any]:
    """Transfer illegal conduct to law enforcement, or a suspected crime to the judiciary, with their case reference."""
    command = commands.Transfer(
        measure_id=measure_id,
        to=body.to,
        conduct=body.conduct,
        receiving_body=body.receiving_body,
        case_reference=body.case_reference,
        today=today(request),
    )
    return await _act(response, app_of(request).transfer, command, caller(request, principal, body))


@router.post("/v1/decisions/{measure_id}/joint-liability")
async def joint_liability(
    measure_id: UUID, body: JointLiability, request: Request, response: Response, principal: Admin
) -> dict[str, Any]:
    """Record the superior department's joint liability (连带责任) for the failed rectification the decision cites."""
    command = RecordJointLiability(
        measure_id=measure_id, superior_department=body.superior_department, reason=body.reason, today=today(request)
    )
    return await _act(response, app_of(request).record_joint_liability, command, caller(request, principal, body))


# --- commendations (表彰) -----------------------------------------------------------------------------------------


@router.post("/v1/commendations", status_code=201)
async def commend(body: CommendationCreate, request: Request, response: Response, principal: Admin) -> dict[str, Any]:
    """Commend a unit and its people; a leader restricted by a circular is refused (409 leader_restricted)."""
    unit, day = await _unit(request, principal, body), today(request)
    async with request.app.state.pool.acquire() as conn:
        barred = await restricted_names(conn, unit_id=body.unit_id, today=day)
    command = Commend(
        unit=unit,
        people=[p.model_dump() for p in body.people],
        reason=body.reason,
        activity_id=body.activity_id,
        today=day,
        restricted=frozenset(barred),
    )
    who = caller(request, principal, body, creates="commendations")
    return await _create(response, "commendations", app_of(request).commend, command, who)


# --- publication, the same for circulars, decisions and commendations ---------------------------------------------


def _register_publish(kind: str) -> None:
    async def publish(
        measure_id: UUID, body: Publication, request: Request, response: Response, principal: Admin
    ) -> dict[str, Any]:
        command = PublishOutcome(
            kind=KINDS[kind][1], measure_id=measure_id, public_text=body.public_text, today=today(request)
        )
        return await _act(response, app_of(request).publish_outcome, command, caller(request, principal, body))

    publish.__doc__ = (
        f"Publish the outcome (shown at `GET /v1/public/outcomes`); afterwards the {kind[:-1]} is closed. Publishing"
        " again corrects it: a new public version, the public sees the latest, the audit keeps every one."
    )
    router.add_api_route(f"/v1/{kind}/{{measure_id}}/publish", publish, methods=["POST"], name=f"publish_{kind}")


for _kind in ("circulars", "decisions", "commendations"):
    _register_publish(_kind)
