"""The inspection subgraph (Federation 2): activities with findings and team, draws, routine coverage, public reports."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Any

import strawberry
from fastapi import Request
from graphql import GraphQLError
from strawberry.dataloader import DataLoader

from dudao import audit as audit_trail
from dudao import changes as change_feed
from dudao import scope, subgraph
from dudao.errors import NotFound, Problem
from dudao.remembered import remembered_over
from dudao.scope import OFFICES, READERS, sees
from dudao.subgraph import Labelled, PageInfo, caller
from dudao.subgraph import within as scope_of
from services.inspection.api.public import in_chinese
from services.inspection.application import activity_target
from services.inspection.domain.activity import Activity as ActivityAggregate
from services.inspection.domain.activity_terms import ActivityKind, FindingArea, Severity, Status
from services.inspection.domain.draw import Draw
from services.inspection.projections import activities, visits


def _label(kind: type, value: str | None) -> Labelled | None:
    return Labelled.of(kind, value)


@strawberry.type
class Finding:
    finding_id: str = strawberry.field(
        description="the finding's id in its activity; a rectification item has the same id"
    )
    area: Labelled
    severity: Labelled
    description: str
    rule_broken: str
    needs_rectification: bool
    looks_illegal: bool


@strawberry.federation.type(keys=["id"])
class Activity:
    """A supervision activity (督导活动)."""

    id: strawberry.ID
    jurisdiction: str
    kind: Labelled
    topic: str | None
    title: str
    target_kind: str
    target_id: str
    target_name: str
    period: str
    planned_month: str
    source: str
    status: Labelled
    leader_id: strawberry.ID | None
    member_ids: list[strawberry.ID]
    findings: list[Finding]
    grade: str | None = strawberry.field(description="a duty evaluation's grade, once its report is drafted")
    report_summary: str | None = strawberry.field(description="the report's summary, once drafted")
    public_summary: str | None = strawberry.field(description="the summary published to the public, once published")
    version: int

    @classmethod
    def of(cls, row: dict[str, Any]) -> Activity:
        return cls(
            id=strawberry.ID(str(row["id"])),
            jurisdiction=row["jurisdiction"],
            kind=_label(ActivityKind, row["kind"]),
            topic=row["topic"],
            title=row["title"],
            target_kind=row["target_kind"],
            target_id=row["target_id"],
            target_name=row["target_name"],
            period=row["period"],
            planned_month=row["planned_month"],
            source=row["source"],
            status=_label(Status, row["status"]),
            leader_id=strawberry.ID(str(row["leader_id"])) if row["leader_id"] else None,
            member_ids=[strawberry.ID(str(m)) for m in row["member_ids"]],
            findings=[
                Finding(
                    finding_id=f["finding_id"],
                    area=_label(FindingArea, f["area"]),
                    severity=_label(Severity, f["severity"]),
                    description=f["description"],
                    rule_broken=f.get("rule_broken", ""),
                    needs_rectification=f["needs_rectification"],
                    looks_illegal=f.get("looks_illegal", False),
                )
                for f in row["findings"]
            ],
            grade=row["grade"],
            report_summary=row["report_summary"],
            public_summary=row["public_summary"],
            version=row["version"],
        )

    @classmethod
    async def resolve_reference(cls, info: strawberry.Info, id: strawberry.ID) -> Activity | None:
        caller(info, READERS)
        return await info.context["activities"].load(str(id))


@strawberry.type
class ActivitiesOf:
    """The activities of one school (as target) or one inspector (as team member)."""

    key: str
    activities: list[Activity]


@strawberry.type
class ActivityConnection:
    nodes: list[Activity]
    page_info: PageInfo


@strawberry.type
class Team:
    target_id: str
    inspector_ids: list[strawberry.ID]


@strawberry.type
class Verification:
    ok: bool
    seed_matches_hash: bool
    result_matches: bool
    detail: str


@strawberry.federation.type(keys=["id"])
class DrawView:
    """A double-random draw (双随机): the seed's hash before, the seed and result after, and its verification."""

    id: strawberry.ID
    jurisdiction: str
    purpose: str
    status: str
    seed_hash: str
    seed: str | None
    targets: list[str] | None
    teams: list[Team] | None
    checked: strawberry.Private[Verification | None] = None

    @strawberry.field
    async def verification(self, info: strawberry.Info) -> Verification:
        # Verifying re-runs the draw from its recorded inputs (the filtered pool, ties, loads, counts), which only the
        # aggregate holds: the read table keeps the result, not the inputs, so it is not pure on stored rows. A view
        # built from a row therefore verifies through the event store, only when asked and once per draw per request.
        return self.checked if self.checked is not None else await info.context["verifications"].load(str(self.id))

    @classmethod
    def of(cls, draw: Draw) -> DrawView:
        """The draw as its aggregate has it now, verified."""
        result = draw.result
        teams = (
            [Team(target_id=t, inspector_ids=[strawberry.ID(i) for i in result.teams[t]]) for t in result.targets]
            if result
            else None
        )
        return cls(
            id=strawberry.ID(str(draw.id)),
            jurisdiction=draw.jurisdiction,
            purpose=draw.purpose,
            status=draw.status,
            seed_hash=draw.seed_hash,
            seed=draw.seed if result else None,
            targets=result.targets if result else None,
            teams=teams,
            checked=_verification(draw),
        )

    @classmethod
    def of_row(cls, row: dict[str, Any]) -> DrawView:
        """The draw as the read table has it; seed, targets and teams only once it was performed."""
        performed = row["teams"] is not None
        return cls(
            id=strawberry.ID(str(row["id"])),
            jurisdiction=row["jurisdiction"],
            purpose=row["purpose"],
            status=row["status"],
            seed_hash=row["seed_hash"],
            seed=row["seed"] if performed else None,
            targets=list(row["targets"]) if performed else None,
            teams=[Team(target_id=t, inspector_ids=[strawberry.ID(i) for i in row["teams"][t]]) for t in row["targets"]]
            if performed
            else None,
        )

    @classmethod
    async def resolve_reference(cls, info: strawberry.Info, id: strawberry.ID) -> DrawView | None:
        # Public, as `draw` is; from the read table so that many references cost one query.
        return await info.context["draws"].load(str(id))


def _verification(draw: Draw) -> Verification:
    check = draw.verify()
    return Verification(
        ok=check.ok, seed_matches_hash=check.seed_matches_hash, result_matches=check.result_matches, detail=check.detail
    )


@strawberry.type
class DrawsOf:
    """The performed draws that put one inspector on a team."""

    key: str
    draws: list[DrawView]


@strawberry.type
class UnvisitedSchool:
    id: str
    name: str
    responsible_inspector_id: str | None


@strawberry.type
class ZoneCoverage:
    zone_id: str | None
    zone_name: str | None
    schools: int
    visited: int
    not_visited: list[UnvisitedSchool]


@strawberry.type
class RoutineCoverage:
    """Routine visits (经常性督导) in a month: the compulsory-education schools visited and not yet visited (S1)."""

    jurisdiction: str
    month: str
    schools: int
    visited: int
    coverage: float
    zones: list[ZoneCoverage]


@strawberry.type
class PublicFinding:
    area: str
    area_label_zh: str
    severity: str
    severity_label_zh: str
    description: str
    needs_rectification: bool


@strawberry.type
class PublicReport:
    """A published supervision report, personal data removed."""

    activity_id: strawberry.ID
    jurisdiction: str
    kind: str
    kind_label_zh: str
    title: str
    target_name: str
    period: str
    grade: str | None
    grade_label_zh: str | None
    summary: str
    findings: list[PublicFinding]


@strawberry.type
class ScoredItem:
    item: str
    score: float
    comment: str


@strawberry.type
class EvidenceFile:
    name: str
    sha256: str
    size: int
    media_type: str
    href: str = strawberry.field(description="where the file is downloaded over REST (each download is recorded)")


@strawberry.type
class SelfEvaluation:
    """A unit's self-evaluation (自查自评): its scores and the evidence files it rests on."""

    activity_id: strawberry.ID
    items: list[ScoredItem]
    evidence: list[EvidenceFile]
    submitted_by: str
    submitted_at: datetime


@strawberry.type
class Query:
    changes = change_feed.field("inspection")
    audit = audit_trail.field("inspection")

    @strawberry.field(
        description="The unit's self-evaluation of an activity, for the office over the unit, the team and the unit."
    )
    async def self_evaluation(self, info: strawberry.Info, activity_id: strawberry.ID) -> SelfEvaluation | None:
        principal = caller(info, READERS)
        app = info.context["request"].app.state.application
        try:
            activity = await asyncio.to_thread(app.get, uuid.UUID(str(activity_id)), ActivityAggregate)
            scope.authorize(principal, activity_target(activity), (), write=False, field="activityId")
        except ValueError:
            raise subgraph.problem(NotFound(f"no activity with id {activity_id}", field="activityId")) from None
        except Problem as e:
            raise subgraph.problem(e) from None
        evaluation = activity.self_evaluation
        if evaluation is None:
            return None
        return SelfEvaluation(
            activity_id=activity_id,
            submitted_by=evaluation["submitted_by"],
            submitted_at=evaluation["submitted_at"],
            items=[
                ScoredItem(item=i["item"], score=i["score"], comment=i.get("comment", "")) for i in evaluation["items"]
            ],
            evidence=[
                EvidenceFile(
                    **{k: e[k] for k in ("name", "sha256", "size", "media_type")},
                    href=f"/v1/activities/{activity_id}/evidence/{e['sha256']}",
                )
                for e in evaluation["evidence"]
            ],
        )

    @strawberry.field
    async def activities(
        self,
        info: strawberry.Info,
        jurisdiction: str | None = None,
        school_id: str | None = None,
        inspector_id: strawberry.ID | None = None,
        status: str | None = None,
        first: int = 50,
        after: str | None = None,
        report_issued: bool = False,
    ) -> ActivityConnection:
        principal = caller(info, READERS)
        within, school_id = scope_of(principal, jurisdiction), subgraph.listed_unit(principal, school_id, "schoolId")
        limit, position = subgraph.page(first, after)
        inspector = subgraph.listed_inspector(
            principal, str(inspector_id) if inspector_id and _is_uuid(str(inspector_id)) else None
        )
        async with info.context["pool"].acquire() as conn:
            rows = await activities.activity_page(
                conn,
                within=within,
                school_id=school_id,
                inspector_id=inspector,
                status=status,
                after=position,
                limit=limit,
                report_issued=report_issued,
            )
        return ActivityConnection(nodes=[Activity.of(r) for r in rows], page_info=PageInfo.of(rows, limit))

    @strawberry.field(description="Activities of many schools (as targets) in one call, for the gateway's batching.")
    async def activities_for_schools(self, info: strawberry.Info, school_ids: list[str]) -> list[ActivitiesOf]:
        return await _activities_of_schools(info.context["pool"], caller(info, READERS), school_ids)

    @strawberry.field(description="Activities of many inspectors (as team members) in one call.")
    async def activities_for_inspectors(self, info: strawberry.Info, inspector_ids: list[str]) -> list[ActivitiesOf]:
        principal = caller(info, READERS)
        valid = [i for i in inspector_ids if _is_uuid(i)]
        async with info.context["pool"].acquire() as conn:
            rows = await activities.activities_of(conn, member_ids=valid)
        visible = [r for r in rows if sees(principal, r["jurisdiction"], r["target_id"], _team(r))]
        return _grouped(inspector_ids, visible, lambda r: sorted(_team(r)))

    @strawberry.field
    async def activity(self, info: strawberry.Info, id: strawberry.ID) -> Activity | None:
        caller(info, READERS)
        return await info.context["activities"].load(str(id))

    @strawberry.field(description="A draw and its verification. No token needed: draws are public.")
    def draw(self, info: strawberry.Info, id: strawberry.ID) -> DrawView | None:
        if not _is_uuid(str(id)):
            return None
        application = info.context["request"].app.state.application
        if not application.exists(uuid.UUID(str(id))):
            return None
        return DrawView.of(application.get(uuid.UUID(str(id)), Draw))

    @strawberry.field(description="The performed draws that put each of many inspectors on a team, in one call.")
    async def draws_for_inspectors(self, info: strawberry.Info, inspector_ids: list[str]) -> list[DrawsOf]:
        principal = caller(info, READERS)
        async with info.context["pool"].acquire() as conn:
            rows = await activities.draws_of(conn, inspector_ids=inspector_ids)
        found: dict[str, list[DrawView]] = {k: [] for k in inspector_ids}
        for row in rows:
            if principal.can_act_in(row["jurisdiction"]):
                for inspector_id in row["drawn"]:
                    found[inspector_id].append(DrawView.of_row(row))
        return [DrawsOf(key=k, draws=found[k]) for k in inspector_ids]

    @strawberry.field(description="Which compulsory-education schools had no routine visit yet in a month (YYYY-MM).")
    async def routine_coverage(
        self, info: strawberry.Info, month: str, jurisdiction: str | None = None
    ) -> RoutineCoverage:
        within = scope_of(caller(info, OFFICES), jurisdiction)
        if len(month) != 7 or month[4] != "-" or not (month[:4] + month[5:]).isdigit() or not 1 <= int(month[5:]) <= 12:
            raise GraphQLError(
                "month must look like 2026-10", extensions={"status": 422, "rule": "month_format", "field": "month"}
            )
        async with info.context["pool"].acquire() as conn:
            zones_asked = "zones" in subgraph.wanted(info)
            data = await visits.coverage(conn, within=within, month=month, zones=zones_asked)
        if not zones_asked:  # the totals alone are remembered (decision 044), the zones' schools are not
            remembered_over(info, *visits.TOTALS.projections)
        zones = [
            ZoneCoverage(
                zone_id=z["zone_id"],
                zone_name=z["zone_name"],
                schools=z["schools"],
                visited=z["visited"],
                not_visited=[UnvisitedSchool(**s) for s in z["not_visited"]],
            )
            for z in data["zones"]
        ]
        return RoutineCoverage(
            **{k: data[k] for k in ("jurisdiction", "month", "schools", "visited", "coverage")}, zones=zones
        )

    @strawberry.field(description="Published reports with personal data removed. No token needed.")
    async def public_reports(
        self, info: strawberry.Info, jurisdiction: str, first: int = 50, after: str | None = None
    ) -> list[PublicReport]:
        subgraph.division(jurisdiction)
        limit, position = subgraph.page(first, after)
        async with info.context["pool"].acquire() as conn:
            rows = await activities.public_report_page(conn, within=jurisdiction, after=position, limit=limit)
        reports = [(r, in_chinese(r)) for r in rows]  # the same words as the REST view
        return [
            PublicReport(
                activity_id=strawberry.ID(str(r["activity_id"])),
                jurisdiction=r["jurisdiction"],
                kind=r["kind"],
                title=r["title"],
                target_name=r["target_name"],
                period=r["period"],
                grade=r["grade"],
                summary=r["summary"],
                kind_label_zh=zh["kind_label_zh"],
                grade_label_zh=zh["grade_label_zh"],
                findings=[
                    PublicFinding(
                        **{
                            k: f[k]
                            for k in (
                                "area",
                                "area_label_zh",
                                "severity",
                                "severity_label_zh",
                                "description",
                                "needs_rectification",
                            )
                        }
                    )
                    for f in zh["findings"]
                ],
            )
            for r, zh in reports
        ]


@strawberry.federation.type(
    keys=["id"], description="A school of the registry; this subgraph adds the activities that supervised it."
)
class School:
    id: strawberry.ID

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> School:
        return cls(id=id)

    @strawberry.field(description="The activities that supervised the school (as target) and the caller may see.")
    async def activities(self, info: strawberry.Info) -> list[Activity]:
        caller(info, READERS)
        return await info.context["activities_of_school"].load(str(self.id))


async def _activities_of_schools(pool: Any, principal: Any, school_ids: list[str]) -> list[ActivitiesOf]:
    async with pool.acquire() as conn:
        rows = await activities.activities_of(conn, target_ids=school_ids)
    return _grouped(
        school_ids,
        [r for r in rows if sees(principal, r["jurisdiction"], r["target_id"], _team(r))],
        lambda r: [r["target_id"]],
    )


def _grouped(keys: list[str], rows: list[dict], keys_of) -> list[ActivitiesOf]:
    found: dict[str, list[Activity]] = {k: [] for k in keys}
    for row in rows:
        for key in keys_of(row):
            if key in found:
                found[key].append(Activity.of(row))
    return [ActivitiesOf(key=k, activities=found[k]) for k in keys]


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
        return True
    except ValueError:
        return False


def _team(row: dict[str, Any]) -> frozenset[str]:
    return frozenset(str(m) for m in [row["leader_id"], *row["member_ids"]] if m)


def _loaders(request: Request, principal) -> dict[str, Any]:
    async def load(ids: list[str]) -> list[Activity | None]:
        valid = [i for i in ids if _is_uuid(i)]
        async with request.app.state.pool.acquire() as conn:
            rows = {str(r["id"]): r for r in await activities.activities_by_id(conn, valid)} if valid else {}
        return [
            Activity.of(rows[i])
            if i in rows
            and principal
            and sees(principal, rows[i]["jurisdiction"], rows[i]["target_id"], _team(rows[i]))
            else None
            for i in ids
        ]

    async def load_draws(ids: list[str]) -> list[DrawView | None]:
        """Draws by id in one query, for anyone (draws are public); None for an id that is no UUID or unknown."""
        wanted = {i: uuid.UUID(i) for i in ids if _is_uuid(i)}
        rows: dict[uuid.UUID, dict] = {}
        if wanted:
            async with request.app.state.pool.acquire() as conn:
                rows = {r["id"]: r for r in await activities.draws_by_id(conn, list(wanted))}
        return [DrawView.of_row(rows[wanted[i]]) if wanted.get(i) in rows else None for i in ids]

    async def verify(ids: list[str]) -> list[Verification]:
        application = request.app.state.application

        def one(draw_id: uuid.UUID) -> Verification:
            if not application.exists(draw_id):  # a row whose events another instance holds
                return Verification(
                    ok=False,
                    seed_matches_hash=False,
                    result_matches=False,
                    detail="the draw's events are not held here",
                )
            return _verification(application.get(draw_id, Draw))

        # The event store is read synchronously, as the REST routes do, so off the event loop.
        return await asyncio.to_thread(lambda: [one(uuid.UUID(i)) for i in ids])

    async def load_of_schools(ids: list[str]) -> list[list[Activity]]:
        return [group.activities for group in await _activities_of_schools(request.app.state.pool, principal, ids)]

    return {
        "activities": DataLoader(load_fn=load),
        "draws": DataLoader(load_fn=load_draws),
        "verifications": DataLoader(load_fn=verify),
        "activities_of_school": DataLoader(load_fn=load_of_schools),
    }


schema = strawberry.federation.Schema(query=Query, types=[Activity, DrawView, School], extensions=subgraph.extensions())
router = subgraph.router(schema, _loaders)
