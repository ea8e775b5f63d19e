"""What every service's GraphQL subgraph shares: who is calling, problems as GraphQL errors, jurisdiction scope."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import strawberry
from fastapi import Depends
from graphql import GraphQLError, Visitor, visit
from starlette.requests import HTTPConnection, Request
from strawberry.extensions import MaskErrors, MaxTokensLimiter, ParserCache, SchemaExtension
from strawberry.fastapi import GraphQLRouter
from strawberry.schema.schema import validate_document
from strawberry.types.nodes import SelectedField, Selection

from dudao import jurisdiction as divisions
from dudao import scope
from dudao.auth import Principal, bearer_token
from dudao.cursors import decode_cursor, page_cursor
from dudao.errors import DATABASE_DOWN, Problem, Unauthorized, database_unavailable
from dudao.remembered import Remembrance
from dudao.routes import MAX_PAGE

log = logging.getLogger("dudao.graphql")


class CallerErrorsQuietly(logging.Filter):
    """Strawberry logs every GraphQL error at ERROR with its traceback, a caller's own mistakes too: anyone could
    fill the error log with requests that carry no token. Here a caller's error (a 4xx: no token, out of scope, a
    bad query) is one INFO line without traceback, at most `per_minute` a minute (then one line counts those left
    out); an unexpected error is dropped here because `ServerErrors` has logged it in full with its cause."""

    def __init__(self, per_minute: int = 10) -> None:
        super().__init__()
        self.per_minute, self.window, self.used, self.dropped = per_minute, 0, 0, 0

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.msg
        if not isinstance(error, GraphQLError):
            return True
        if (error.extensions or {}).get("status", 400) >= 500:
            return False
        window = int(record.created // 60)
        if window != self.window:
            self.window, self.used = window, 0
        if self.used >= self.per_minute:
            self.dropped += 1
            return False
        self.used += 1
        rule = (error.extensions or {}).get("rule", "invalid_query")
        dropped, self.dropped = self.dropped, 0
        record.levelno, record.levelname, record.exc_info, record.exc_text, record.stack_info = (
            logging.INFO,
            "INFO",
            None,
            None,
            None,
        )
        record.msg, record.args = (
            "GraphQL request refused (%s): %s%s",
            (rule, error.message[:200], f" ({dropped} more not logged)" if dropped else ""),
        )
        return True


QUIET = CallerErrorsQuietly()
logging.getLogger("strawberry.execution").addFilter(QUIET)


def problem(e: Problem) -> GraphQLError:
    """A problem+json problem as a GraphQL error with the same status, rule and field."""
    return GraphQLError(e.detail, extensions={"status": e.status, "rule": e.rule, "field": e.field})


def authenticate(request: Request) -> tuple[Principal | None, Problem | None]:
    """The verified caller of a GraphQL request, or the problem that stops there being one (raised per field)."""
    try:
        token = bearer_token(request)
        if token is None:
            raise Unauthorized("a bearer token is required", field="Authorization")
        request.state.caller = request.app.state.verifier.verify(
            token
        )  # for the access log (dudao.telemetry.AccessLog)
        return request.state.caller, None
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
        raise GraphQLError(
            f"this field is for the roles {names}",
            extensions={"status": 403, "rule": "role_required", "field": "roles"},
        )
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


Wanted = dict[str, "Wanted"]  # a query's selection: each field's name (as the schema spells it) to its own


def wanted(info: strawberry.Info) -> Wanted:
    """What a query selects under the field being resolved, aliases and fragments merged into the fields around them:
    a resolver may leave out what costs and was not selected (a subgraph's thousands of schools; the gateway's
    question to a subgraph, `gateway.shapes.selection`), and must not otherwise."""
    tree: Wanted = {}
    for field in info.selected_fields:
        _merge(tree, field.selections)
    return tree


def _merge(tree: Wanted, selections: list[Selection]) -> None:
    for chosen in selections:
        if isinstance(chosen, SelectedField):
            _merge(tree.setdefault(chosen.name, {}), chosen.selections)
        else:  # a fragment on the same type (the types selected this way are objects, not unions)
            _merge(tree, chosen.selections)


def division(code: str) -> str:
    """A division code asked for by a public read (no caller to scope by), refused with a 422 when malformed."""
    if not divisions.is_valid_code(code):
        raise GraphQLError(
            f"{code!r} is not a 6- or 9-digit division code",
            extensions={"status": 422, "rule": "code_format", "field": "jurisdiction"},
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


def root_field(service: str, name: str) -> str:
    """The name of a root field every subgraph has with its own answer (`registryAudit`, `inspectionChanges`): one
    name in all four would be one field to a federation router, answered by whichever subgraph it picks."""
    return service + name[0].upper() + name[1:]


@strawberry.federation.type(shareable=True)
class Labelled:
    """An enum value with its Chinese label (a value type the subgraphs share)."""

    value: str
    label_zh: str

    @classmethod
    def of(cls, kind: type, value: str | None) -> Labelled | None:
        return cls(value=kind(value).value, label_zh=kind(value).label_zh) if value else None


@strawberry.federation.type(shareable=True)  # every subgraph pages alike (Federation 2: a value type they share)
class PageInfo:
    """Where a page of a connection ends: pass `endCursor` as `after` for the next page while `hasNextPage`."""

    has_next_page: bool
    end_cursor: str | None

    @classmethod
    def of(cls, rows: list[dict], limit: int) -> PageInfo:
        """The page info of `rows` read by position with `limit` (a full page may have more after it)."""
        cursor = page_cursor(rows, limit)
        return cls(has_next_page=bool(cursor), end_cursor=cursor)


class ServerErrors(MaskErrors):
    """An error a resolver did not mean to raise says what happened in words a caller can act on, with a stable
    `rule`, never the exception's text (which can name hosts, ports, SQL): `database_unavailable` while PostgreSQL
    is away, else `internal_error` (logged in full here)."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=self._unintended)

    @staticmethod
    def _unintended(error: GraphQLError) -> bool:
        return error.original_error is not None and not isinstance(error.original_error, GraphQLError)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        if isinstance(error.original_error, DATABASE_DOWN):
            problem: Problem = database_unavailable()
        else:
            log.error("unexpected error in %s", ".".join(map(str, error.path or ())), exc_info=error.original_error)
            problem = Problem("an unexpected error occurred; it has been logged", rule="internal_error")
            problem.status = 500
        return GraphQLError(
            problem.detail,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={"status": problem.status, "rule": problem.rule},
        )


# --- what one request may ask ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """Bounds on one GraphQL request, checked before the work they bound: the body before it is read whole, tokens
    while parsing, aliases and directives while validating. So a flood (200,000 aliases, 50,000 directives) is
    refused in milliseconds instead of holding the event loop for seconds."""

    max_bytes: int
    max_tokens: int
    max_aliases: int
    max_directives: int


# A subgraph's callers are the gateway (root fields batched under aliases, entity representations as variables)
# and ops tools; the gateway's own callers send what people write.
SUBGRAPH_LIMITS = Limits(max_bytes=256 * 1024, max_tokens=20_000, max_aliases=1_000, max_directives=500)


_VALIDATE = functools.lru_cache(maxsize=512)(validate_document)  # a gateway sends the same few queries again and again


class Bounded(SchemaExtension):
    """Counts a parsed document's aliases and directives (one linear walk) before validating it, and validates only
    a document within the limits: validation compares fields pairwise, so 8,000 aliases would take it seconds."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits

    def on_validate(self):  # type: ignore[override]
        context = self.execution_context
        counter = _Counter()
        visit(context.graphql_document, counter)
        over = [
            (what, found, limit)
            for what, found, limit in (
                ("aliases", counter.aliases, self.limits.max_aliases),
                ("directives", counter.directives, self.limits.max_directives),
            )
            if found > limit
        ]
        if over:
            what, found, limit = over[0]
            context.pre_execution_errors = [
                GraphQLError(
                    f"a query may use at most {limit} {what}; this one uses {found}",
                    extensions={"status": 422, "rule": f"too_many_{what}", "limit": limit},
                )
            ]
        else:
            context.pre_execution_errors = list(
                _VALIDATE(context.schema._schema, context.graphql_document, context.validation_rules)
            )
        yield


class _Counter(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.aliases = self.directives = 0

    def enter_field(self, node, *_args) -> None:
        self.aliases += node.alias is not None

    def enter_directive(self, *_args) -> None:
        self.directives += 1


def extensions(limits: Limits = SUBGRAPH_LIMITS) -> list:
    """Every schema's extensions (as factories: each request gets its own): errors in a caller's words, then the
    limits, with the parsed and validated documents cached, and what an answer was computed from."""
    return [
        Remembrance,
        ServerErrors,
        functools.partial(MaxTokensLimiter, limits.max_tokens),
        functools.partial(ParserCache, maxsize=512),
        functools.partial(Bounded, limits),
    ]


def body_limit(max_bytes: int) -> Callable[[HTTPConnection], Awaitable[None]]:
    """A dependency of a `/graphql` route: a body over `max_bytes` is a 413 before it is read whole. A websocket
    (subscriptions) has no body; its messages are bounded by the server's own frame limit."""

    async def check(request: HTTPConnection) -> None:
        if not isinstance(request, Request):
            return
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            raise _too_large(max_bytes)
        if declared is None and request.method == "POST":  # chunked: count as it comes, keep it for the handler
            body = bytearray()
            async for chunk in request.stream():
                body += chunk
                if len(body) > max_bytes:
                    raise _too_large(max_bytes)
            request._body = bytes(body)

    return check


def _too_large(max_bytes: int) -> Problem:
    problem = Problem(
        f"a GraphQL request may be at most {max_bytes // 1024} KB", field="body", rule="request_too_large"
    )
    problem.status, problem.title = 413, "Request too large"
    return problem


def graphql_router(schema: strawberry.Schema, context_getter, limits: Limits = SUBGRAPH_LIMITS) -> GraphQLRouter:
    """`/graphql` with the body limit in front (the schema carries the others: `extensions(limits)`)."""
    return GraphQLRouter(
        schema, path="/graphql", context_getter=context_getter, dependencies=[Depends(body_limit(limits.max_bytes))]
    )


def router(
    schema: strawberry.Schema, loaders: Callable[[Request, Principal | None], dict[str, Any]] | None = None
) -> GraphQLRouter:
    """A service's `/graphql`: each request's context holds the caller (or why there is none), the read pool,
    and the service's own per-request DataLoaders."""

    async def context(request: Request) -> dict[str, Any]:
        principal, auth_error = authenticate(request)
        found = {"request": request, "principal": principal, "auth_error": auth_error, "pool": request.app.state.pool}
        return found | (loaders(request, principal) if loaders else {})

    return graphql_router(schema, context)
