"""Inspector routes: nominate, profile, lifecycle, training, assessment, ties; reads and the training gap."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field

from dudao import jurisdiction
from dudao.auth import Principal as Caller
from dudao.errors import NotFound
from dudao.routes import current_division, today
from dudao.scope import Target, authorize, check_scope
from dudao.service import command_envelope, decode_cursor, expected_version, new_aggregate_id, page_cursor, set_etag
from services.registry.api.common import (
    Admin,
    JurisdictionCode,
    Name,
    OfficeReader,
    PageSize,
    Reader,
    Strict,
    Text,
    in_scope,
    now,
    registry,
    scope,
)
from services.registry.api.personal import PersonalWrite
from services.registry.domain import (
    Employment,
    ExitReason,
    Focus,
    Grade,
    Inspector,
    InspectorRole,
    Stage,
    Status,
    TieKind,
    TrainingKind,
)
from services.registry.projections import directory

Contact = Annotated[str, Field(max_length=200)]


class InspectorCreate(Strict):
    name: Name
    jurisdiction: JurisdictionCode
    employment: Employment
    roles: list[InspectorRole] = Field(default_factory=list, max_length=6)
    focus: Focus = Focus.schools
    stages: list[Stage] = Field(default_factory=list, max_length=9)
    subjects: list[Name] = Field(default_factory=list, max_length=50)
    public_contact: Contact | None = None


class InspectorImport(InspectorCreate):
    """An inspector as an office's own list has it, keyed by the office's inspector number (督学编号), with their
    private details if the list has them (sealed before they are recorded, decision 019)."""

    personal: PersonalWrite | None = None


class InspectorUpdate(Strict):
    """Name and employment always; a profile field left out keeps its value."""

    name: Name
    employment: Employment
    roles: list[InspectorRole] | None = Field(default=None, max_length=6)
    focus: Focus | None = None
    stages: list[Stage] | None = Field(default=None, max_length=9)
    subjects: list[Name] | None = Field(default=None, max_length=50)
    public_contact: Contact | None = None


class Appointment(Strict):
    term_no: int = Field(ge=1, le=1000)
    term_start: date
    term_end: date


class Filing(Strict):
    filed_with: JurisdictionCode
    filed_on: date


class Dated(Strict):
    on: date


class Suspension(Strict):
    reason: Name
    on: date


class Exit(Strict):
    reason: ExitReason
    on: date
    note: Text = ""


class TrainingCreate(Strict):
    kind: TrainingKind
    title: Name
    hours: float = Field(gt=0, le=1000)
    completed_on: date


class AssessmentCreate(Strict):
    year: int = Field(ge=2000, le=2100)
    grade: Grade


class TieCreate(Strict):
    unit_id: Name
    kind: TieKind
    note: Text = ""


class TieWithdrawal(Strict):
    reason: Name


class Training(BaseModel):
    kind: TrainingKind
    title: str
    hours: float
    completed_on: date
    term_no: int | None


class Assessment(BaseModel):
    year: int
    grade: Grade


class Tie(BaseModel):
    unit_id: str
    kind: TieKind


class Term(BaseModel):
    term_no: int
    term_start: date
    term_end: date


class InspectorRead(BaseModel):
    id: UUID
    name: str
    jurisdiction: str
    jurisdiction_name: str
    employment: Employment
    employment_label_zh: str
    status: Status
    status_label_zh: str
    roles: list[InspectorRole]
    focus: Focus
    stages: list[Stage]
    subjects: list[str]
    public_contact: str | None
    term: Term | None
    filed_with: str | None
    exit_reason: ExitReason | None
    exit_review_open: bool
    version: int

    @classmethod
    def of(cls, source: dict[str, Any] | Inspector) -> InspectorRead:
        row = _row_of(source) if isinstance(source, Inspector) else source
        employment, status = Employment(row["employment"]), Status(row["status"])
        term = (
            Term(term_no=row["term_no"], term_start=row["term_start"], term_end=row["term_end"])
            if row.get("term_no")
            else None
        )
        return cls(
            id=row["id"],
            name=row["name"],
            jurisdiction=row["jurisdiction"],
            jurisdiction_name=jurisdiction.name_of(row["jurisdiction"]),
            employment=employment,
            employment_label_zh=employment.label_zh,
            status=status,
            status_label_zh=status.label_zh,
            roles=row.get("roles") or [],
            focus=row.get("focus") or Focus.schools,
            stages=row.get("stages") or [],
            subjects=row.get("subjects") or [],
            public_contact=row.get("public_contact"),
            term=term,
            filed_with=row.get("filed_with"),
            exit_reason=row.get("exit_reason"),
            exit_review_open=bool(row.get("exit_review_open")),
            version=row["version"],
        )


def _row_of(inspector: Inspector) -> dict[str, Any]:
    term = inspector.term or {}
    return {
        "id": inspector.id,
        "name": inspector.name,
        "jurisdiction": inspector.jurisdiction,
        "employment": inspector.employment,
        "status": inspector.status,
        "roles": inspector.roles,
        "focus": inspector.focus,
        "stages": inspector.stages,
        "subjects": inspector.subjects,
        "public_contact": inspector.public_contact,
        "term_no": term.get("term_no"),
        "term_start": term.get("term_start"),
        "term_end": term.get("term_end"),
        "filed_with": inspector.filed_with,
        "exit_reason": inspector.exit_reason,
        "exit_review_open": inspector.exit_review_open,
        "version": inspector.version,
    }


class InspectorDetail(InspectorRead):
    trainings: list[Training]
    assessments: list[Assessment]
    ties: list[Tie]


class InspectorPage(BaseModel):
    items: list[InspectorRead]
    next_cursor: str | None


class TrainingGap(BaseModel):
    inspector: InspectorRead
    missing: list[TrainingKind]


router = APIRouter(prefix="/v1/inspectors", tags=["inspectors"])


def _act(
    request: Request,
    response: Response,
    caller: Caller,
    inspector_id: UUID,
    body: BaseModel,
    command: Callable[[Inspector], None],
) -> InspectorRead:
    """Apply one command to an inspector on behalf of `caller`; the new version is the ETag."""
    inspector = registry(request).on_inspector(
        inspector_id, expected_version(request), command_envelope(request, caller, body), in_scope(caller), command
    )
    set_etag(response, inspector.version)
    return InspectorRead.of(inspector)


@router.post("", status_code=201, response_model=InspectorRead)
def nominate_inspector(body: InspectorCreate, request: Request, response: Response, principal: Admin) -> InspectorRead:
    """Enter a nominee (提名) in the registry; appointment, filing and activation follow."""
    check_scope(principal, body.jurisdiction)
    current_division(request, body.jurisdiction)
    inspector = registry(request).nominate_inspector(
        inspector_id=new_aggregate_id(request, principal, "inspector"),
        name=body.name,
        jurisdiction=body.jurisdiction,
        employment=body.employment,
        now=now(request),
        envelope=command_envelope(request, principal, body),
        roles=body.roles,
        focus=body.focus,
        stages=body.stages,
        subjects=body.subjects,
        public_contact=body.public_contact,
    )
    set_etag(response, inspector.version)
    response.headers["Location"] = f"/v1/inspectors/{inspector.id}"
    return InspectorRead.of(inspector)


@router.put("/by-number/{number}", response_model=InspectorRead, responses={201: {"model": InspectorRead}})
def import_inspector(
    number: Annotated[str, Path(pattern=r"^[0-9A-Za-z_-]{1,40}$")],
    body: InspectorImport,
    request: Request,
    response: Response,
    principal: Admin,
) -> InspectorRead:
    """Nominate or bring up to date the inspector with this office number (督学编号); a repeat changes nothing."""
    inspector, created = registry(request).import_inspector(
        number=number,
        name=body.name,
        jurisdiction=body.jurisdiction,
        employment=body.employment,
        roles=body.roles,
        focus=body.focus,
        stages=body.stages,
        subjects=body.subjects,
        public_contact=body.public_contact,
        now=now(request),
        envelope=command_envelope(request, principal, body.model_copy(update={"personal": None})),
        authorize=in_scope(principal),
        personal=body.personal.model_dump(exclude_none=True) if body.personal else None,
    )
    set_etag(response, inspector.version)
    response.status_code = 201 if created else 200
    return InspectorRead.of(inspector)


@router.put("/{inspector_id}", response_model=InspectorRead)
def update_inspector(
    inspector_id: UUID, body: InspectorUpdate, request: Request, response: Response, principal: Admin
) -> InspectorRead:
    inspector = registry(request).update_inspector(
        inspector_id,
        name=body.name,
        employment=body.employment,
        now=now(request),
        expected_version=expected_version(request),
        envelope=command_envelope(request, principal, body),
        authorize=in_scope(principal),
        roles=body.roles,
        focus=body.focus,
        stages=body.stages,
        subjects=body.subjects,
        public_contact=body.public_contact,
    )
    set_etag(response, inspector.version)
    return InspectorRead.of(inspector)


@router.post("/{inspector_id}/appointment", response_model=InspectorRead)
def appoint(inspector_id: UUID, body: Appointment, request: Request, response: Response, principal: Admin):
    """Appoint (聘任) a nominee for a numbered term (第N届)."""
    return _act(request, response, principal, inspector_id, body, lambda i: i.appoint(**body.model_dump()))


@router.post("/{inspector_id}/filing", response_model=InspectorRead)
def file_upward(inspector_id: UUID, body: Filing, request: Request, response: Response, principal: Admin):
    """File (备案) the appointment with the body one level up."""
    inspector = registry(request).file_inspector(
        inspector_id,
        filed_with=body.filed_with,
        filed_on=body.filed_on,
        today=today(request),
        expected_version=expected_version(request),
        envelope=command_envelope(request, principal, body),
        authorize=in_scope(principal),
    )
    set_etag(response, inspector.version)
    return InspectorRead.of(inspector)


@router.post("/{inspector_id}/activation", response_model=InspectorRead)
def activate(inspector_id: UUID, body: Dated, request: Request, response: Response, principal: Admin):
    return _act(
        request, response, principal, inspector_id, body, lambda i: i.activate(on=body.on, today=today(request))
    )


@router.post("/{inspector_id}/suspension", response_model=InspectorRead)
def suspend(inspector_id: UUID, body: Suspension, request: Request, response: Response, principal: Admin):
    return _act(
        request,
        response,
        principal,
        inspector_id,
        body,
        lambda i: i.suspend(reason=body.reason, on=body.on, today=today(request)),
    )


@router.post("/{inspector_id}/reinstatement", response_model=InspectorRead)
def reinstate(inspector_id: UUID, body: Dated, request: Request, response: Response, principal: Admin):
    return _act(
        request, response, principal, inspector_id, body, lambda i: i.reinstate(on=body.on, today=today(request))
    )


@router.post("/{inspector_id}/term-renewal", response_model=InspectorRead)
def renew_term(inspector_id: UUID, body: Appointment, request: Request, response: Response, principal: Admin):
    """Re-appoint for the next term (换届续聘)."""
    return _act(request, response, principal, inspector_id, body, lambda i: i.renew_term(**body.model_dump()))


@router.post("/{inspector_id}/exit", response_model=InspectorRead)
def exit_inspector(inspector_id: UUID, body: Exit, request: Request, response: Response, principal: Admin):
    """Exit (退出): term ended, resigned, or dismissed (解聘) for one of the causes in the closed list."""
    return _act(
        request,
        response,
        principal,
        inspector_id,
        body,
        lambda i: i.exit(reason=body.reason, on=body.on, note=body.note, today=today(request)),
    )


@router.post("/{inspector_id}/trainings", response_model=InspectorRead)
def record_training(inspector_id: UUID, body: TrainingCreate, request: Request, response: Response, principal: Admin):
    return _act(
        request,
        response,
        principal,
        inspector_id,
        body,
        lambda i: i.record_training(**body.model_dump(), today=today(request)),
    )


@router.post("/{inspector_id}/assessments", response_model=InspectorRead)
def assess(inspector_id: UUID, body: AssessmentCreate, request: Request, response: Response, principal: Admin):
    """The annual assessment (实绩考核); unqualified opens an exit review."""
    return _act(request, response, principal, inspector_id, body, lambda i: i.assess(year=body.year, grade=body.grade))


@router.post("/{inspector_id}/ties", response_model=InspectorRead)
def declare_tie(inspector_id: UUID, body: TieCreate, request: Request, response: Response, principal: Admin):
    """Declare a tie to a unit (回避): the inspector will never be assigned to inspect it."""
    return _act(request, response, principal, inspector_id, body, lambda i: i.declare_tie(**body.model_dump()))


@router.post("/{inspector_id}/ties/{unit_id}/withdrawal", response_model=InspectorRead)
def withdraw_tie(
    inspector_id: UUID, unit_id: str, body: TieWithdrawal, request: Request, response: Response, principal: Admin
):
    return _act(
        request, response, principal, inspector_id, body, lambda i: i.withdraw_tie(unit_id=unit_id, reason=body.reason)
    )


@router.get("/missing-training", response_model=list[TrainingGap])
async def missing_training(
    request: Request, principal: OfficeReader, jurisdiction: str | None = None
) -> list[TrainingGap]:
    """Serving inspectors without a pre-service training, or without an in-service training this term."""
    within = scope(principal, jurisdiction)
    async with request.app.state.pool.acquire() as conn:
        rows = await directory.inspectors_missing_training(conn, within=within)
    return [
        TrainingGap(
            inspector=InspectorRead.of(r),
            missing=[
                k
                for k, gap in (
                    (TrainingKind.pre_service, r["missing_pre_service"]),
                    (TrainingKind.in_service, r["missing_in_service"]),
                )
                if gap
            ],
        )
        for r in rows
    ]


@router.get("/{inspector_id}", response_model=InspectorDetail)
async def read_inspector(
    inspector_id: UUID, request: Request, response: Response, principal: Reader
) -> InspectorDetail:
    async with request.app.state.pool.acquire() as conn:
        rows = await directory.inspectors_by_id(conn, [str(inspector_id)])
        if not rows:
            raise NotFound(f"no inspector with id {inspector_id}", field="inspector_id")
        # An office over the inspector's place, or the inspector themself (a record with assessments is not a colleague's).
        authorize(
            principal,
            Target(rows[0]["jurisdiction"], team=frozenset({str(inspector_id)})),
            (),
            write=False,
            field="inspector_id",
        )
        records = (await directory.inspector_records(conn, [str(inspector_id)]))[str(inspector_id)]
    set_etag(response, rows[0]["version"])
    return InspectorDetail(**InspectorRead.of(rows[0]).model_dump(), **records)


@router.get("", response_model=InspectorPage)
async def list_inspectors(
    request: Request,
    principal: OfficeReader,
    jurisdiction: str | None = None,
    employment: Employment | None = None,
    status: Status | None = None,
    role: InspectorRole | None = None,
    cursor: str | None = None,
    limit: PageSize = 50,
) -> InspectorPage:
    within, after = scope(principal, jurisdiction), decode_cursor(cursor)
    async with request.app.state.pool.acquire() as conn:
        rows = await directory.inspector_page(
            conn, within=within, employment=employment, status=status, role=role, after=after, limit=limit
        )
    return InspectorPage(items=[InspectorRead.of(r) for r in rows], next_cursor=page_cursor(rows, limit))
