"""The gateway's inspection types: activities with findings and team, draws, routine coverage, public reports."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from gateway.types import Jurisdiction, Labelled, PageInfo, loaders_of, page_of

if TYPE_CHECKING:
    from gateway.accountability import RectificationCase, RectificationItem
    from gateway.registry import Inspector, School

ACTIVITY_FIELDS = (
    "id jurisdiction kind { value labelZh } topic title targetKind targetId targetName period plannedMonth source"
    " status { value labelZh } leaderId memberIds version grade reportSummary publicSummary"
    " findings { findingId area { value labelZh } severity { value labelZh } description ruleBroken needsRectification looksIllegal }"
)
DRAW_FIELDS = (
    "id jurisdiction purpose status seedHash seed targets teams { targetId inspectorIds }"
    " verification { ok seedMatchesHash resultMatches detail }"
)
COVERAGE_FIELDS = (
    "jurisdiction month schools visited coverage"
    " zones { zoneId zoneName schools visited notVisited { id name responsibleInspectorId } }"
)


@strawberry.type
class Finding:
    """A problem found (督导发现的问题)."""

    finding_id: str
    area: Labelled
    severity: Labelled
    description: str
    rule_broken: str
    needs_rectification: bool
    looks_illegal: bool
    activity_id: strawberry.Private[str]

    @strawberry.field(
        description="The rectification item (整改事项) opened for this finding once the report was issued."
    )
    async def rectification_item(
        self, info: strawberry.Info
    ) -> Annotated[RectificationItem, strawberry.lazy("gateway.accountability")] | None:
        if not self.needs_rectification:
            return None
        for case in await loaders_of(info).cases_of_activity.load(self.activity_id):
            for item in case.items:
                if item.item_id == self.finding_id:
                    return item
        return None


SELF_EVALUATION_FIELDS = (
    "activityId submittedBy submittedAt items { item score comment } evidence { name sha256 size mediaType href }"
)


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
    href: str


@strawberry.type
class SelfEvaluation:
    """A unit's self-evaluation (自查自评): its scores and the evidence files it rests on (downloaded over REST, recorded)."""

    activity_id: strawberry.ID
    items: list[ScoredItem]
    evidence: list[EvidenceFile]
    submitted_by: str
    submitted_at: datetime

    @classmethod
    def of(cls, d: dict[str, Any]) -> SelfEvaluation:
        return cls(
            activity_id=strawberry.ID(d["activityId"]),
            submitted_by=d["submittedBy"],
            submitted_at=datetime.fromisoformat(d["submittedAt"]),
            items=[ScoredItem(**i) for i in d["items"]],
            evidence=[
                EvidenceFile(
                    name=e["name"], sha256=e["sha256"], size=e["size"], media_type=e["mediaType"], href=e["href"]
                )
                for e in d["evidence"]
            ],
        )


@strawberry.type
class Activity:
    """A supervision activity (督导活动) with its team and findings."""

    id: strawberry.ID
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
    findings: list[Finding]
    grade: str | None = strawberry.field(description="a duty evaluation's grade, once its report is drafted")
    report_summary: str | None = strawberry.field(description="the report's summary (督导报告), once drafted")
    public_summary: str | None = strawberry.field(description="the summary published to the public, once published")
    version: int
    jurisdiction_code: strawberry.Private[str]
    leader_id: strawberry.Private[str | None]
    member_ids: strawberry.Private[list[str]]

    @strawberry.field
    def jurisdiction(self) -> Jurisdiction:
        return Jurisdiction.of(self.jurisdiction_code)

    @strawberry.field(description="The team (督导组), leader first.")
    async def team(
        self, info: strawberry.Info
    ) -> list[Annotated[Inspector, strawberry.lazy("gateway.registry")]] | None:
        found = await loaders_of(info).inspectors.load_many(self.member_ids)
        return [i for i in found if i is not None]

    @strawberry.field(description="The school supervised, when the target is a school.")
    async def school(self, info: strawberry.Info) -> Annotated[School, strawberry.lazy("gateway.registry")] | None:
        if self.target_kind != "school":
            return None
        return await loaders_of(info).schools.load(self.target_id)

    @strawberry.field(
        description="The unit's self-evaluation (自查自评) with its evidence files: for the office over the unit, "
        "the team and the unit itself; none before it is submitted."
    )
    async def self_evaluation(self, info: strawberry.Info) -> SelfEvaluation | None:
        found = await loaders_of(info).ask(
            "inspection", "selfEvaluation", SELF_EVALUATION_FIELDS, activityId=str(self.id)
        )
        return SelfEvaluation.of(found) if found else None

    @strawberry.field(description="The rectification case opened from this activity's issued report, if any.")
    async def case(
        self, info: strawberry.Info
    ) -> Annotated[RectificationCase, strawberry.lazy("gateway.accountability")] | None:
        cases = await loaders_of(info).cases_of_activity.load(str(self.id))
        return cases[0] if cases else None

    @classmethod
    def of(cls, d: dict[str, Any]) -> Activity:
        return cls(
            id=strawberry.ID(d["id"]),
            kind=Labelled.of(d["kind"]),
            topic=d.get("topic"),
            title=d["title"],
            target_kind=d["targetKind"],
            target_id=d["targetId"],
            target_name=d["targetName"],
            period=d["period"],
            planned_month=d["plannedMonth"],
            source=d["source"],
            status=Labelled.of(d["status"]),
            findings=[
                Finding(
                    finding_id=f["findingId"],
                    area=Labelled.of(f["area"]),
                    severity=Labelled.of(f["severity"]),
                    description=f["description"],
                    rule_broken=f["ruleBroken"],
                    needs_rectification=f["needsRectification"],
                    looks_illegal=f["looksIllegal"],
                    activity_id=d["id"],
                )
                for f in d["findings"]
            ],
            grade=d["grade"],
            report_summary=d["reportSummary"],
            public_summary=d["publicSummary"],
            version=d["version"],
            jurisdiction_code=d["jurisdiction"],
            leader_id=d.get("leaderId"),
            member_ids=d["memberIds"],
        )


@strawberry.type
class ActivityConnection:
    nodes: list[Activity]
    page_info: PageInfo


async def activities_page(info: strawberry.Info, first: int, **filters: Any) -> ActivityConnection:
    return ActivityConnection(
        **await page_of(info, "inspection", "activities", ACTIVITY_FIELDS, Activity.of, "activities", first, **filters)
    )


@strawberry.type
class Team:
    target_id: str
    inspector_ids: list[str]


@strawberry.type
class Verification:
    ok: bool
    seed_matches_hash: bool
    result_matches: bool
    detail: str


@strawberry.type
class Draw:
    """A double-random draw (双随机) and whether it verifies."""

    id: strawberry.ID
    purpose: str
    status: str
    seed_hash: str
    seed: str | None
    targets: list[str] | None
    teams: list[Team] | None
    verification: Verification
    jurisdiction_code: strawberry.Private[str]

    @strawberry.field
    def jurisdiction(self) -> Jurisdiction:
        return Jurisdiction.of(self.jurisdiction_code)

    @classmethod
    def of(cls, d: dict[str, Any]) -> Draw:
        v = d["verification"]
        return cls(
            id=strawberry.ID(d["id"]),
            purpose=d["purpose"],
            status=d["status"],
            seed_hash=d["seedHash"],
            seed=d.get("seed"),
            targets=d.get("targets"),
            teams=[Team(target_id=t["targetId"], inspector_ids=t["inspectorIds"]) for t in d["teams"]]
            if d.get("teams")
            else None,
            verification=Verification(
                ok=v["ok"],
                seed_matches_hash=v["seedMatchesHash"],
                result_matches=v["resultMatches"],
                detail=v["detail"],
            ),
            jurisdiction_code=d["jurisdiction"],
        )


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
    """Routine visits (经常性督导) this month: compulsory-education schools visited and not yet visited (S1)."""

    month: str
    schools: int
    visited: int
    coverage: float
    zones: list[ZoneCoverage]
    jurisdiction_code: strawberry.Private[str]

    @strawberry.field
    def jurisdiction(self) -> Jurisdiction:
        return Jurisdiction.of(self.jurisdiction_code)

    @classmethod
    def of(cls, d: dict[str, Any]) -> RoutineCoverage:
        return cls(
            month=d["month"],
            schools=d["schools"],
            visited=d["visited"],
            coverage=d["coverage"],
            jurisdiction_code=d["jurisdiction"],
            zones=[
                ZoneCoverage(
                    zone_id=z["zoneId"],
                    zone_name=z["zoneName"],
                    schools=z["schools"],
                    visited=z["visited"],
                    not_visited=[
                        UnvisitedSchool(
                            id=s["id"], name=s["name"], responsible_inspector_id=s["responsibleInspectorId"]
                        )
                        for s in z["notVisited"]
                    ],
                )
                for z in d["zones"]
            ],
        )


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
    """A published supervision report (督导报告), personal data removed."""

    activity_id: strawberry.ID
    kind: str
    kind_label_zh: str
    title: str
    target_name: str
    period: str
    grade: str | None
    grade_label_zh: str | None
    summary: str
    findings: list[PublicFinding]

    @classmethod
    def of(cls, d: dict[str, Any]) -> PublicReport:
        return cls(
            activity_id=strawberry.ID(d["activityId"]),
            kind=d["kind"],
            kind_label_zh=d["kindLabelZh"],
            title=d["title"],
            target_name=d["targetName"],
            period=d["period"],
            grade=d.get("grade"),
            grade_label_zh=d.get("gradeLabelZh"),
            summary=d["summary"],
            findings=[
                PublicFinding(
                    area=f["area"],
                    area_label_zh=f["areaLabelZh"],
                    severity=f["severity"],
                    severity_label_zh=f["severityLabelZh"],
                    description=f["description"],
                    needs_rectification=f["needsRectification"],
                )
                for f in d["findings"]
            ],
        )
