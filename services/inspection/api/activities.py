"""Activity routes: plan (with frequency control), team (with recusal), notice, site visit, findings, report."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any, TypeVar
from urllib.parse import quote
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Request, Response
from fastapi import Path as FastAPIPath
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from dudao import jurisdiction as divisions
from dudao import scope
from dudao.auth import Principal, Role, require
from dudao.commands import Caller
from dudao.cursors import decode_cursor, page_cursor
from dudao.errors import InvalidInput, NotFound
from dudao.routes import OfficeReader, Reader, caller, set_etag, today  # noqa: F401 (plans and visits import them from here)
from dudao.scope import Target, check_scope
from services.inspection.application import TEAM_OR_ADMIN, Inspection, activity_target
from services.inspection.commands import (
    ApproveReport,
    AssignTeam,
    DraftReport,
    IssueReport,
    LogEvidenceOpened,
    PlanActivity,
    Publish,
    RecordFindings,
    RecordMemberUnits,
    SendNotice,
    StartOnSite,
    SubmitSelfEvaluation,
)
from services.inspection.domain.activity import (
    Activity,
    ActivityKind,
    FindingArea,
    Severity,
    SpecialTopic,
    TargetKind,
)
from services.inspection.projections import activities, registry_copy

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]
Admin = Annotated[Principal, Depends(require(Role.admin))]
UnitOrAdmin = Annotated[
    Principal, Depends(require(Role.unit, Role.admin, target="activity by id: the unit it supervises"))
]
TeamOrAdmin = Annotated[Principal, Depends(require(*TEAM_OR_ADMIN, target="activity by id: its team"))]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ActivityCreate(Strict):
    jurisdiction: Annotated[str, StringConstraints(pattern=r"^\d{6}$")]
    kind: ActivityKind
    title: Name
    target_kind: TargetKind
    target_id: Name
    target_name: Name
    period: Annotated[str, StringConstraints(pattern=r"^\d{4}-(spring|fall)$")]
    planned_month: Annotated[str, StringConstraints(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
    topic: SpecialTopic | None = None
    plan_id: Name | None = None
    frequency_override: Text | None = Field(default=None, description="an admin's reason to exceed the visit limit")
    draw_id: UUID | None = Field(
        default=None, description="the performed draw (双随机) that picked this school; its team then binds"
    )


class TeamAssignment(Strict):
    leader_id: UUID
    member_ids: list[UUID] = Field(default_factory=list, max_length=30)
    deviation_reason: Text | None = Field(
        default=None, description="for an activity from a draw: an admin's reason to assign other than the drawn team"
    )


class Notice(Strict):
    notified_on: date


class OnSite(Strict):
    on: date


class FindingCreate(Strict):
    area: FindingArea
    severity: Severity
    description: Text
    evidence: Text = ""
    rule_broken: Text = ""
    needs_rectification: bool
    looks_illegal: bool = False


class Findings(Strict):
    findings: list[FindingCreate] = Field(min_length=1, max_length=200)


class EvidenceFile(Strict):
    name: Name
    media_type: Name
    content_base64: str = Field(description="the file's bytes, base64-encoded")


class ScoredItem(Strict):
    item: Name
    score: float = Field(ge=0, le=100)
    comment: Text = ""


class SelfEvaluation(Strict):
    """The unit's self-evaluation (自查自评): a score per item and the evidence files it rests on."""

    items: list[ScoredItem] = Field(min_length=1, max_length=200)
    evidence: list[EvidenceFile] = Field(default_factory=list, max_length=50)


class MemberUnits(Strict):
    unit_names: list[Name] = Field(min_length=1, max_length=50)
    year: int = Field(ge=2000, le=2100)


class ReportDraft(Strict):
    summary: Text
    score: float | None = Field(
        default=None, ge=0, le=100, description="duty evaluations: the grade follows from the profile's bands"
    )


class ReportIssue(Strict):
    issued_on: date


class Publication(Strict):
    public_summary: Text


class ActivityRead(BaseModel):
    id: UUID
    jurisdiction: str
    kind: ActivityKind
    kind_label_zh: str
    topic: str | None
    title: str
    target_kind: str
    target_id: str
    target_name: str
    period: str
    planned_month: str
    source: str
    status: str
    leader_id: UUID | None
    member_ids: list[UUID]
    findings: list[dict[str, Any]]
    version: int

    @classmethod
    def of(cls, source: dict[str, Any] | Activity) -> ActivityRead:
        if isinstance(source, Activity):
            team = source.team or {}
            row = {
                k: getattr(source, k)
                for k in (
                    "jurisdiction",
                    "kind",
                    "topic",
                    "title",
                    "target_kind",
                    "target_id",
                    "target_name",
                    "period",
                    "planned_month",
                    "source",
                    "status",
                    "version",
                )
            }
            row |= {
                "id": source.id,
                "leader_id": team.get("leader_id"),
                "member_ids": team.get("member_ids", []),
                "findings": source.findings,
            }
        else:
            row = source
        kind = ActivityKind(row["kind"])
        return cls(
            **{k: row[k] for k in cls.model_fields if k in row and k != "kind_label_zh"}, kind_label_zh=kind.label_zh
        )


class ActivityPage(BaseModel):
    items: list[ActivityRead]
    next_cursor: str | None


router = APIRouter(prefix="/v1", tags=["activities"])
C = TypeVar("C")


def _app(request: Request) -> Inspection:
    return request.app.state.application


def _now(request: Request) -> datetime:
    """The service clock's time (tests set it)."""
    return request.app.state.clock.now()


async def check_target(request: Request, body: ActivityCreate) -> None:
    """What is supervised exists and lies in the activity's place: a school of the registry, a government below."""
    if body.target_kind is TargetKind.school:
        async with request.app.state.pool.acquire() as conn:
            school = await registry_copy.school(conn, body.target_id)
        if school is None:
            raise InvalidInput(
                f"no school {body.target_id} is in the registry (one registered a moment ago arrives within seconds)",
                field="target_id",
                rule="unknown_school",
            )
        where = school["jurisdiction"]
    elif body.target_kind is TargetKind.government:
        if not divisions.is_valid_code(body.target_id):
            raise InvalidInput(
                f"a government is named by its division code, not {body.target_id!r}",
                field="target_id",
                rule="code_format",
            )
        where = body.target_id
    else:
        return  # a department of the activity's own government, named as the office names it
    if not divisions.contains(body.jurisdiction, where):
        raise InvalidInput(
            f"{body.target_name} ({where}) lies outside {body.jurisdiction}, the activity's jurisdiction",
            field="target_id",
            rule="target_outside_jurisdiction",
            target_jurisdiction=where,
        )


@router.post("/activities", status_code=201, response_model=ActivityRead)
async def plan_activity(body: ActivityCreate, request: Request, response: Response, principal: Admin) -> ActivityRead:
    """Put a supervision activity on the calendar; frequency control applies to school visits (002 §7)."""
    check_scope(principal, body.jurisdiction)  # whose place it is comes first, before the target is looked up
    await check_target(request, body)
    earlier = 0
    if body.target_kind is TargetKind.school:
        async with request.app.state.pool.acquire() as conn:
            earlier = await activities.visits_in_period(conn, target_id=body.target_id, period=body.period)
    command = PlanActivity(**body.model_dump(), earlier=earlier, now=_now(request))
    who = caller(request, principal, body, creates="activity")
    activity = await asyncio.to_thread(_app(request).plan_activity, command, who)
    response.headers["Location"] = f"/v1/activities/{activity.id}"
    return _answer(response, activity)


async def _act(response: Response, method: Callable[[C, Caller], Activity], command: C, who: Caller) -> ActivityRead:
    """Run the application's method for the command; answer the activity and its ETag."""
    return _answer(response, await asyncio.to_thread(method, command, who))


def _answer(response: Response, activity: Activity) -> ActivityRead:
    set_etag(response, activity.version)
    return ActivityRead.of(activity)


@router.post("/activities/{activity_id}/team", response_model=ActivityRead)
async def assign_team(activity_id: UUID, body: TeamAssignment, request: Request, response: Response, principal: Admin):
    """Name the team (督导组) by hand; recusal (回避) is enforced exactly as for a drawn team."""
    members = [str(m) for m in body.member_ids]
    async with request.app.state.pool.acquire() as conn:
        ties = await registry_copy.ties_of(conn, list({str(body.leader_id), *members}))
        inspectors = await registry_copy.inspectors_by_id(conn, list({str(body.leader_id), *members}))
    command = AssignTeam(
        activity_id=activity_id,
        leader_id=str(body.leader_id),
        member_ids=members,
        deviation_reason=body.deviation_reason,
        ties=ties,
        inspectors=inspectors,
        now=_now(request),
    )
    return await _act(response, _app(request).assign_team, command, caller(request, principal, body))


@router.post("/activities/{activity_id}/notice", response_model=ActivityRead)
async def notify(activity_id: UUID, body: Notice, request: Request, response: Response, principal: Admin):
    command = SendNotice(activity_id=activity_id, notified_on=body.notified_on, today=today(request))
    return await _act(response, _app(request).send_notice, command, caller(request, principal, body))


@router.post("/activities/{activity_id}/self-evaluation", response_model=ActivityRead)
async def submit_self_evaluation(
    activity_id: UUID, body: SelfEvaluation, request: Request, response: Response, principal: UnitOrAdmin
) -> ActivityRead:
    """The supervised unit (role `unit`) submits its self-evaluation; evidence goes to the blob store, its digest to the event."""
    command = SubmitSelfEvaluation(
        activity_id=activity_id,
        items=[i.model_dump() for i in body.items],
        evidence=body.evidence,
        now=_now(request),
    )
    return await _act(response, _app(request).submit_self_evaluation, command, caller(request, principal, body))


@router.post("/activities/{activity_id}/member-units", response_model=ActivityRead)
async def record_member_units(
    activity_id: UUID, body: MemberUnits, request: Request, response: Response, principal: Admin
):
    """Committee member units that took part (成员单位参与); the registry counts them toward each unit's yearly minimum."""
    command = RecordMemberUnits(activity_id=activity_id, unit_names=body.unit_names, year=body.year)
    return await _act(response, _app(request).record_member_units, command, caller(request, principal, body))


@router.post("/activities/{activity_id}/on-site", response_model=ActivityRead)
async def start_on_site(activity_id: UUID, body: OnSite, request: Request, response: Response, principal: TeamOrAdmin):
    """The team arrives on site (实地督导); the office or an inspector on the team records it."""
    command = StartOnSite(activity_id=activity_id, on=body.on, today=today(request))
    return await _act(response, _app(request).start_on_site, command, caller(request, principal, body))


@router.post("/activities/{activity_id}/findings", response_model=ActivityRead)
async def record_findings(
    activity_id: UUID, body: Findings, request: Request, response: Response, principal: TeamOrAdmin
):
    """Record problems found (督导发现的问题), each with area, severity and whether it needs rectification; the office
    or an inspector on the activity's team records them."""
    findings = [{"finding_id": str(uuid4())} | f.model_dump() for f in body.findings]
    command = RecordFindings(activity_id=activity_id, findings=findings, now=_now(request))
    return await _act(response, _app(request).record_findings, command, caller(request, principal, body))


@router.post("/activities/{activity_id}/report/draft", response_model=ActivityRead)
async def draft_report(activity_id: UUID, body: ReportDraft, request: Request, response: Response, principal: Admin):
    """Draft the report; a duty evaluation's score becomes a grade by the bands of the place's policy profile."""
    command = DraftReport(activity_id=activity_id, summary=body.summary, score=body.score, now=_now(request))
    return await _act(response, _app(request).draft_report, command, caller(request, principal, body))


@router.post("/activities/{activity_id}/report/approval", response_model=ActivityRead)
async def approve_report(activity_id: UUID, request: Request, response: Response, principal: Admin):
    command = ApproveReport(activity_id=activity_id, now=_now(request))
    return await _act(response, _app(request).approve_report, command, caller(request, principal))


@router.post("/activities/{activity_id}/report/issue", response_model=ActivityRead)
async def issue_report(activity_id: UUID, body: ReportIssue, request: Request, response: Response, principal: Admin):
    """Issue the report to the supervised unit (印发督导报告): this starts rectification in accountability."""
    command = IssueReport(activity_id=activity_id, issued_on=body.issued_on, now=_now(request))
    return await _act(response, _app(request).issue_report, command, caller(request, principal, body))


@router.post("/activities/{activity_id}/publication", response_model=ActivityRead)
async def publish(activity_id: UUID, body: Publication, request: Request, response: Response, principal: Admin):
    command = Publish(activity_id=activity_id, public_summary=body.public_summary, now=_now(request))
    return await _act(response, _app(request).publish, command, caller(request, principal, body))


@router.get("/activities/{activity_id}", response_model=ActivityRead)
async def read_activity(activity_id: UUID, request: Request, response: Response, principal: Reader) -> ActivityRead:
    async with request.app.state.pool.acquire() as conn:
        rows = await activities.activities_by_id(conn, [str(activity_id)])
    if not rows:
        raise NotFound(f"no activity with id {activity_id}", field="activity_id")
    row = rows[0]
    team = frozenset(str(m) for m in [row["leader_id"], *row["member_ids"]] if m)
    scope.authorize(
        principal, Target(row["jurisdiction"], unit=row["target_id"], team=team), (), write=False, field="activity_id"
    )
    set_etag(response, rows[0]["version"])
    return ActivityRead.of(rows[0])


class EvidenceRead(BaseModel):
    name: str
    sha256: str
    size: int
    media_type: str
    href: str = Field(description="where to download it (recorded in the audit)")


class SelfEvaluationRead(BaseModel):
    activity_id: UUID
    items: list[dict[str, Any]]
    evidence: list[EvidenceRead]
    submitted_by: str
    submitted_at: datetime


def _readable(request: Request, principal: Principal, activity_id: UUID) -> Activity:
    """The activity, for a caller who may read it: the office over its unit, an inspector on its team, the unit."""
    activity = _app(request).get(activity_id, Activity)
    scope.authorize(principal, activity_target(activity), (), write=False, field="activity_id")
    if activity.self_evaluation is None:
        raise NotFound(
            f"activity {activity_id} has no self-evaluation yet", field="activity_id", rule="no_self_evaluation"
        )
    return activity


@router.get("/activities/{activity_id}/self-evaluation", response_model=SelfEvaluationRead)
def read_self_evaluation(activity_id: UUID, request: Request, principal: Reader) -> SelfEvaluationRead:
    """The unit's self-evaluation (自查自评): its scores and its evidence files, for the inspectors preparing the visit."""
    evaluation = _readable(request, principal, activity_id).self_evaluation or {}
    evidence = [
        EvidenceRead(**e, href=f"/v1/activities/{activity_id}/evidence/{e['sha256']}") for e in evaluation["evidence"]
    ]
    return SelfEvaluationRead(
        activity_id=activity_id,
        items=evaluation["items"],
        evidence=evidence,
        submitted_by=evaluation["submitted_by"],
        submitted_at=evaluation["submitted_at"],
    )


@router.get("/activities/{activity_id}/evidence/{sha256}")
def download_evidence(
    activity_id: UUID,
    sha256: Annotated[str, FastAPIPath(pattern=r"^[0-9a-f]{64}$")],
    request: Request,
    principal: Reader,
) -> Response:
    """One evidence file of the self-evaluation, to whoever may read the activity; each download is recorded."""
    activity = _readable(request, principal, activity_id)
    file = next((e for e in (activity.self_evaluation or {})["evidence"] if e["sha256"] == sha256), None)
    if file is None:
        raise NotFound(f"activity {activity_id} has no evidence file {sha256}", field="sha256", rule="no_such_evidence")
    data = _app(request).blobs.get(sha256)
    opened = LogEvidenceOpened(
        activity_id=activity.id, jurisdiction=activity.jurisdiction, sha256=sha256, name=file["name"], now=_now(request)
    )
    _app(request).log_evidence_opened(opened, caller(request, principal))
    return Response(
        data,
        media_type=file["media_type"],
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(file['name'])}",
            "Cache-Control": "no-store",
        },
    )


@router.get("/activities", response_model=ActivityPage)
async def list_activities(
    request: Request,
    principal: Reader,
    jurisdiction: str | None = None,
    school_id: str | None = None,
    inspector_id: UUID | None = None,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> ActivityPage:
    """Activities by jurisdiction subtree, by school (target) or by inspector (team member)."""
    within = jurisdiction or principal.jur
    if not divisions.is_valid_code(within):
        raise InvalidInput(f"{within!r} is not a division code", field="jurisdiction", rule="code_format")
    check_scope(principal, within)
    school_id = scope.listed_unit(principal, school_id, field="school_id")
    inspector = scope.listed_inspector(principal, str(inspector_id) if inspector_id else None)
    if not 1 <= limit <= 200:
        raise InvalidInput("limit must be between 1 and 200", field="limit", rule="page_size")
    async with request.app.state.pool.acquire() as conn:
        rows = await activities.activity_page(
            conn,
            within=within,
            school_id=school_id,
            inspector_id=inspector,
            status=status,
            after=decode_cursor(cursor),
            limit=limit,
        )
    return ActivityPage(items=[ActivityRead.of(r) for r in rows], next_cursor=page_cursor(rows, limit))
