"""Activity routes: plan (with frequency control), team (with recusal), notice, site visit, findings, report."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Request, Response
from fastapi import Path as FastAPIPath
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from dudao import blobs, scope
from dudao import jurisdiction as divisions
from dudao.auth import Principal, Role, require
from dudao.errors import InvalidInput, NotFound
from dudao.privacy import redact
from dudao.profiles import effective_from_copy
from dudao.routes import OfficeReader, Reader, today  # noqa: F401 (plans and visits import them from here)
from dudao.scope import Target, check_scope
from dudao.service import command_envelope, decode_cursor, expected_version, new_aggregate_id, page_cursor, set_etag
from services.inspection.application import Inspection
from services.inspection.domain.activity import (
    Activity,
    ActivityKind,
    FindingArea,
    Severity,
    SpecialTopic,
    TargetKind,
    grade_for,
)
from services.inspection.domain.draw import Draw
from services.inspection.projections import activities, registry_copy

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]
Admin = Annotated[Principal, Depends(require(Role.admin))]
UnitOrAdmin = Annotated[
    Principal, Depends(require(Role.unit, Role.admin, target="activity by id: the unit it supervises"))
]
TEAM_OR_ADMIN = (Role.admin, Role.inspector)
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


def _app(request: Request) -> Inspection:
    return request.app.state.application


def _now(request: Request) -> datetime:
    """The service clock's time (tests set it)."""
    return request.app.state.clock.now()


def activity_target(activity: Activity) -> Target:
    """An activity as scope sees it: its place, the unit it supervises, and its team (leader and members)."""
    team = activity.team or {}
    members = {str(m) for m in [team.get("leader_id"), *team.get("member_ids", [])] if m}
    return Target(activity.jurisdiction, unit=activity.target_id, team=frozenset(members))


async def _profile(request: Request, code: str):
    async with request.app.state.pool.acquire() as conn:
        return await effective_from_copy(conn, "inspection", code)


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


def from_draw(request: Request, body: ActivityCreate) -> dict[str, Any]:
    """An activity planned from a draw: the draw is performed, in this place, and drew this school; it binds its team."""
    if body.draw_id is None:
        return {}
    draw = _app(request).get(body.draw_id, Draw)
    result = draw.result
    if draw.jurisdiction != body.jurisdiction or result is None or body.target_id not in result.targets:
        why = (
            "is not performed yet"
            if result is None
            else f"did not draw {body.target_name}"
            if draw.jurisdiction == body.jurisdiction
            else f"is {draw.jurisdiction}'s, not {body.jurisdiction}'s"
        )
        raise InvalidInput(f"draw {body.draw_id} {why}", field="draw_id", rule="not_drawn")
    return {"draw_id": str(draw.id), "drawn_team": result.teams[body.target_id]}


async def frequency_limit(request: Request, body: ActivityCreate) -> dict[str, Any]:
    """Frequency control (002 §7): the profile's visits per school per semester, and the read model's count to open
    a semester's count with; the count itself is kept and checked by `Inspection.plan_activity`."""
    if body.target_kind is not TargetKind.school:
        return {}
    profile = await _profile(request, body.jurisdiction)
    async with request.app.state.pool.acquire() as conn:
        earlier = await activities.visits_in_period(conn, target_id=body.target_id, period=body.period)
    return {
        "limit": profile.get("visits_per_school_per_semester_max"),
        "profile_version": profile.version,
        "earlier": earlier,
    }


@router.post("/activities", status_code=201, response_model=ActivityRead)
async def plan_activity(body: ActivityCreate, request: Request, response: Response, principal: Admin) -> ActivityRead:
    """Put a supervision activity on the calendar; frequency control applies to school visits."""
    check_scope(principal, body.jurisdiction)
    await check_target(request, body)
    details = (
        body.model_dump() | await asyncio.to_thread(from_draw, request, body) | await frequency_limit(request, body)
    )
    activity = await asyncio.to_thread(
        _app(request).plan_activity,
        activity_id=new_aggregate_id(request, principal, "activity"),
        envelope=command_envelope(request, principal, body),
        now=_now(request),
        **details,
    )
    set_etag(response, activity.version)
    response.headers["Location"] = f"/v1/activities/{activity.id}"
    return ActivityRead.of(activity)


def _act(
    request: Request,
    response: Response,
    principal: Principal,
    activity_id: UUID,
    body: BaseModel | None,
    command,
    roles: tuple[str, ...] = (Role.admin,),
):
    activity = _app(request).on_activity(
        activity_id,
        expected_version(request),
        command_envelope(request, principal, body),
        lambda a: scope.authorize(principal, activity_target(a), roles, write=True),
        command,
    )
    set_etag(response, activity.version)
    return ActivityRead.of(activity)


@router.post("/activities/{activity_id}/team", response_model=ActivityRead)
async def assign_team(activity_id: UUID, body: TeamAssignment, request: Request, response: Response, principal: Admin):
    """Name the team (督导组) by hand; recusal (回避) is enforced exactly as for a drawn team."""
    members = [str(m) for m in body.member_ids]
    async with request.app.state.pool.acquire() as conn:
        ties = await registry_copy.ties_of(conn, list({str(body.leader_id), *members}))
        inspectors = await registry_copy.inspectors_by_id(conn, list({str(body.leader_id), *members}))

    def assign(activity: Activity) -> list[Draw]:
        activity.assign_team(
            leader_id=str(body.leader_id),
            member_ids=members,
            ties=ties,
            inspectors=inspectors,
            deviation_reason=body.deviation_reason,
        )
        if activity.deviation_reason is None or activity.draw_id is None:
            return []
        draw = _app(request).get(UUID(activity.draw_id), Draw)  # the deviation is saved with the team, or neither is
        draw.record_deviation(
            activity_id=str(activity.id),
            target=activity.target_id,
            assigned=activity.member_ids,
            reason=redact(activity.deviation_reason),
            by=principal.sub,
            at=_now(request),
        )
        return [draw]

    return await asyncio.to_thread(_act, request, response, principal, activity_id, body, assign)


@router.post("/activities/{activity_id}/notice", response_model=ActivityRead)
def notify(activity_id: UUID, body: Notice, request: Request, response: Response, principal: Admin):
    return _act(
        request,
        response,
        principal,
        activity_id,
        body,
        lambda a: a.notify(notified_on=body.notified_on, today=today(request)),
    )


@router.post("/activities/{activity_id}/self-evaluation", response_model=ActivityRead)
async def submit_self_evaluation(
    activity_id: UUID, body: SelfEvaluation, request: Request, response: Response, principal: UnitOrAdmin
) -> ActivityRead:
    """The supervised unit (role `unit`) submits its self-evaluation; evidence goes to the blob store, its digest to the event."""
    app = _app(request)

    def authorize(activity: Activity) -> None:
        scope.authorize(
            principal, Target(activity.jurisdiction, unit=activity.target_id), (Role.unit, Role.admin), write=True
        )

    authorize(await asyncio.to_thread(app.get, activity_id, Activity))  # permission before a byte is stored
    stored = await asyncio.to_thread(
        blobs.save_uploads, request.app.state.blobs, body.evidence, max_bytes=request.app.state.settings.blob_max_bytes
    )
    items = [i.model_dump() for i in body.items]
    activity = await asyncio.to_thread(
        app.on_activity,
        activity_id,
        expected_version(request),
        command_envelope(request, principal, body),
        authorize,
        lambda a: a.submit_self_evaluation(items=items, evidence=stored, submitted_by=principal.sub, now=_now(request)),
    )
    set_etag(response, activity.version)
    return ActivityRead.of(activity)


@router.post("/activities/{activity_id}/member-units", response_model=ActivityRead)
def record_member_units(activity_id: UUID, body: MemberUnits, request: Request, response: Response, principal: Admin):
    """Committee member units that took part (成员单位参与); the registry counts them toward each unit's yearly minimum."""
    return _act(
        request,
        response,
        principal,
        activity_id,
        body,
        lambda a: a.record_member_units(unit_names=body.unit_names, year=body.year),
    )


@router.post("/activities/{activity_id}/on-site", response_model=ActivityRead)
def start_on_site(activity_id: UUID, body: OnSite, request: Request, response: Response, principal: TeamOrAdmin):
    """The team arrives on site (实地督导); the office or an inspector on the team records it."""
    return _act(
        request,
        response,
        principal,
        activity_id,
        body,
        lambda a: a.start_on_site(on=body.on, today=today(request)),
        TEAM_OR_ADMIN,
    )


@router.post("/activities/{activity_id}/findings", response_model=ActivityRead)
def record_findings(activity_id: UUID, body: Findings, request: Request, response: Response, principal: TeamOrAdmin):
    """Record problems found (督导发现的问题), each with area, severity and whether it needs rectification; the office
    or an inspector on the activity's team records them."""
    findings = [{"finding_id": str(uuid4())} | f.model_dump() for f in body.findings]
    return _act(
        request,
        response,
        principal,
        activity_id,
        body,
        lambda a: a.record_findings(findings=findings, now=_now(request)),
        TEAM_OR_ADMIN,
    )


@router.post("/activities/{activity_id}/report/draft", response_model=ActivityRead)
async def draft_report(activity_id: UUID, body: ReportDraft, request: Request, response: Response, principal: Admin):
    """Draft the report; a duty evaluation's score becomes a grade by the bands of the place's policy profile."""
    grade = basis = None
    if body.score is not None:
        async with request.app.state.pool.acquire() as conn:
            rows = await activities.activities_by_id(conn, [str(activity_id)])
        code = rows[0]["jurisdiction"] if rows else principal.jur
        profile = await _profile(request, code)
        grade, basis = grade_for(body.score, profile.values), profile.version
    return await asyncio.to_thread(
        _act,
        request,
        response,
        principal,
        activity_id,
        body,
        lambda a: a.draft_report(
            summary=body.summary, grade=grade, score=body.score, grade_basis=basis, now=_now(request)
        ),
    )


@router.post("/activities/{activity_id}/report/approval", response_model=ActivityRead)
def approve_report(activity_id: UUID, request: Request, response: Response, principal: Admin):
    return _act(
        request,
        response,
        principal,
        activity_id,
        None,
        lambda a: a.approve_report(approved_by=principal.sub, now=_now(request)),
    )


@router.post("/activities/{activity_id}/report/issue", response_model=ActivityRead)
def issue_report(activity_id: UUID, body: ReportIssue, request: Request, response: Response, principal: Admin):
    """Issue the report to the supervised unit (印发督导报告): this starts rectification in accountability."""
    return _act(
        request,
        response,
        principal,
        activity_id,
        body,
        lambda a: a.issue_report(issued_on=body.issued_on, now=_now(request)),
    )


@router.post("/activities/{activity_id}/publication", response_model=ActivityRead)
def publish(activity_id: UUID, body: Publication, request: Request, response: Response, principal: Admin):
    return _act(
        request,
        response,
        principal,
        activity_id,
        body,
        lambda a: a.publish(public_summary=body.public_summary, now=_now(request)),
    )


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
    data = request.app.state.blobs.get(sha256)
    _app(request).log_evidence_opened(
        activity,
        sha256=sha256,
        name=file["name"],
        by=principal.sub,
        now=_now(request),
        envelope=command_envelope(request, principal),
    )
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
