"""The accountability subgraph (Federation 2): the summary an office watches, open cases with their items and
notices, the cases of many units or activities in one call, measures, the leaders under restriction, published outcomes."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date, datetime
from typing import Any

import strawberry
from fastapi import Request
from graphql import GraphQLError
from strawberry.dataloader import DataLoader

from dudao import audit as audit_trail
from dudao import changes as change_feed
from dudao import subgraph
from dudao.auth import Principal
from dudao.remembered import remembered_over
from dudao.scope import UNIT_READERS, sees
from dudao.subgraph import PageInfo, caller, within
from services.accountability import projections


@strawberry.type
class MeasureCount:
    """How many measures of one kind stand in one status."""

    kind: str = strawberry.field(
        description="interview (约谈), circular (通报), decision (问责) or commendation (表彰)"
    )
    status: str
    count: int


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
    rebound_rate: float | None = strawberry.field(
        description="items that came back at a re-check, over items ever accepted"
    )
    on_time_rate: float | None = strawberry.field(
        description="items accepted the first time without a supervision notice, over items accepted or noticed"
    )

    @strawberry.field(description="Interviews, circulars, decisions and commendations counted by kind and status.")
    async def measures(self, info: strawberry.Info) -> list[MeasureCount]:
        async with info.context[
            "pool"
        ].acquire() as conn:  # the jurisdiction was checked when the summary was asked for
            return [MeasureCount(**r) for r in await projections.measure_counts(conn, within=self.jurisdiction)]


NOTICE_FIELDS = ("lapse", "missed_deadline", "new_deadline", "issued_on", "basis")


@strawberry.type
class Notice:
    """A supervision notice (督导通知) issued when an item missed its deadline: which lapse, and the new deadline."""

    lapse: int
    missed_deadline: date
    new_deadline: date
    issued_on: date
    basis: str = strawberry.field(description="the policy profile version the notice period came from")


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
    notices: list[Notice]

    @classmethod
    def of(cls, d: dict[str, Any], notices: list[dict[str, Any]]) -> RectificationItem:
        fields = (
            "item_id",
            "area",
            "severity",
            "description",
            "status",
            "deadline",
            "lapses",
            "rebounds",
            "escalations",
        )
        return cls(**{k: d[k] for k in fields}, notices=[Notice(**{k: n[k] for k in NOTICE_FIELDS}) for n in notices])


@strawberry.federation.type(keys=["id"])
class RectificationCase:
    """The rectification (整改) of one issued report by the supervised unit, one item per finding."""

    id: strawberry.ID
    activity_id: str
    jurisdiction: str
    unit_kind: str
    unit_id: str
    unit_name: str
    activity_title: str
    status: str
    opened_at: datetime
    version: int
    items: list[RectificationItem]

    @classmethod
    async def resolve_reference(cls, info: strawberry.Info, id: strawberry.ID) -> RectificationCase | None:
        caller(info, UNIT_READERS)
        return await info.context["cases"].load(str(id))


@strawberry.type
class RectificationCaseConnection:
    nodes: list[RectificationCase]
    page_info: PageInfo


@strawberry.federation.type(keys=["id"])
class Measure:
    """A measure that makes results bite: an interview (约谈), circular (通报), accountability decision (问责) or
    commendation (表彰), where it stands, and what each of its events recorded (`details`)."""

    id: strawberry.ID
    kind: str = strawberry.field(description="interview, circular, decision or commendation")
    jurisdiction: str
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

    @classmethod
    def of(cls, r: dict[str, Any]) -> Measure:
        fields = (
            "kind",
            "jurisdiction",
            "unit_kind",
            "unit_id",
            "unit_name",
            "status",
            "trigger",
            "details",
            "public_text",
            "published_on",
            "version",
        )
        case_id = strawberry.ID(str(r["case_id"])) if r["case_id"] else None
        return cls(id=strawberry.ID(str(r["id"])), case_id=case_id, **{k: r[k] for k in fields})

    @classmethod
    async def resolve_reference(cls, info: strawberry.Info, id: strawberry.ID) -> Measure | None:
        caller(info, UNIT_READERS)
        return await info.context["measures"].load(str(id))


@strawberry.type
class MeasureConnection:
    nodes: list[Measure]
    page_info: PageInfo


@strawberry.type
class CasesOf:
    """The cases of one unit, or opened from one activity."""

    key: str
    cases: list[RectificationCase]


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


@strawberry.type
class PublicOutcome:
    """A published circular, accountability decision or commendation (结果向社会公布)."""

    id: strawberry.ID
    kind: str
    kind_label_zh: str
    jurisdiction: str
    unit_name: str
    trigger: str | None
    trigger_label_zh: str | None
    public_text: str | None
    published_on: date | None
    public_version: int | None = strawberry.field(description="1, then one more for each correction published")
    sanctions: list[str] = strawberry.field(description="a decision's sanctions on a private school, as codes")
    sanctions_label_zh: list[str] = strawberry.field(description="the same sanctions in Chinese, e.g. 吊销办学许可证")


def _today(info: strawberry.Info) -> date:
    return info.context["request"].app.state.clock.today()


async def _cases(conn, rows: list[dict[str, Any]]) -> list[RectificationCase]:
    """Cases with their items and each item's notices: one query for all the items, one for all the notices."""
    ids = [r["id"] for r in rows]
    items: dict[Any, list[dict]] = defaultdict(list)
    notices: dict[tuple[Any, str], list[dict]] = defaultdict(list)
    if ids:
        for i in await projections.item_rows(conn, ids):
            items[i["case_id"]].append(i)
        for n in await projections.notice_rows(conn, ids):
            notices[n["case_id"], n["item_id"]].append(n)
    fields = (
        "activity_id",
        "jurisdiction",
        "unit_kind",
        "unit_id",
        "unit_name",
        "activity_title",
        "status",
        "opened_at",
        "version",
    )
    return [
        RectificationCase(
            id=strawberry.ID(str(r["id"])),
            **{k: r[k] for k in fields},
            items=[RectificationItem.of(i, notices[r["id"], i["item_id"]]) for i in items[r["id"]]],
        )
        for r in rows
    ]


@strawberry.federation.type(
    keys=["id"], description="A school of the registry; this subgraph adds its rectification cases."
)
class School:
    id: strawberry.ID

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> School:
        return cls(id=id)

    @strawberry.field(description="The school's rectification cases (整改), oldest first.")
    async def cases(self, info: strawberry.Info) -> list[RectificationCase]:
        caller(info, UNIT_READERS)
        return await info.context["cases_of_unit"].load(str(self.id))


async def _cases_of_units(
    pool: Any, principal: Principal, unit_ids: list[str], open_only: bool = False
) -> list[CasesOf]:
    async with pool.acquire() as conn:
        rows = await projections.cases_of(conn, unit_ids=unit_ids, open_only=open_only)
        visible = [r for r in rows if sees(principal, r["jurisdiction"], r["unit_id"])]
        return _grouped(unit_ids, visible, await _cases(conn, visible), "unit_id")


def _grouped(keys: list[str], rows: list[dict[str, Any]], cases: list[RectificationCase], key_of: str) -> list[CasesOf]:
    found: dict[str, list[RectificationCase]] = {k: [] for k in keys}
    for row, case in zip(rows, cases, strict=True):
        if row[key_of] in found:
            found[row[key_of]].append(case)
    return [CasesOf(key=k, cases=found[k]) for k in keys]


@strawberry.type
class Query:
    changes = change_feed.field("accountability")
    audit = audit_trail.field("accountability")

    @strawberry.field
    async def accountability_summary(
        self, info: strawberry.Info, jurisdiction: str | None = None
    ) -> AccountabilitySummary:
        code = within(caller(info, UNIT_READERS), jurisdiction)
        # with its measures counted (a field of the summary)
        remembered_over(info, *projections.SUMMARY.projections, *projections.COUNTS.projections)
        async with info.context["pool"].acquire() as conn:
            return AccountabilitySummary(**await projections.summary(conn, within=code, today=_today(info)))

    @strawberry.field
    async def rectification_cases(
        self,
        info: strawberry.Info,
        jurisdiction: str | None = None,
        unit_id: str | None = None,
        status: str | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> RectificationCaseConnection:
        principal = caller(info, UNIT_READERS)
        code, unit_id = within(principal, jurisdiction), subgraph.listed_unit(principal, unit_id)
        limit, position = subgraph.page(first, after)
        async with info.context["pool"].acquire() as conn:
            rows = await projections.case_page(
                conn, within=code, unit_id=unit_id, status=status, after=position, limit=limit
            )
            return RectificationCaseConnection(nodes=await _cases(conn, rows), page_info=PageInfo.of(rows, limit))

    @strawberry.field(
        description="Interviews, circulars, decisions and commendations (kind: one of them), a page at a time."
    )
    async def measures(
        self,
        info: strawberry.Info,
        jurisdiction: str | None = None,
        kind: str | None = None,
        unit_id: str | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> MeasureConnection:
        principal = caller(info, UNIT_READERS)
        code, unit_id = within(principal, jurisdiction), subgraph.listed_unit(principal, unit_id)
        if kind is not None and kind not in projections.KINDS.values():
            allowed = ", ".join(projections.KINDS.values())
            raise GraphQLError(
                f"kind must be one of {allowed}", extensions={"status": 422, "rule": "enum", "field": "kind"}
            )
        limit, position = subgraph.page(first, after)
        async with info.context["pool"].acquire() as conn:
            rows = await projections.measure_page(
                conn, kind=kind, within=code, unit_id=unit_id, after=position, limit=limit
            )
        return MeasureConnection(nodes=[Measure.of(r) for r in rows], page_info=PageInfo.of(rows, limit))

    @strawberry.field(
        description="Cases of many units in one call, for the gateway's batching; openOnly leaves closed cases out."
    )
    async def cases_for_units(
        self, info: strawberry.Info, unit_ids: list[str], open_only: bool = False
    ) -> list[CasesOf]:
        return await _cases_of_units(info.context["pool"], caller(info, UNIT_READERS), unit_ids, open_only)

    @strawberry.field(description="The cases opened from many activities' issued reports, in one call.")
    async def cases_for_activities(self, info: strawberry.Info, activity_ids: list[str]) -> list[CasesOf]:
        principal = caller(info, UNIT_READERS)
        async with info.context["pool"].acquire() as conn:
            rows = await projections.cases_of(conn, activity_ids=activity_ids)
            visible = [r for r in rows if sees(principal, r["jurisdiction"], r["unit_id"])]
            return _grouped(activity_ids, visible, await _cases(conn, visible), "activity_id")

    @strawberry.field
    async def restrictions(self, info: strawberry.Info, jurisdiction: str | None = None) -> list[Restriction]:
        principal = caller(info, UNIT_READERS)
        code, unit_id = within(principal, jurisdiction), subgraph.listed_unit(principal, None)
        async with info.context["pool"].acquire() as conn:
            rows = await projections.restrictions(conn, within=code, unit_id=unit_id, today=_today(info))
        fields = ("name", "post", "unit_id", "unit_name", "jurisdiction", "restricted_until")
        return [
            Restriction(**{k: r[k] for k in fields}, circular_id=strawberry.ID(str(r["circular_id"]))) for r in rows
        ]

    @strawberry.field(description="Published circulars, accountability decisions and commendations. No token needed.")
    async def public_outcomes(
        self, info: strawberry.Info, jurisdiction: str, first: int = 50, after: str | None = None
    ) -> list[PublicOutcome]:
        subgraph.division(jurisdiction)
        limit, position = subgraph.page(first, after)
        async with info.context["pool"].acquire() as conn:
            rows = await projections.public_outcomes(conn, within=jurisdiction, after=position, limit=limit)
        fields = (
            "kind",
            "kind_label_zh",
            "jurisdiction",
            "unit_name",
            "trigger",
            "trigger_label_zh",
            "public_text",
            "published_on",
            "public_version",
            "sanctions",
            "sanctions_label_zh",
        )
        return [PublicOutcome(id=strawberry.ID(str(r["id"])), **{k: r[k] for k in fields}) for r in rows]


schema = strawberry.federation.Schema(
    query=Query, types=[RectificationCase, Measure, School], extensions=subgraph.extensions()
)


def _as_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _loaders(request: Request, principal: Principal | None) -> dict[str, Any]:
    async def load(ids: list[str]) -> list[RectificationCase | None]:
        """Cases by id in one go; None for an id that is no UUID, unknown, or outside the caller's jurisdiction."""
        wanted = {i: _as_uuid(i) for i in ids}
        valid = [u for u in wanted.values() if u is not None]
        found: dict[uuid.UUID, RectificationCase] = {}
        if valid and principal is not None:
            async with request.app.state.pool.acquire() as conn:
                rows = [
                    r
                    for r in await projections.cases_by_id(conn, valid)
                    if sees(principal, r["jurisdiction"], r["unit_id"])
                ]
                found = {uuid.UUID(c.id): c for c in await _cases(conn, rows)}
        return [found.get(wanted[i]) for i in ids]

    async def load_measures(ids: list[str]) -> list[Measure | None]:
        """Measures by id in one go; None for an id that is no UUID, unknown, or outside the caller's jurisdiction."""
        wanted = {i: _as_uuid(i) for i in ids}
        valid = [u for u in wanted.values() if u is not None]
        found: dict[uuid.UUID, Measure] = {}
        if valid and principal is not None:
            async with request.app.state.pool.acquire() as conn:
                rows = await projections.measures_by_id(conn, valid)
            found = {r["id"]: Measure.of(r) for r in rows if sees(principal, r["jurisdiction"], r["unit_id"])}
        return [found.get(wanted[i]) for i in ids]

    async def load_of_units(ids: list[str]) -> list[list[RectificationCase]]:
        return (
            [group.cases for group in await _cases_of_units(request.app.state.pool, principal, ids)]
            if principal
            else [[] for _ in ids]
        )

    return {
        "cases": DataLoader(load_fn=load),
        "measures": DataLoader(load_fn=load_measures),
        "cases_of_unit": DataLoader(load_fn=load_of_units),
    }


router = subgraph.router(schema, _loaders)
