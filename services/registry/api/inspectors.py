"""Inspector routes: nominate, profile, lifecycle, training, assessment, ties; reads and the training gap."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field

from dudao import jurisdiction
from dudao.cursors import decode_cursor, page_cursor
from dudao.errors import NotFound
from dudao.routes import caller, current_division, set_etag, today
from dudao.scope import Target, authorize, check_scope
from services.registry.api.common import (
    Admin,
    JurisdictionCode,
    Name,
    OfficeReader,
    PageSize,
    Reader,
    Strict,
    Text,
    now,
    registry,
    scope,
)
from services.registry.api.personal import PersonalWrite
from services.registry.commands import (
    Activate,
    Appoint,
    Assess,
    DeclareTie,
    ExitInspector,
    FileInspector,
    ImportInspector,
    NominateInspector,
    RecordTraining,
    Reinstate,
    RenewTerm,
    Suspend,
    UpdateInspector,
    WithdrawTie,
)
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


def _written(response: Response, inspector: Inspector) -> InspectorRead:
    set_etag(response, inspector.version)
    return InspectorRead.of(inspector)


@router.post("", status_code=201, response_model=InspectorRead)
def nominate_inspector(body: InspectorCreate, request: Request, response: Response, principal: Admin) -> InspectorRead:
    """Enter a nominee (提名) in the registry; appointment, filing and activation follow."""
    check_scope(principal, body.jurisdiction)  # whose place it is comes first, then whether the division is current
    current_division(request, body.jurisdiction)
    command = NominateInspector(**body.model_dump(), now=now(request))
    inspector = registry(request).nominate_inspector(command, caller(request, principal, body, creates="inspector"))
    response.headers["Location"] = f"/v1/inspectors/{inspector.id}"
    return _written(response, inspector)


@router.put("/by-number/{number}", response_model=InspectorRead, responses={201: {"model": InspectorRead}})
def import_inspector(
    number: Annotated[str, Path(pattern=r"^[0-9A-Za-z_-]{1,40}$")],
    body: InspectorImport,
    request: Request,
    response: Response,
    principal: Admin,
) -> InspectorRead:
    """Nominate or bring up to date the inspector with this office number (督学编号); a repeat changes nothing."""
    command = ImportInspector(
        number=number,
        **body.model_dump(exclude={"personal"}),
        now=now(request),
        personal=body.personal.model_dump(exclude_none=True) if body.personal else None,
    )
    # The request hash leaves the plain private details out; the application folds in the sealed ones (decision 019).
    who = caller(request, principal, body.model_copy(update={"personal": None}))
    inspector, created = registry(request).import_inspector(command, who)
    response.status_code = 201 if created else 200
    return _written(response, inspector)


@router.put("/{inspector_id}", response_model=InspectorRead)
def update_inspector(
    inspector_id: UUID, body: InspectorUpdate, request: Request, response: Response, principal: Admin
) -> InspectorRead:
    command = UpdateInspector(inspector_id=inspector_id, **body.model_dump(), now=now(request))
    return _written(response, registry(request).update_inspector(command, caller(request, principal, body)))


@router.post("/{inspector_id}/appointment", response_model=InspectorRead)
def appoint(inspector_id: UUID, body: Appointment, request: Request, response: Response, principal: Admin):
    """Appoint (聘任) a nominee for a numbered term (第N届)."""
    command = Appoint(inspector_id=inspector_id, **body.model_dump())
    return _written(response, registry(request).appoint(command, caller(request, principal, body)))


@router.post("/{inspector_id}/filing", response_model=InspectorRead)
def file_upward(inspector_id: UUID, body: Filing, request: Request, response: Response, principal: Admin):
    """File (备案) the appointment with the body one level up."""
    command = FileInspector(inspector_id=inspector_id, **body.model_dump(), today=today(request))
    return _written(response, registry(request).file_inspector(command, caller(request, principal, body)))


@router.post("/{inspector_id}/activation", response_model=InspectorRead)
def activate(inspector_id: UUID, body: Dated, request: Request, response: Response, principal: Admin):
    command = Activate(inspector_id=inspector_id, on=body.on, today=today(request))
    return _written(response, registry(request).activate(command, caller(request, principal, body)))


@router.post("/{inspector_id}/suspension", response_model=InspectorRead)
def suspend(inspector_id: UUID, body: Suspension, request: Request, response: Response, principal: Admin):
    command = Suspend(inspector_id=inspector_id, reason=body.reason, on=body.on, today=today(request))
    return _written(response, registry(request).suspend(command, caller(request, principal, body)))


@router.post("/{inspector_id}/reinstatement", response_model=InspectorRead)
def reinstate(inspector_id: UUID, body: Dated, request: Request, response: Response, principal: Admin):
    command = Reinstate(inspector_id=inspector_id, on=body.on, today=today(request))
    return _written(response, registry(request).reinstate(command, caller(request, principal, body)))


@router.post("/{inspector_id}/term-renewal", response_model=InspectorRead)
def renew_term(inspector_id: UUID, body: Appointment, request: Request, response: Response, principal: Admin):
    """Re-appoint for the next term (换届续聘)."""
    command = RenewTerm(inspector_id=inspector_id, **body.model_dump())
    return _written(response, registry(request).renew_term(command, caller(request, principal, body)))


@router.post("/{inspector_id}/exit", response_model=InspectorRead)
def exit_inspector(inspector_id: UUID, body: Exit, request: Request, response: Response, principal: Admin):
    """Exit (退出): term ended, resigned, or dismissed (解聘) for one of the causes in the closed list."""
    command = ExitInspector(inspector_id=inspector_id, **body.model_dump(), today=today(request))
    return _written(response, registry(request).exit_inspector(command, caller(request, principal, body)))


@router.post("/{inspector_id}/trainings", response_model=InspectorRead)
def record_training(inspector_id: UUID, body: TrainingCreate, request: Request, response: Response, principal: Admin):
    command = RecordTraining(inspector_id=inspector_id, **body.model_dump(), today=today(request))
    return _written(response, registry(request).record_training(command, caller(request, principal, body)))


@router.post("/{inspector_id}/assessments", response_model=InspectorRead)
def assess(inspector_id: UUID, body: AssessmentCreate, request: Request, response: Response, principal: Admin):
    """The annual assessment (实绩考核); unqualified opens an exit review."""
    command = Assess(inspector_id=inspector_id, year=body.year, grade=body.grade)
    return _written(response, registry(request).assess(command, caller(request, principal, body)))


@router.post("/{inspector_id}/ties", response_model=InspectorRead)
def declare_tie(inspector_id: UUID, body: TieCreate, request: Request, response: Response, principal: Admin):
    """Declare a tie to a unit (回避): the inspector will never be assigned to inspect it."""
    command = DeclareTie(inspector_id=inspector_id, **body.model_dump())
    return _written(response, registry(request).declare_tie(command, caller(request, principal, body)))


@router.post("/{inspector_id}/ties/{unit_id}/withdrawal", response_model=InspectorRead)
def withdraw_tie(
    inspector_id: UUID, unit_id: str, body: TieWithdrawal, request: Request, response: Response, principal: Admin
):
    command = WithdrawTie(inspector_id=inspector_id, unit_id=unit_id, reason=body.reason)
    return _written(response, registry(request).withdraw_tie(command, caller(request, principal, body)))


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
