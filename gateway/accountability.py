"""The gateway's accountability types: the summary an office watches, cases with items, restricted leaders."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from gateway.types import Jurisdiction

if TYPE_CHECKING:
    from gateway.types import School

SUMMARY_FIELDS = "jurisdiction asOf openCases closedCases items overdueItems noticesIssued reboundRate onTimeRate"
CASE_FIELDS = (
    "id activityId jurisdiction unitKind unitId unitName activityTitle status"
    " items { itemId area severity description status deadline lapses rebounds escalations }"
)
RESTRICTION_FIELDS = "name post unitId unitName jurisdiction restrictedUntil circularId"


@strawberry.type
class AccountabilitySummary:
    """How rectification stands in a jurisdiction and everything under it (整改落实情况)."""

    as_of: date
    open_cases: int
    closed_cases: int
    items: int
    overdue_items: int
    notices_issued: int
    rebound_rate: float | None = strawberry.field(description="items that came back at a re-check, over items ever accepted")
    on_time_rate: float | None = strawberry.field(
        description="items accepted the first time without a supervision notice, over items accepted or noticed"
    )
    jurisdiction_code: strawberry.Private[str]

    @strawberry.field
    def jurisdiction(self) -> Jurisdiction:
        return Jurisdiction.of(self.jurisdiction_code)

    @classmethod
    def of(cls, d: dict[str, Any]) -> AccountabilitySummary:
        return cls(
            as_of=date.fromisoformat(d["asOf"]), open_cases=d["openCases"], closed_cases=d["closedCases"], items=d["items"],
            overdue_items=d["overdueItems"], notices_issued=d["noticesIssued"], rebound_rate=d["reboundRate"],
            on_time_rate=d["onTimeRate"], jurisdiction_code=d["jurisdiction"],
        )  # fmt: skip


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
    items: list[RectificationItem]
    jurisdiction_code: strawberry.Private[str]

    @strawberry.field
    def jurisdiction(self) -> Jurisdiction:
        return Jurisdiction.of(self.jurisdiction_code)

    @strawberry.field(description="The school under rectification, when the unit is a school.")
    async def school(self, info: strawberry.Info) -> Annotated["School", strawberry.lazy("gateway.types")] | None:
        if self.unit_kind != "school":
            return None
        return await info.context["loaders"].schools.load(self.unit_id)

    @classmethod
    def of(cls, d: dict[str, Any]) -> RectificationCase:
        items = [
            RectificationItem(
                item_id=i["itemId"], area=i["area"], severity=i["severity"], description=i["description"], status=i["status"],
                deadline=date.fromisoformat(i["deadline"]) if i["deadline"] else None, lapses=i["lapses"], rebounds=i["rebounds"],
                escalations=i["escalations"],
            )
            for i in d["items"]
        ]  # fmt: skip
        return cls(
            id=strawberry.ID(d["id"]), activity_id=d["activityId"], unit_kind=d["unitKind"], unit_id=d["unitId"],
            unit_name=d["unitName"], activity_title=d["activityTitle"], status=d["status"], items=items,
            jurisdiction_code=d["jurisdiction"],
        )  # fmt: skip


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

    @classmethod
    def of(cls, d: dict[str, Any]) -> Restriction:
        return cls(
            name=d["name"], post=d["post"], unit_id=d["unitId"], unit_name=d["unitName"],
            restricted_until=date.fromisoformat(d["restrictedUntil"]), circular_id=strawberry.ID(d["circularId"]),
            jurisdiction_code=d["jurisdiction"],
        )  # fmt: skip
