"""What every service's GraphQL subgraph shares: who is calling, problems as GraphQL errors, jurisdiction scope."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from fastapi import Request
from graphql import GraphQLError
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.fastapi import GraphQLRouter

from dudao import jurisdiction as divisions
from dudao import scope
from dudao.auth import Principal, bearer_token
from dudao.errors import Problem, Unauthorized
from dudao.routes import MAX_PAGE
from dudao.service import decode_cursor, page_cursor


def problem(e: Problem) -> GraphQLError:
    """A problem+json problem as a GraphQL error with the same status, rule and field."""
    return GraphQLError(e.detail, extensions={"status": e.status, "rule": e.rule, "field": e.field})


def authenticate(request: Request) -> tuple[Principal | None, Problem | None]:
    """The verified caller of a GraphQL request, or the problem that stops there being one (raised per field)."""
    try:
        token = bearer_token(request)
        if token is None:
            raise Unauthorized("a bearer token is required", field="Authorization")
        return request.app.state.verifier.verify(token), None
    except Problem as e:
        return None, e


def caller(info: strawberry.Info, roles: tuple[str, ...] = ()) -> Principal:
    """The verified caller, or a GraphQL error saying why there is none; with `roles`, one of them is needed
    (`dudao.scope.READERS` and its kin, as the REST routes declare them)."""
    if info.context["principal"] is None:
        raise problem(info.context["auth_error"])
    principal = info.context["principal"]
    if roles and not principal.has_any(roles):
        names = ", ".join(str(r) for r in roles)
        raise GraphQLError(f"this field is for the roles {names}", extensions={"status": 403, "rule": "role_required", "field": "roles"})
    return principal


def within(principal: Principal, code: str | None) -> str:
    """The jurisdiction asked for (the caller's own by default), refused if outside the caller's."""
    code = code or principal.jur
    if not divisions.is_valid_code(code) or not principal.can_act_in(code):
        raise GraphQLError(
            f"jurisdiction {code} is not a code inside your jurisdiction {principal.jur}",
            extensions={"status": 403, "rule": "out_of_scope", "field": "jurisdiction"},
        )
    return code


def listed_unit(principal: Principal, asked: str | None, field: str = "unit_id") -> str | None:
    """The unit a list is filtered to (a unit caller's own; another unit asked for is refused), as GraphQL says it."""
    try:
        return scope.listed_unit(principal, asked, field)
    except Problem as e:
        raise problem(e) from None


def listed_inspector(principal: Principal, asked: str | None, field: str = "inspectorId") -> str | None:
    """The team member a list is filtered to (an inspector caller's own; another is refused), as GraphQL says it."""
    try:
        return scope.listed_inspector(principal, asked, field)
    except Problem as e:
        raise problem(e) from None


def division(code: str) -> str:
    """A division code asked for by a public read (no caller to scope by), refused with a 422 when malformed."""
    if not divisions.is_valid_code(code):
        raise GraphQLError(
            f"{code!r} is not a 6- or 9-digit division code", extensions={"status": 422, "rule": "code_format", "field": "jurisdiction"}
        )
    return code


def page(first: int, after: str | None) -> tuple[int, int]:
    """A page's size and the position after its cursor; a size outside 1..MAX_PAGE or a bad cursor is a 422."""
    if not 1 <= first <= MAX_PAGE:
        raise GraphQLError(
            f"first must be between 1 and {MAX_PAGE}", extensions={"status": 422, "rule": "page_size", "field": "first"}
        )
    try:
        return first, decode_cursor(after, "after")
    except Problem as e:
        raise problem(e) from None


@strawberry.type
class PageInfo:
    """Where a page of a connection ends: pass `endCursor` as `after` for the next page while `hasNextPage`."""

    has_next_page: bool
    end_cursor: str | None

    @classmethod
    def of(cls, rows: list[dict], limit: int) -> PageInfo:
        """The page info of `rows` read by position with `limit` (a full page may have more after it)."""
        cursor = page_cursor(rows, limit)
        return cls(has_next_page=bool(cursor), end_cursor=cursor)


def cached() -> list:
    """Schema extensions that keep parsed and validated documents: a gateway sends the same few queries again and again."""
    return [ParserCache(maxsize=512), ValidationCache(maxsize=512)]


def router(schema: strawberry.Schema, loaders: Callable[[Request, Principal | None], dict[str, Any]] | None = None) -> GraphQLRouter:
    """A service's `/graphql`: each request's context holds the caller (or why there is none), the read pool,
    and the service's own per-request DataLoaders."""

    async def context(request: Request) -> dict[str, Any]:
        principal, auth_error = authenticate(request)
        found = {"request": request, "principal": principal, "auth_error": auth_error, "pool": request.app.state.pool}
        return found | (loaders(request, principal) if loaders else {})

    return GraphQLRouter(schema, path="/graphql", context_getter=context)
