"""The registry's Federation-2 subgraph: School, Inspector and Zone entities, lists, committees, staffing."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import strawberry
from fastapi import Request
from graphql import GraphQLError
from strawberry.dataloader import DataLoader

from dudao import audit as audit_trail
from dudao import changes as change_feed
from dudao import jurisdiction as divisions
from dudao import subgraph
from dudao.auth import Principal
from dudao.remembered import remembered_over
from dudao.scope import OFFICES, READERS, inspector_only, sees, unit_only
from dudao.subgraph import PageInfo
from dudao.subgraph import within as scope_of
from services.registry.domain import Employment, InspectorRole, Ownership, Stage, Status
from services.registry.graphql.types import (
    Committee,
    Inspector,
    ListedInspector,
    School,
    StaffingCompliance,
    Zone,
    caller,
)
from services.registry.projections import directory, places, public
from services.registry.projections.staffing import REMEMBERED as STAFFING
from services.registry.projections.staffing import staffing_compliance


@strawberry.type
class SchoolConnection:
    nodes: list[School]
    page_info: PageInfo


@strawberry.type
class InspectorConnection:
    nodes: list[Inspector]
    page_info: PageInfo


@strawberry.type(description="A township or street (乡镇/街道) its county's office named.")
class TownshipName:
    code: str
    name: str


def _enum(kind: type, value: str | None, field: str) -> str | None:
    if value is None:
        return None
    try:
        return kind(value).value
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise GraphQLError(
            f"{field} must be one of {allowed}", extensions={"status": 422, "rule": "enum", "field": field}
        ) from None


@strawberry.type
class Query:
    changes = change_feed.field("registry")
    audit = audit_trail.field("registry")

    @strawberry.field
    async def schools(
        self,
        info: strawberry.Info,
        jurisdiction: str | None = None,
        stage: str | None = None,
        ownership: str | None = None,
        zone_id: strawberry.ID | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> SchoolConnection:
        principal = caller(info, READERS)
        within = scope_of(principal, jurisdiction)
        limit, position = subgraph.page(first, after)
        zone = str(zone_id) if zone_id and _is_uuid(str(zone_id)) else None
        async with info.context["pool"].acquire() as conn:
            rows = await directory.school_page(
                conn,
                within=within,
                stage=_enum(Stage, stage, "stage"),
                ownership=_enum(Ownership, ownership, "ownership"),
                zone_id=zone,
                after=position,
                limit=limit,
                school_id=unit_only(principal),
                answered_by=inspector_only(principal),
            )
        return SchoolConnection(nodes=[School.of(r) for r in rows], page_info=PageInfo.of(rows, limit))

    @strawberry.field
    async def school(self, info: strawberry.Info, id: strawberry.ID) -> School | None:
        caller(info, READERS)
        return await info.context["schools"].load(str(id))

    @strawberry.field
    async def inspectors(
        self,
        info: strawberry.Info,
        jurisdiction: str | None = None,
        employment: str | None = None,
        status: str | None = None,
        role: str | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> InspectorConnection:
        within = scope_of(caller(info, OFFICES), jurisdiction)
        limit, position = subgraph.page(first, after)
        async with info.context["pool"].acquire() as conn:
            rows = await directory.inspector_page(
                conn,
                within=within,
                employment=_enum(Employment, employment, "employment"),
                status=_enum(Status, status, "status"),
                role=_enum(InspectorRole, role, "role"),
                after=position,
                limit=limit,
            )
        return InspectorConnection(nodes=[Inspector.of(r) for r in rows], page_info=PageInfo.of(rows, limit))

    @strawberry.field
    async def inspector(self, info: strawberry.Info, id: strawberry.ID) -> Inspector | None:
        caller(info)
        return await info.context["inspectors"].load(str(id))

    @strawberry.field
    async def zones(self, info: strawberry.Info, jurisdiction: str | None = None) -> list[Zone]:
        within = scope_of(caller(info, OFFICES), jurisdiction)
        async with info.context["pool"].acquire() as conn:
            return [Zone.of(z) for z in await places.zone_page(conn, within=within)]

    @strawberry.field
    async def committee(self, info: strawberry.Info, jurisdiction: str) -> Committee | None:
        code = scope_of(caller(info, OFFICES), jurisdiction)
        async with info.context["pool"].acquire() as conn:
            row = await places.committee(conn, code, info.context["request"].app.state.settings.jurisdiction)
        return Committee.of(row) if row else None

    @strawberry.field(description="Staffing against R1–R4 for the jurisdiction's subtree in this instance.")
    async def staffing_compliance(self, info: strawberry.Info, jurisdiction: str | None = None) -> StaffingCompliance:
        code = scope_of(caller(info, OFFICES), jurisdiction)
        remembered_over(info, *STAFFING.projections)  # the effective profile is the directory's too
        async with info.context["pool"].acquire() as conn:
            return StaffingCompliance.of(await staffing_compliance(conn, code))

    @strawberry.field(description="Listed inspectors (挂牌督学) with their zones and public contacts. No token needed.")
    async def public_listed_inspectors(self, info: strawberry.Info, jurisdiction: str) -> list[ListedInspector]:
        if not divisions.is_valid_code(jurisdiction):
            raise GraphQLError(
                "not a division code", extensions={"status": 422, "rule": "code_format", "field": "jurisdiction"}
            )
        async with info.context["pool"].acquire() as conn:
            return [ListedInspector(**r) for r in await public.listed_inspectors(conn, within=jurisdiction)]

    @strawberry.field(
        description="The registered names of these townships (9-digit codes); unnamed ones are left out. No token needed."
    )
    async def township_names(self, info: strawberry.Info, codes: list[str]) -> list[TownshipName]:
        wanted = [c for c in codes[:500] if len(c) == 9 and divisions.is_valid_code(c)]
        async with info.context["pool"].acquire() as conn:
            return [
                TownshipName(code=c, name=n) for c, n in sorted((await places.township_names(conn, wanted)).items())
            ]


schema = strawberry.federation.Schema(query=Query, types=[School, Inspector, Zone], extensions=subgraph.extensions())


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
        return True
    except ValueError:
        return False


def _loader(
    request: Request,
    principal: Principal | None,
    fetch: Callable[..., Awaitable[list[dict]]],
    of: Callable[[dict], Any],
) -> DataLoader:
    """Batch lookups by id; rows outside the caller's jurisdiction read as missing."""

    async def load(ids: list[str]) -> list[Any]:
        valid = [i for i in ids if _is_uuid(i)]
        async with request.app.state.pool.acquire() as conn:
            rows = {str(r["id"]): r for r in await fetch(conn, valid)} if valid else {}
        visible = {k: r for k, r in rows.items() if principal is not None and principal.can_act_in(r["jurisdiction"])}
        return [of(visible[i]) if i in visible else None for i in ids]

    return DataLoader(load_fn=load)


def _batch(request: Request, fetch: Callable[..., Awaitable[dict]], empty: Callable[[], Any]) -> DataLoader:
    """Batch per-inspector lookups (records, zones) into one query."""

    async def load(ids: list[str]) -> list[Any]:
        valid = [i for i in ids if _is_uuid(i)]
        async with request.app.state.pool.acquire() as conn:
            found = await fetch(conn, valid) if valid else {}
        return [found.get(i, empty()) for i in ids]

    return DataLoader(load_fn=load)


def _school_loader(request: Request, principal: Principal | None) -> DataLoader:
    """Schools by id in one query, each shown only to who may read it: an office over it, the school itself, or an
    inspector who answers for it (as the REST read decides)."""

    async def load(ids: list[str]) -> list[School | None]:
        valid = [i for i in ids if _is_uuid(i)]
        visible = {}
        async with request.app.state.pool.acquire() as conn:
            for row in await directory.schools_by_id(conn, valid) if valid and principal else []:
                team = await directory.answerers(conn, row) if inspector_only(principal) else frozenset()
                if sees(principal, row["jurisdiction"], str(row["id"]), team):
                    visible[str(row["id"])] = School.of(row)
        return [visible.get(i) for i in ids]

    return DataLoader(load_fn=load)


def _loaders(request: Request, principal) -> dict[str, Any]:
    return {
        "schools": _school_loader(request, principal),
        "inspectors": _loader(request, principal, directory.inspectors_by_id, Inspector.of),
        "zones": _loader(request, principal, places.zones_by_id, Zone.of),
        "inspector_records": _batch(
            request, directory.inspector_records, lambda: {"trainings": [], "assessments": [], "ties": []}
        ),
        "zones_of_inspector": _batch(request, places.zones_listing, list),
    }


router = subgraph.router(schema, _loaders)
