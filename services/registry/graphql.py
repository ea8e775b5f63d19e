"""The registry's Federation-2 subgraph: School and Inspector entities keyed by id, and their lists."""

from __future__ import annotations

import uuid
from typing import Any

import strawberry
from fastapi import Request
from graphql import GraphQLError
from strawberry.dataloader import DataLoader
from strawberry.fastapi import GraphQLRouter

from dudao import jurisdiction
from dudao.auth import Principal, bearer_token
from dudao.errors import Problem, Unauthorized
from dudao.service import decode_cursor, page_cursor
from services.registry.projections import directory as projections
from services.registry.domain import Employment, Ownership, Stage


def _problem(e: Problem) -> GraphQLError:
    return GraphQLError(e.detail, extensions={"status": e.status, "rule": e.rule, "field": e.field})


def _principal(info: strawberry.Info) -> Principal:
    context = info.context
    if context["principal"] is None:
        raise _problem(context["auth_error"])
    return context["principal"]


@strawberry.federation.type(keys=["id"])
class School:
    id: strawberry.ID
    name: str
    jurisdiction: str
    stage: str
    stage_label_zh: str
    ownership: str
    ownership_label_zh: str
    enrolment: int
    version: int

    @classmethod
    def of(cls, row: dict[str, Any]) -> School:
        stage, ownership = Stage(row["stage"]), Ownership(row["ownership"])
        return cls(
            id=strawberry.ID(str(row["id"])),
            name=row["name"],
            jurisdiction=row["jurisdiction"],
            stage=stage.value,
            stage_label_zh=stage.label_zh,
            ownership=ownership.value,
            ownership_label_zh=ownership.label_zh,
            enrolment=row["enrolment"],
            version=row["version"],
        )

    @classmethod
    async def resolve_reference(cls, info: strawberry.Info, id: strawberry.ID) -> School | None:
        _principal(info)
        return await info.context["schools"].load(str(id))


@strawberry.federation.type(keys=["id"])
class Inspector:
    id: strawberry.ID
    name: str
    jurisdiction: str
    employment: str
    employment_label_zh: str
    version: int

    @classmethod
    def of(cls, row: dict[str, Any]) -> Inspector:
        employment = Employment(row["employment"])
        return cls(
            id=strawberry.ID(str(row["id"])),
            name=row["name"],
            jurisdiction=row["jurisdiction"],
            employment=employment.value,
            employment_label_zh=employment.label_zh,
            version=row["version"],
        )

    @classmethod
    async def resolve_reference(cls, info: strawberry.Info, id: strawberry.ID) -> Inspector | None:
        _principal(info)
        return await info.context["inspectors"].load(str(id))


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class SchoolConnection:
    nodes: list[School]
    page_info: PageInfo


@strawberry.type
class InspectorConnection:
    nodes: list[Inspector]
    page_info: PageInfo


def _within(principal: Principal, code: str | None) -> str:
    if code is None:
        return principal.jur
    if not jurisdiction.is_valid_code(code) or not principal.can_act_in(code):
        raise GraphQLError(
            f"jurisdiction {code} is not a code inside your jurisdiction {principal.jur}",
            extensions={"status": 403, "rule": "outside_jurisdiction", "field": "jurisdiction"},
        )
    return code


def _page_args(first: int, after: str | None) -> tuple[int, int]:
    if not 1 <= first <= 200:
        raise GraphQLError("first must be between 1 and 200", extensions={"status": 422, "rule": "page_size", "field": "first"})
    try:
        return first, decode_cursor(after, "after")
    except Problem as e:
        raise _problem(e) from None


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
    @strawberry.field
    async def schools(
        self,
        info: strawberry.Info,
        jurisdiction: str | None = None,
        stage: str | None = None,
        ownership: str | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> SchoolConnection:
        within = _within(_principal(info), jurisdiction)
        limit, position = _page_args(first, after)
        async with info.context["pool"].acquire() as conn:
            rows = await projections.school_page(
                conn,
                within=within,
                stage=_enum(Stage, stage, "stage"),
                ownership=_enum(Ownership, ownership, "ownership"),
                after=position,
                limit=limit,
            )
        cursor = page_cursor(rows, limit)
        return SchoolConnection(nodes=[School.of(r) for r in rows], page_info=PageInfo(has_next_page=bool(cursor), end_cursor=cursor))

    @strawberry.field
    async def school(self, info: strawberry.Info, id: strawberry.ID) -> School | None:
        _principal(info)
        return await info.context["schools"].load(str(id))

    @strawberry.field
    async def inspectors(
        self,
        info: strawberry.Info,
        jurisdiction: str | None = None,
        employment: str | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> InspectorConnection:
        within = _within(_principal(info), jurisdiction)
        limit, position = _page_args(first, after)
        async with info.context["pool"].acquire() as conn:
            rows = await projections.inspector_page(
                conn, within=within, employment=_enum(Employment, employment, "employment"), after=position, limit=limit
            )
        cursor = page_cursor(rows, limit)
        return InspectorConnection(
            nodes=[Inspector.of(r) for r in rows], page_info=PageInfo(has_next_page=bool(cursor), end_cursor=cursor)
        )

    @strawberry.field
    async def inspector(self, info: strawberry.Info, id: strawberry.ID) -> Inspector | None:
        _principal(info)
        return await info.context["inspectors"].load(str(id))


schema = strawberry.federation.Schema(query=Query, types=[School, Inspector])


def _loader(request: Request, principal: Principal | None, fetch, of) -> DataLoader:
    """Batch lookups by id; rows outside the caller's jurisdiction read as missing."""

    async def load(ids: list[str]) -> list[Any]:
        valid = [i for i in ids if _is_uuid(i)]
        async with request.app.state.pool.acquire() as conn:
            rows = {str(r["id"]): r for r in await fetch(conn, valid)} if valid else {}
        visible = {k: r for k, r in rows.items() if principal is not None and principal.can_act_in(r["jurisdiction"])}
        return [of(visible[i]) if i in visible else None for i in ids]

    return DataLoader(load_fn=load)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
        return True
    except ValueError:
        return False


async def _context(request: Request) -> dict[str, Any]:
    principal, auth_error = None, None
    token = bearer_token(request)
    try:
        if token is None:
            raise Unauthorized("a bearer token is required", field="Authorization")
        principal = request.app.state.verifier.verify(token)
    except Problem as e:
        auth_error = e
    return {
        "request": request,
        "principal": principal,
        "auth_error": auth_error,
        "pool": request.app.state.pool,
        "schools": _loader(request, principal, projections.schools_by_id, School.of),
        "inspectors": _loader(request, principal, projections.inspectors_by_id, Inspector.of),
    }


router = GraphQLRouter(schema, path="/graphql", context_getter=_context)
