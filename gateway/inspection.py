"""The gateway's inspection types: activities with findings and team, draws, routine coverage, public reports."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import strawberry

from dudao.subgraph import wanted
from gateway.shapes import selection, shape
from gateway.types import Jurisdiction, Labelled, PageInfo, loaders_of, page_of

if TYPE_CHECKING:
    from gateway.accountability import RectificationCase, RectificationItem
    from gateway.registry import Inspector, School


@strawberry.type
class Finding:
    """A problem found (督导发现的问题)."""

    GIVEN: ClassVar[dict[str, str]] = {"activity_id": "id"}  # the activity's id, from the activity it was found in

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
            "inspection", "selfEvaluation", selection(SelfEvaluation, wanted(info)), activityId=str(self.id)
        )
        return shape(SelfEvaluation, found) if found else None

    @strawberry.field(description="The rectification case opened from this activity's issued report, if any.")
    async def case(
        self, info: strawberry.Info
    ) -> Annotated[RectificationCase, strawberry.lazy("gateway.accountability")] | None:
        cases = await loaders_of(info).cases_of_activity.load(str(self.id))
        return cases[0] if cases else None


@strawberry.type
class ActivityConnection:
    nodes: list[Activity]
    page_info: PageInfo


async def activities_page(info: strawberry.Info, first: int, **filters: Any) -> ActivityConnection:
    return ActivityConnection(
        **await page_of(info, "inspection", "activities", Activity, "activities", first, **filters)
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
