"""Live updates: the `caseUpdated` and `activityUpdated` subscriptions (graphql-transport-ws), fed from NATS.

How it works, and why this way:
- One NATS connection per gateway process, one core subscription per kind of aggregate
  (`dudao.*.accountability.RectificationCase.>`, `dudao.*.inspection.Activity.>`): what the relays publish to
  JetStream reaches core subscribers too. The gateway is a read-side fan-out, not a consumer of record: nothing is
  stored, and an event published while NATS is away is not replayed (a client re-reads with a query after a
  reconnect). The connection is made in the background, so the gateway starts and answers queries without NATS.
- Each event goes to every subscriber of its kind through a bounded queue of its own; a slow subscriber loses its
  oldest updates and never holds up the others.
- Scope: only some events (the creation event above all) carry the aggregate's jurisdiction. The feed remembers
  the jurisdiction of every case and activity it has seen (a bounded map; a jurisdiction never changes), and an event
  whose jurisdiction is known is delivered only inside that jurisdiction, without any call. When it is not known
  (the aggregate was created before this process started), the subscriber asks the service for the case or activity
  with its own token: the service decides what the caller may see (nothing: not delivered), and its answer gives the
  jurisdiction, which the feed then remembers. That costs a subgraph call now and then, where replaying every
  creation event from the streams at start would cost time and memory growing with history.
- Who: a subscription verifies the token itself (the gateway only forwards tokens for queries): from the
  `connection_init` payload (`{"Authorization": "Bearer …"}`, or `authorization` / `token`), else the upgrade
  request's Authorization header; it ends when the token expires. `jurisdiction` defaults to the caller's and must
  lie inside it.
- What: each update carries the event's name and time, and resolves the case or activity from the read model with
  the subscriber's token (fresh DataLoaders per update, so nothing goes stale); the read model may lag the event by
  milliseconds, so a brand-new case can still resolve to null.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict, deque
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import Any

import strawberry
from graphql import GraphQLError
from nats.aio.client import Client
from nats.aio.msg import Msg
from opentelemetry import trace

from dudao import bus, telemetry
from dudao import jurisdiction as divisions
from dudao.auth import Principal, bearer_token
from dudao.errors import Problem, Unauthorized
from dudao.subgraph import problem, within
from dudao.telemetry import why
from gateway.accountability import RectificationCase
from gateway.inspection import Activity
from gateway.loaders import Loaders
from gateway.types import Jurisdiction, loaders_of

log = logging.getLogger("dudao.gateway.live")

CASES, ACTIVITIES = "case", "activity"
SUBJECTS = {
    CASES: bus.aggregate_subjects("*", "accountability", "RectificationCase"),
    ACTIVITIES: bus.aggregate_subjects("*", "inspection", "Activity"),
}


@dataclass(frozen=True)
class Change:
    """One event about a case or an activity, as the feed hands it on."""

    aggregate_id: str
    event: str
    at: datetime | None
    jurisdiction: str | None  # None: the event does not say, and the feed has not learnt it yet


class Subscriber:
    """One subscription's queue of changes inside its jurisdiction; when full, the oldest change goes."""

    def __init__(self, jurisdiction: str, size: int):
        self.jurisdiction = jurisdiction
        self.dropped = 0
        self._changes: deque[Change] = deque(maxlen=size)
        self._ready = asyncio.Event()

    def offer(self, change: Change) -> None:
        if change.jurisdiction is not None and not divisions.contains(self.jurisdiction, change.jurisdiction):
            return
        if len(self._changes) == self._changes.maxlen:
            self.dropped += 1
        self._changes.append(change)
        self._ready.set()

    async def next(self) -> Change:
        while not self._changes:
            self._ready.clear()
            await self._ready.wait()
        return self._changes.popleft()


class Feed(bus.InBackground):
    """The gateway's one NATS connection for live updates, fanned out to in-process subscribers."""

    def __init__(self, nats_url: str, *, backlog: int = 100, remembered: int = 100_000):
        self._url, self._backlog, self._remembered = nats_url, backlog, remembered
        self._subscribers: dict[str, set[Subscriber]] = {kind: set() for kind in SUBJECTS}
        self._places: OrderedDict[str, str] = OrderedDict()
        self._tracer = telemetry.tracer("dudao.gateway.live")
        self.following = False

    def connection(self) -> Client | None:
        """The connection while it is up (the start page's marks are asked on it too: decision 047)."""
        return self._nc if self._nc is not None and self._nc.is_connected else None

    async def close(self) -> None:
        await super().close()
        self.following = False

    async def _run(self) -> None:
        try:
            self._nc = await bus.connect(self._url, "gateway-live")  # keeps trying until NATS answers
            for kind, subject in SUBJECTS.items():
                await self._nc.subscribe(subject, cb=partial(self._on_message, kind))
            await self._nc.flush()
            self.following = True
            log.info("live updates follow %s", ", ".join(SUBJECTS.values()))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("live updates are off: subscribing to NATS failed")

    @contextlib.contextmanager
    def subscribe(self, kind: str, jurisdiction: str) -> Iterator[Subscriber]:
        subscriber = Subscriber(jurisdiction, self._backlog)
        self._subscribers[kind].add(subscriber)
        try:
            yield subscriber
        finally:
            self._subscribers[kind].discard(subscriber)

    def subscribers(self, kind: str) -> int:
        return len(self._subscribers[kind])

    def remember(self, aggregate_id: str, jurisdiction: str) -> None:
        self._places[aggregate_id] = jurisdiction
        self._places.move_to_end(aggregate_id)
        while len(self._places) > self._remembered:
            self._places.popitem(last=False)

    async def _on_message(self, kind: str, msg: Msg) -> None:
        try:
            body = bus.loads(msg.data)
            aggregate_id, data = str(body["aggregate_id"]), body.get("data") or {}
        except (ValueError, KeyError, TypeError) as e:
            log.warning("live: unreadable message on %s: %s", msg.subject, why(e))
            return
        code = data.get("jurisdiction")
        if isinstance(code, str) and divisions.is_valid_code(code):
            self.remember(aggregate_id, code)
        else:
            code = self._places.get(aggregate_id)
        change = Change(aggregate_id, bus.event_of(msg.subject), _time(data.get("timestamp")), code)
        with self._tracer.start_as_current_span(
            f"fan out {kind}.{change.event}",
            context=telemetry.context_from(msg.headers),
            kind=trace.SpanKind.CONSUMER,
            attributes={"dudao.subscribers": len(self._subscribers[kind])},
        ):
            for subscriber in list(self._subscribers[kind]):
                subscriber.offer(change)


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


# --- the subscriptions ----------------------------------------------------------------------------------------


def _token_in(params: Any) -> str | None:
    """The token in a `connection_init` payload: `Authorization: Bearer …`, `authorization`, or `token`."""
    if not isinstance(params, dict):
        return None
    for key in ("Authorization", "authorization", "token"):
        value = params.get(key)
        if isinstance(value, str) and value.strip():
            scheme, _, rest = value.strip().partition(" ")
            return rest.strip() if scheme.lower() == "bearer" and rest.strip() else value.strip()
    return None


def _token_of(info: strawberry.Info) -> str:
    """The subscriber's token: from `connection_init`, else the upgrade request's Authorization header."""
    token = _token_in(info.context.get("connection_params")) or bearer_token(info.context["request"])
    if token is None:
        raise problem(
            Unauthorized(
                'a subscription needs a bearer token: send {"Authorization": "Bearer …"} in connection_init',
                field="Authorization",
            )
        )
    return token


def _verified(info: strawberry.Info, token: str) -> Principal:
    """The token's principal, or a GraphQL error (401) saying what is wrong with it."""
    try:
        return info.context["request"].app.state.verifier.verify(token)
    except Problem as e:
        raise problem(e) from None


async def _look_up(
    app: Any, token: str, kind: str, aggregate_id: str, loaders: Loaders, attempts: int = 3
) -> tuple[Any, Loaders]:
    """The case or activity a change is about, asked as the caller. A service that is slow or away, or whose read
    model has not caught up yet, is asked again (with fresh loaders, which keep nothing) before the change is given up."""
    for attempt in range(1, attempts + 1):
        try:
            found = await (loaders.cases if kind == CASES else loaders.activities).load(aggregate_id)
            if found is not None:
                return found, loaders
        except GraphQLError as e:
            log.warning(
                "live: %s %s not resolved (attempt %d of %d): %s", kind, aggregate_id, attempt, attempts, e.message
            )
        if attempt < attempts:
            await asyncio.sleep(0.5 * attempt)
            loaders = Loaders(app.state.subgraphs, token)
    return None, loaders


async def _changes(info: strawberry.Info, kind: str, jurisdiction: str | None) -> AsyncIterator[Change]:
    """The changes of `kind` the caller may see in the asked jurisdiction's subtree, each with fresh DataLoaders."""
    token = _token_of(info)
    code = within(_verified(info, token), jurisdiction)
    app = info.context["request"].app
    feed: Feed = app.state.live
    with feed.subscribe(kind, code) as subscriber:
        while True:
            change = await subscriber.next()
            _verified(info, token)  # a subscription lasts no longer than its token
            loaders = Loaders(app.state.subgraphs, token)
            if change.jurisdiction is None:  # the event does not say where: ask the service, as the caller
                found, loaders = await _look_up(app, token, kind, change.aggregate_id, loaders)
                if found is None:
                    continue
                feed.remember(change.aggregate_id, found.jurisdiction_code)
                if not divisions.contains(code, found.jurisdiction_code):
                    continue
                change = replace(change, jurisdiction=found.jurisdiction_code)
            # The connection's context is shared by its operations; each update gets loaders that see the read model
            # now, with the verified token (a browser cannot put it in the upgrade request's headers).
            info.context["loaders"] = loaders
            yield change


@strawberry.type(description="A rectification case changed (整改动态).")
class CaseUpdate:
    case_id: strawberry.ID
    event: str = strawberry.field(description="What happened: Opened, FeedbackGiven, ItemReported, NoticeIssued, …")
    at: datetime | None = strawberry.field(description="When it was recorded.")
    jurisdiction_code: strawberry.Private[str]

    @strawberry.field
    def jurisdiction(self) -> Jurisdiction:
        return Jurisdiction.of(self.jurisdiction_code)

    @strawberry.field(description="The case as the read model shows it now (null until the read model has a new case).")
    async def case(self, info: strawberry.Info) -> RectificationCase | None:
        return await loaders_of(info).cases.load(str(self.case_id))


@strawberry.type(description="A supervision activity changed (督导活动动态).")
class ActivityUpdate:
    activity_id: strawberry.ID
    event: str = strawberry.field(description="What happened: Planned, TeamAssigned, FindingsRecorded, ReportIssued, …")
    at: datetime | None = strawberry.field(description="When it was recorded.")
    jurisdiction_code: strawberry.Private[str]

    @strawberry.field
    def jurisdiction(self) -> Jurisdiction:
        return Jurisdiction.of(self.jurisdiction_code)

    @strawberry.field(
        description="The activity as the read model shows it now (null until the read model has a new one)."
    )
    async def activity(self, info: strawberry.Info) -> Activity | None:
        return await loaders_of(info).activities.load(str(self.activity_id))


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Changes to rectification cases in a jurisdiction's subtree (default: the caller's)."
    )
    async def case_updated(
        self, info: strawberry.Info, jurisdiction: str | None = None
    ) -> AsyncGenerator[CaseUpdate, None]:
        async with contextlib.aclosing(_changes(info, CASES, jurisdiction)) as changes:
            async for c in changes:
                yield CaseUpdate(
                    case_id=strawberry.ID(c.aggregate_id), event=c.event, at=c.at, jurisdiction_code=c.jurisdiction
                )

    @strawberry.subscription(
        description="Changes to supervision activities in a jurisdiction's subtree (default: the caller's)."
    )
    async def activity_updated(
        self, info: strawberry.Info, jurisdiction: str | None = None
    ) -> AsyncGenerator[ActivityUpdate, None]:
        async with contextlib.aclosing(_changes(info, ACTIVITIES, jurisdiction)) as changes:
            async for c in changes:
                yield ActivityUpdate(
                    activity_id=strawberry.ID(c.aggregate_id), event=c.event, at=c.at, jurisdiction_code=c.jurisdiction
                )
