"""The gateway's accountability types: the summary an office watches, cases with items and notices, measures,
restricted leaders and published outcomes, with links from a case to its school and its report."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from gateway.types import Jurisdiction, PageInfo, loaders_of, page_of

if TYPE_CHECKING:
    from gateway.inspection import Activity
    from gateway.registry import School


@strawberry.type
class MeasureCount:
    """How many measures of one kind (interview 约谈, circular 通报, ...) stand at one status."""

    kind: str
    status: str
    count: int


@strawberry.type
class AccountabilitySummary:
    """How rectification stands in a jurisdiction and everything under it (整改落实情况)."""

    as_of: date
    open_cases: int
    closed_cases: int
    items: int
    overdue_items: int
    notices_issued: int
    rebound_rate: float | None = strawberry.field(
        description="items that came back at a re-check, over items ever accepted"
    )
    on_time_rate: float | None = strawberry.field(
        description="items accepted the first time without a supervision notice, over items accepted or noticed"
    )
    measures: list[MeasureCount]
    jurisdiction_code: strawberry.Private[str]

    @strawberry.field
    def jurisdiction(self) -> Jurisdiction:
        return Jurisdiction.of(self.jurisdiction_code)


@strawberry.type
class Notice:
    """A supervision notice (督办单) issued when an item missed its deadline, with the new deadline."""

    lapse: int
    missed_deadline: date
    new_deadline: date
    issued_on: date
    basis: str


@strawberry.type
class RectificationItem:
    """One problem to rectify (整改事项) and where it stands."""

    item_id: str
    area: str
    severity: str
    description: str
    status: str
    deadline: date | None
    lapses: int = strawberry.field(description="missed deadlines, each answered by a supervision notice (督办单)")
    rebounds: int = strawberry.field(description="times the problem came back at a re-check (反弹)")
    escalations: strawberry.scalars.JSON
    notices: list[Notice]


@strawberry.type
class RectificationCase:
    """The rectification (整改) of one issued report by the supervised unit."""

    id: strawberry.ID
    activity_id: str
    unit_kind: str
    unit_id: str
    unit_name: str
    activity_title: str
    status: str
    opened_at: datetime
    version: int
    items: list[RectificationItem]
    jurisdiction_code: strawberry.Private[str]

    @strawberry.field
    def jurisdiction(self) -> Jurisdiction:
        return Jurisdiction.of(self.jurisdiction_code)

    @strawberry.field(description="The school under rectification, when the unit is a school.")
    async def school(self, info: strawberry.Info) -> Annotated[School, strawberry.lazy("gateway.registry")] | None:
        if self.unit_kind != "school":
            return None
        return await loaders_of(info).schools.load(self.unit_id)

    @strawberry.field(description="The supervision activity whose issued report opened the case, with its findings.")
    async def report(self, info: strawberry.Info) -> Annotated[Activity, strawberry.lazy("gateway.inspection")] | None:
        return await loaders_of(info).activities.load(self.activity_id)


@strawberry.type
class RectificationCaseConnection:
    nodes: list[RectificationCase]
    page_info: PageInfo


async def cases_page(info: strawberry.Info, first: int, **filters: Any) -> RectificationCaseConnection:
    """Rectification cases from the accountability service; each is remembered so links back to it cost nothing."""
    return RectificationCaseConnection(
        **await page_of(info, "accountability", "rectificationCases", RectificationCase, "cases", first, **filters)
    )


@strawberry.type
class Measure:
    """An interview (约谈), circular (通报), accountability decision (问责) or commendation (表彰) and where it stands;
    `details` holds what each of its events recorded."""

    id: strawberry.ID
    kind: str = strawberry.field(description="interview, circular, decision or commendation")
    unit_kind: str
    unit_id: str
    unit_name: str
    status: str
    trigger: str | None
    case_id: strawberry.ID | None
    details: strawberry.scalars.JSON
    public_text: str | None
    published_on: date | None
    version: int
    jurisdiction_code: strawberry.Private[str]

    @strawberry.field
    def jurisdiction(self) -> Jurisdiction:
        return Jurisdiction.of(self.jurisdiction_code)

    @strawberry.field(description="The rectification case whose missed deadlines led to the measure, if any.")
    async def case(self, info: strawberry.Info) -> RectificationCase | None:
        return await loaders_of(info).cases.load(str(self.case_id)) if self.case_id else None

    @strawberry.field(description="The school the measure is about, when the unit is a school.")
    async def school(self, info: strawberry.Info) -> Annotated[School, strawberry.lazy("gateway.registry")] | None:
        return await loaders_of(info).schools.load(self.unit_id) if self.unit_kind == "school" else None


@strawberry.type
class MeasureConnection:
    nodes: list[Measure]
    page_info: PageInfo


async def measures_page(info: strawberry.Info, first: int, **filters: Any) -> MeasureConnection:
    return MeasureConnection(**await page_of(info, "accountability", "measures", Measure, "measures", first, **filters))


@strawberry.type
class Restriction:
    """A leader who may not be commended, promoted or moved to a key post until `restrictedUntil` (after a circular)."""

    name: str
    post: str
    unit_id: str
    unit_name: str
    restricted_until: date
    circular_id: strawberry.ID
    jurisdiction_code: strawberry.Private[str]

    @strawberry.field
    def jurisdiction(self) -> Jurisdiction:
        return Jurisdiction.of(self.jurisdiction_code)


@strawberry.type
class PublicOutcome:
    """A published circular, accountability decision or commendation (结果向社会公布). Public."""

    id: strawberry.ID
    kind: str
    kind_label_zh: str
    unit_name: str
    trigger: str | None
    trigger_label_zh: str | None
    public_text: str | None
    published_on: date | None
    public_version: int | None = strawberry.field(description="1, then one more for each correction published")
    sanctions: list[str] = strawberry.field(description="a decision's sanctions on a private school, as codes")
    sanctions_label_zh: list[str] = strawberry.field(description="the same sanctions in Chinese, e.g. 吊销办学许可证")
    jurisdiction_code: strawberry.Private[str]

    @strawberry.field
    def jurisdiction(self) -> Jurisdiction:
        return Jurisdiction.of(self.jurisdiction_code)
