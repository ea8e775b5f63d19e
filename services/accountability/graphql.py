"""The accountability subgraph (Federation 2): the summary an office watches, open cases with their items,
overdue items and the leaders under restriction."""

from __future__ import annotations

from datetime import date
from typing import Any

import strawberry

from dudao import subgraph
from dudao.subgraph import caller, within
from services.accountability import projections


@strawberry.type
class AccountabilitySummary:
    """How rectification stands in a jurisdiction and everything under it (整改落实情况)."""

    jurisdiction: str
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


@strawberry.type
class RectificationItem:
    item_id: str
    area: str
    severity: str
    description: str
    status: str
    deadline: date | None
    lapses: int
    rebounds: int
    escalations: strawberry.scalars.JSON

    @classmethod
    def of(cls, d: dict[str, Any]) -> RectificationItem:
        return cls(**{k: d[k] for k in ("item_id", "area", "severity", "description", "status", "deadline", "lapses", "rebounds", "escalations")})


@strawberry.type
class RectificationCase:
    id: strawberry.ID
    activity_id: str
    jurisdiction: str
    unit_kind: str
    unit_id: str
    unit_name: str
    activity_title: str
    status: str
    items: list[RectificationItem]


@strawberry.type
class Restriction:
    """A leader who may not be commended, promoted or moved to a key post until `restricted_until`."""

    name: str
    post: str
    unit_id: str
    unit_name: str
    jurisdiction: str
    restricted_until: date
    circular_id: strawberry.ID


def _today(info: strawberry.Info) -> date:
    return info.context["request"].app.state.clock.today()


@strawberry.type
class Query:
    @strawberry.field
    async def accountability_summary(self, info: strawberry.Info, jurisdiction: str | None = None) -> AccountabilitySummary:
        code = within(caller(info), jurisdiction)
        async with info.context["pool"].acquire() as conn:
            return AccountabilitySummary(**await projections.summary(conn, within=code, today=_today(info)))

    @strawberry.field
    async def rectification_cases(
        self, info: strawberry.Info, jurisdiction: str | None = None, unit_id: str | None = None, status: str | None = None,
        first: int = 50,
    ) -> list[RectificationCase]:  # fmt: skip
        code = within(caller(info), jurisdiction)
        async with info.context["pool"].acquire() as conn:
            rows = await projections.case_page(conn, within=code, unit_id=unit_id, status=status, after=0, limit=max(1, min(first, 200)))
            items = await projections.item_rows(conn, [r["id"] for r in rows])
        return [
            RectificationCase(
                id=strawberry.ID(str(r["id"])), **{k: r[k] for k in ("activity_id", "jurisdiction", "unit_kind", "unit_id", "unit_name",
                "activity_title", "status")}, items=[RectificationItem.of(i) for i in items if i["case_id"] == r["id"]],
            )
            for r in rows
        ]  # fmt: skip

    @strawberry.field
    async def restrictions(self, info: strawberry.Info, jurisdiction: str | None = None) -> list[Restriction]:
        code = within(caller(info), jurisdiction)
        async with info.context["pool"].acquire() as conn:
            rows = await projections.restrictions(conn, within=code, today=_today(info))
        fields = ("name", "post", "unit_id", "unit_name", "jurisdiction", "restricted_until")
        return [Restriction(**{k: r[k] for k in fields}, circular_id=strawberry.ID(str(r["circular_id"]))) for r in rows]


schema = strawberry.federation.Schema(query=Query)
router = subgraph.router(schema)
