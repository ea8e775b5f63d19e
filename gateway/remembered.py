"""The start page remembered whole until what it was computed from changes (decision 047).

Every office of a province opens its start page far more often than anything on it changes, and each page costs four
subgraph calls, about 4 ms of Python each, so two cores served some 70 pages a second however the services answered.
The gateway therefore keeps a whole answer, as it sent it, under:
- the key: the `Authorization` header, the body as it came, and the gateway's day (this month's coverage);
- what it was computed from: for each service it called, the marks of the projections its answer came from (each
  subgraph says so in `extensions.remembered`) and the service's day (what is overdue).

A request with the same key is answered from memory only when the token still verifies (`TokenVerifier`: its
signature, its expiry) and every service, asked on core NATS at that moment, still has the same marks and the same
day. The marks are read before the answer is computed, and every change to those tables renews its mark in the
same transaction (decision 044), so an answer from memory is never older than one computed at that moment.

Not kept: an answer with any error, one that called a service without saying what it came from (a REST read such as
the links, an entity or a list the subgraph does not declare), a request with a root field other than those in
`ROOTS`, which are known to call services only through `gateway.subgraphs`. An answer lives a minute at most.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from graphql import FieldNode, GraphQLError, get_operation_ast, parse
from nats.aio.client import Client
from opentelemetry import trace

from dudao.auth import TokenVerifier
from dudao.clock import Clock
from dudao.errors import Problem
from dudao.metrics import START_PAGES
from dudao.remembered import marks_subject

log = logging.getLogger("dudao.gateway")

ROOTS = frozenset({"dashboard"})  # root fields whose every call to a service goes through gateway.subgraphs
SIZE = 256  # answers kept, the least recently used going first
LIFETIME_S = 60.0  # as long as a verified token is remembered (decision 039)
MAX_KEY_BYTES = 16 * 1024  # a longer body is not a start page
MAX_ANSWER_BYTES = 512 * 1024
MARKS_TIMEOUT_S = 1.0


# --- what one request's answer was computed from ------------------------------------------------------------------


@dataclass
class Sources:
    """The projections each service's answers came from in one request; `whole` is false once any call's did not
    say."""

    projections: dict[str, set[str]] = field(default_factory=dict)
    whole: bool = True


SOURCES: ContextVar[Sources | None] = ContextVar("dudao_gateway_sources", default=None)


def heard(service: str, body: dict[str, Any]) -> None:
    """A subgraph's GraphQL answer: what it says it was computed from, or that it does not say."""
    sources = SOURCES.get()
    if sources is None:
        return
    declared = (body.get("extensions") or {}).get("remembered")
    if isinstance(declared, list) and all(isinstance(p, str) for p in declared):
        sources.projections.setdefault(service, set()).update(declared)
    else:
        sources.whole = False


def unsaid() -> None:
    """A call whose answer says nothing of what it came from (a REST read)."""
    sources = SOURCES.get()
    if sources is not None:
        sources.whole = False


# --- the services' marks, asked on core NATS ---------------------------------------------------------------------

Marks = dict[str, dict[str, Any]]  # service -> {"marks": {projection: mark}, "today": "YYYY-MM-DD"}


class MarksAsker:
    """Asks services what their marks are now; None when any does not answer in time (then nothing is remembered
    or answered from memory)."""

    def __init__(self, connection: Callable[[], Client | None], jurisdiction: str):
        self._connection, self._jurisdiction = connection, jurisdiction

    async def now(self, services: list[str]) -> Marks | None:
        nc = self._connection()
        if nc is None:
            return None
        try:
            replies = await asyncio.gather(
                *(nc.request(marks_subject(self._jurisdiction, s), b"", timeout=MARKS_TIMEOUT_S) for s in services)
            )
            return {s: json.loads(r.data) for s, r in zip(services, replies, strict=True)}
        except Exception as e:  # no responder, a timeout, a closed connection: compute as without memory
            log.debug("marks not known: %s", e)
            return None


@dataclass(frozen=True)
class Kept:
    body: bytes
    content_type: bytes
    sources: dict[str, tuple[str, tuple[tuple[str, str], ...]]]  # service -> (its day, (projection, mark)...)
    until: float

    def holds(self, marks: Marks) -> bool:
        return all(
            marks[s]["today"] == today and all(marks[s]["marks"].get(p) == m for p, m in pinned)
            for s, (today, pinned) in self.sources.items()
        )


def pinned(sources: Sources, marks: Marks) -> dict[str, tuple[str, tuple[tuple[str, str], ...]]] | None:
    """What an answer came from, with the marks read before it was computed; None when any is unknown."""
    found = {}
    for service, projections in sources.projections.items():
        read = marks.get(service)
        if read is None or any(p not in read["marks"] for p in projections):
            return None  # a projection without a mark is not remembered
        found[service] = (read["today"], tuple((p, read["marks"][p]) for p in sorted(projections)))
    return found


@functools.lru_cache(maxsize=512)
def _may_remember(query: str, operation: str | None) -> bool:
    """Whether the query's operation asks only for `ROOTS` (and `__typename`), each as a plain field."""
    try:
        found = get_operation_ast(parse(query), operation)
    except GraphQLError:
        return False
    if found is None or found.operation.value != "query":
        return False
    return all(
        isinstance(n, FieldNode) and n.name.value in ROOTS | {"__typename"} for n in found.selection_set.selections
    )


def may_remember(body: bytes) -> bool:
    try:
        request = json.loads(body)
    except ValueError:
        return False
    if not isinstance(request, dict) or not isinstance(query := request.get("query"), str):
        return False
    operation = request.get("operationName")
    return _may_remember(query, operation if isinstance(operation, str) else None)


# --- the middleware ------------------------------------------------------------------------------------------------


class RememberedAnswers:
    """ASGI middleware in front of the gateway's `/graphql` (inside the access log and the tracing)."""

    def __init__(
        self,
        app: Any,
        *,
        marks: MarksAsker,
        services: list[str],
        verifier: TokenVerifier,
        clock: Callable[[], Clock],
        route: Any,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.app, self.marks, self.services, self.verifier = app, marks, services, verifier
        self.clock, self.route, self.monotonic = clock, route, monotonic
        self.answers: OrderedDict[tuple[bytes, bytes, str], Kept] = OrderedDict()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/graphql":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        authorization, length = headers.get(b"authorization"), headers.get(b"content-length", b"")
        twice = sum(name == b"authorization" for name, _ in scope["headers"]) > 1  # which would the app take?
        if not authorization or twice or not length.isdigit() or int(length) > MAX_KEY_BYTES:
            await self.app(scope, receive, send)
            return
        body, receive = await _read_body(receive)
        key = (authorization, body, self.clock().today().isoformat())
        caller = self._caller(authorization)
        if caller is None:  # the app refuses it in its own words
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})["caller"] = caller  # for the access log
        if await self._answer_from_memory(key, scope, send):
            return
        if not may_remember(body):
            await self.app(scope, receive, send)
            return
        await self._compute_and_keep(key, scope, receive, send)

    def _caller(self, authorization: bytes) -> Any:
        scheme, _, token = authorization.decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        try:
            return self.verifier.verify(token.strip())
        except Problem:
            return None

    async def _answer_from_memory(self, key: tuple[bytes, bytes, str], scope: dict, send: Any) -> bool:
        kept = self.answers.get(key)
        if kept is None:
            return False
        if self.monotonic() >= kept.until:
            self.answers.pop(key, None)
            return False
        marks = await self.marks.now(sorted(kept.sources))
        if marks is None or not kept.holds(marks):
            self.answers.pop(key, None)
            return False
        self.answers.move_to_end(key)
        START_PAGES.add(1, {"answered": "from_memory"})
        scope["route"] = self.route  # as the app would have routed it, for the access log and the span's name
        trace.get_current_span().set_attribute("dudao.remembered", True)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", kept.content_type), (b"content-length", str(len(kept.body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": kept.body})
        return True

    async def _compute_and_keep(self, key: tuple[bytes, bytes, str], scope: dict, receive: Any, send: Any) -> None:
        before = await self.marks.now(self.services)  # read before the answer is computed (decision 044)
        sources, status, content_type, chunks = Sources(), 0, b"", []

        async def sending(message: dict) -> None:
            nonlocal status, content_type
            if message["type"] == "http.response.start":
                status = message["status"]
                content_type = dict(message.get("headers") or []).get(b"content-type", b"application/json")
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        token = SOURCES.set(sources)
        try:
            await self.app(scope, receive, sending)
        finally:
            SOURCES.reset(token)
        body = b"".join(chunks)
        found = None
        if before is not None and status == 200 and sources.whole and len(body) <= MAX_ANSWER_BYTES:
            found = pinned(sources, before) if _without_errors(body) else None
        START_PAGES.add(1, {"answered": "computed" if found is None else "kept"})
        if found is None:
            return
        self.answers[key] = Kept(body, content_type, found, self.monotonic() + LIFETIME_S)
        self.answers.move_to_end(key)
        while len(self.answers) > SIZE:
            self.answers.popitem(last=False)


def _without_errors(body: bytes) -> bool:
    try:
        answer = json.loads(body)
    except ValueError:
        return False
    return isinstance(answer, dict) and isinstance(answer.get("data"), dict) and not answer.get("errors")


async def _read_body(receive: Any) -> tuple[bytes, Any]:
    """The request's body, and a `receive` that gives it to the app again."""
    chunks, more = [], True
    while more:
        message = await receive()
        if message["type"] != "http.request":  # the client went away: the app sees it as it came
            return b"".join(chunks), _replay([message], then=receive)
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    return body, _replay([{"type": "http.request", "body": body, "more_body": False}], then=receive)


def _replay(messages: list[dict], then: Any) -> Any:
    async def receive() -> dict:
        if messages:
            return messages.pop(0)
        return await then()

    return receive
