"""The audit every service keeps: who did what, when, where and in which request, and any aggregate as it stood then.

One row per event this instance recorded in `<service>.audit`, fed by the service's own stream (decision 011: the
audit is of what this instance recorded, not of what crossed from its neighbours), in stream order like the change
feed (decision 013), so that a reader paging by position never passes an event that is written later. Each row
keeps the envelope's actor, correlation and trace, the aggregate's jurisdiction, and what the event changed (its
data without bookkeeping). `GET /v1/audit` and the subgraph's `audit(...)` query it; `GET /v1/audit/{id}` answers an
aggregate's state as at a version or a time from the event store itself. Only `admin` and `ops` may ask.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import asyncpg
import strawberry
from eventsourcing.application import AggregateNotFoundError
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from strawberry.scalars import JSON

from dudao import bus, subgraph
from dudao import jurisdiction as divisions
from dudao.auth import Principal, Role, require
from dudao.changes import jurisdiction_of
from dudao.consumer import Handler, InboundEvent
from dudao.cursors import decode_cursor, encode_cursor, page_cursor
from dudao.errors import InvalidInput, NotFound, Problem
from dudao.events import to_jsonable
from dudao.parts import Projection
from dudao.routes import page_size, scope
from dudao.scope import check_scope

NAME = "audit"
VERSION = 1
AUDITORS = (Role.admin.value, Role.ops.value)
BOOKKEEPING = frozenset({"timestamp", "originator_topic", "originator_id", "originator_version", "envelope"})

TABLE_SQL = """
CREATE TABLE IF NOT EXISTS {schema}.audit (
    position bigint NOT NULL,
    origin text NOT NULL,
    notification_id bigint NOT NULL,
    aggregate text NOT NULL,
    aggregate_id text NOT NULL,
    version int NOT NULL,
    event_type text NOT NULL,
    actor text NOT NULL,
    jurisdiction text NOT NULL,
    at timestamptz NOT NULL,
    correlation_id text NOT NULL,
    causation_id text NOT NULL,
    trace_id text NOT NULL,
    data jsonb NOT NULL,
    PRIMARY KEY (origin, notification_id)
);
CREATE INDEX IF NOT EXISTS audit_position ON {schema}.audit (position);
CREATE INDEX IF NOT EXISTS audit_actor ON {schema}.audit (actor, position);
CREATE INDEX IF NOT EXISTS audit_aggregate_id ON {schema}.audit (aggregate_id, position);
CREATE INDEX IF NOT EXISTS audit_aggregate ON {schema}.audit (aggregate, position);
CREATE INDEX IF NOT EXISTS audit_event_type ON {schema}.audit (event_type, position);
CREATE INDEX IF NOT EXISTS audit_jurisdiction ON {schema}.audit (jurisdiction text_pattern_ops, position);
CREATE INDEX IF NOT EXISTS audit_at ON {schema}.audit (at);
"""


def projection(service: str) -> Projection:
    """The audit read model of `service`: every event this instance recorded, in the order it recorded them."""
    return Projection(
        name=NAME,
        stream=bus.stream_name(service),
        filter_subject=bus.service_subjects(service),
        handler=_handler(service),
        tables=(NAME,),
        version=VERSION,
        ordered=True,
        ddl=TABLE_SQL.format(schema=f'"{service}"'),
    )


# --- pure helpers -------------------------------------------------------------------------------------------


def changed(data: dict[str, Any]) -> dict[str, Any]:
    """What an event changed: its data without the library's bookkeeping (timestamp, topic, ids, envelope)."""
    return {k: v for k, v in data.items() if k not in BOOKKEEPING}


def trace_id(traceparent: str) -> str:
    """The trace id of a W3C `traceparent` (`00-<trace id>-<span id>-<flags>`), or "" when there is none."""
    parts = traceparent.split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else ""


def public_state(aggregate: object) -> dict[str, Any]:
    """An aggregate's public attributes as JSON, the way events go on the wire."""
    return to_jsonable({k: v for k, v in vars(aggregate).items() if not k.startswith("_")})


def parse_time(value: str | None, field: str) -> datetime | None:
    """An ISO 8601 time asked for (UTC when it names no zone); anything else is a 422 naming `field`."""
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        example = "2026-05-01T08:00:00+08:00"
        raise InvalidInput(
            f"{value!r} is not an ISO 8601 time such as {example}", field=field, rule="time_format"
        ) from None
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if not 1900 <= parsed.year <= 9998:  # PostgreSQL refuses what falls before year 1 in UTC; nothing was recorded then
        raise InvalidInput(
            f"{value!r} lies outside the years 1900-9998 the record can cover", field=field, rule="time_range"
        )
    return parsed


@dataclass(frozen=True)
class Filters:
    """What an audit query asks for; `within` is the subtree it covers, already checked against the caller's."""

    within: str
    actor: str | None = None
    aggregate_id: str | None = None
    aggregate_type: str | None = None
    event_type: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive

    @classmethod
    def asked(
        cls, principal: Principal, jurisdiction: str | None, frm: str | None, to: str | None, **exact: str | None
    ) -> Filters:
        since, until = parse_time(frm, "from"), parse_time(to, "to")
        if since and until and until <= since:
            raise InvalidInput("to must be later than from", field="to", rule="time_range")
        return cls(
            within=scope(principal, jurisdiction), since=since, until=until, **{k: v or None for k, v in exact.items()}
        )


# --- the projection ---------------------------------------------------------------------------------------------


def _handler(service: str) -> Handler:
    table = f'"{service}".audit'
    # The jurisdiction the event states, else the aggregate's as its earlier events stated it, else one a level
    # down (a measure's unit), else the instance's: as the change feed reads it, but kept per event.
    insert = (
        f"INSERT INTO {table} (position, origin, notification_id, aggregate, aggregate_id, version, event_type, actor,"
        " jurisdiction, at, correlation_id, causation_id, trace_id, data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
        f" coalesce($9, (SELECT jurisdiction FROM {table} WHERE aggregate_id = $5 ORDER BY position DESC LIMIT 1), $10, $11),"
        " $12, $13, $14, $15, $16::jsonb) ON CONFLICT DO NOTHING"
    )

    async def record(conn: asyncpg.Connection, e: InboundEvent) -> None:
        own, nested = jurisdiction_of(e.data)
        envelope = e.envelope
        await conn.execute(
            insert,
            e.position,
            e.origin,
            e.notification_id,
            e.aggregate,
            e.aggregate_id,
            e.version,
            e.type,
            envelope.actor,
            own,
            nested,
            e.subject.split(".")[1],
            datetime.fromisoformat(e.data["timestamp"]),
            envelope.correlation_id,
            envelope.causation_id,
            trace_id(envelope.traceparent),
            json.dumps(changed(e.data), ensure_ascii=False),
        )

    return record


async def entries(
    conn: asyncpg.Connection, service: str, filters: Filters, *, after: int, limit: int
) -> list[dict[str, Any]]:
    """A page of audit entries after `after`, oldest first."""
    f = filters
    rows = await conn.fetch(
        f'SELECT * FROM "{service}".audit WHERE position > $1 AND jurisdiction LIKE ANY($2::text[])'
        " AND ($3::text IS NULL OR actor = $3) AND ($4::text IS NULL OR aggregate_id = $4)"
        " AND ($5::text IS NULL OR aggregate = $5) AND ($6::text IS NULL OR event_type = $6)"
        " AND ($7::timestamptz IS NULL OR at >= $7) AND ($8::timestamptz IS NULL OR at < $8)"
        " ORDER BY position LIMIT $9",
        after,
        divisions.patterns(f.within),
        f.actor,
        f.aggregate_id,
        f.aggregate_type,
        f.event_type,
        f.since,
        f.until,
        limit,
    )
    return [dict(r) | {"data": json.loads(r["data"])} for r in rows]


# --- REST -------------------------------------------------------------------------------------------------------

router = APIRouter(prefix="/v1/audit", tags=["audit"])
Auditor = Annotated[Principal, Depends(require(*AUDITORS))]


class AuditEntryRead(BaseModel):
    """One recorded event: who, when, what (event, aggregate, what changed), where, and in which request and trace."""

    at: datetime
    actor: str
    event_type: str
    aggregate_type: str
    aggregate_id: str
    version: int
    jurisdiction: str
    correlation_id: str
    causation_id: str
    trace_id: str
    data: dict[str, Any]

    @classmethod
    def of(cls, row: dict[str, Any]) -> AuditEntryRead:
        return cls(**{k: v for k, v in row.items() if k in cls.model_fields}, aggregate_type=row["aggregate"])


class AuditPage(BaseModel):
    items: list[AuditEntryRead]
    next_cursor: str | None


class AggregateStateRead(BaseModel):
    """An aggregate as it stood at `version`, after its event of time `at`."""

    aggregate_id: str
    aggregate_type: str
    version: int
    current_version: int
    at: datetime
    state: dict[str, Any]


def _service(request: Request) -> str:
    return request.app.state.application.service


@router.get("", response_model=AuditPage)
async def audit_trail(
    request: Request,
    principal: Auditor,
    actor: str | None = None,
    jurisdiction: str | None = None,
    aggregate_id: str | None = None,
    aggregate_type: str | None = None,
    event_type: str | None = None,
    frm: Annotated[str | None, Query(alias="from")] = None,
    to: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> AuditPage:
    """Events this service recorded, oldest first: by actor, jurisdiction (subtree), aggregate, event type and time
    (`from` inclusive, `to` exclusive, ISO 8601)."""
    filters = Filters.asked(
        principal,
        jurisdiction,
        frm,
        to,
        actor=actor,
        aggregate_id=aggregate_id,
        aggregate_type=aggregate_type,
        event_type=event_type,
    )
    limit, after = page_size(limit), decode_cursor(cursor)
    async with request.app.state.pool.acquire() as conn:
        rows = await entries(conn, _service(request), filters, after=after, limit=limit)
    return AuditPage(items=[AuditEntryRead.of(r) for r in rows], next_cursor=page_cursor(rows, limit))


@router.get("/{aggregate_id}", response_model=AggregateStateRead)
def aggregate_as_of(
    request: Request, principal: Auditor, aggregate_id: str, as_of: str | None = None, version: int | None = None
) -> AggregateStateRead:
    """An aggregate's state as at a version, or as at a time (after the last event recorded at or before it); without
    either, as it stands now."""
    return state_at(
        request.app.state.application, principal, aggregate_id, as_of=parse_time(as_of, "as_of"), version=version
    )


def state_at(
    app: Any, principal: Principal, aggregate_id: str, *, as_of: datetime | None, version: int | None
) -> AggregateStateRead:
    """Load the aggregate from the event store as at `version` or `as_of` (synchronous: the event store is)."""
    if as_of is not None and version is not None:
        raise InvalidInput("ask for as_of or version, not both", field="version", rule="one_of")
    if version is not None and version < 1:
        raise InvalidInput("version must be 1 or more", field="version", rule="version_range")
    try:
        originator = uuid.UUID(aggregate_id)
        current = app.repository.get(originator)
    except (ValueError, AggregateNotFoundError):
        raise NotFound(f"no aggregate with id {aggregate_id}", field="aggregate_id") from None
    if as_of is not None:
        before = next((e for e in app.events.get(originator, desc=True) if e.timestamp <= as_of), None)
        if before is None:
            raise NotFound(f"{aggregate_id} did not exist yet at {as_of.isoformat()}", field="as_of", rule="not_yet")
        version = before.originator_version
    if version is not None and version > current.version:
        raise NotFound(
            f"{aggregate_id} has {current.version} versions, not {version}", field="version", rule="no_such_version"
        )
    aggregate = current if version in (None, current.version) else app.repository.get(originator, version=version)
    state = public_state(aggregate)
    own, nested = jurisdiction_of(state)
    if own or nested:
        check_scope(principal, own or nested)
    return AggregateStateRead(
        aggregate_id=str(originator),
        aggregate_type=type(aggregate).__name__,
        version=aggregate.version,
        current_version=current.version,
        at=aggregate.modified_on,
        state=state,
    )


# --- GraphQL ----------------------------------------------------------------------------------------------------


@strawberry.federation.type(shareable=True)
class AuditEntry:
    """One recorded event: who, when, what changed, where, and the request's correlation and trace ids."""

    at: datetime
    actor: str
    event_type: str
    aggregate_type: str
    aggregate_id: str
    version: int
    jurisdiction: str
    correlation_id: str
    causation_id: str
    trace_id: str
    data: JSON = strawberry.field(description="what the event changed: its data without bookkeeping")
    cursor: str = strawberry.field(description="pass as `after` to read the entries after this one")

    @classmethod
    def of(cls, row: dict[str, Any]) -> AuditEntry:
        read = AuditEntryRead.of(row)
        return cls(**read.model_dump(), cursor=encode_cursor(row["position"]))


@strawberry.federation.type(shareable=True)
class AuditEntryPage:
    nodes: list[AuditEntry]
    page_info: subgraph.PageInfo = strawberry.field(
        description="endCursor is never null: without more entries, the one asked with"
    )


def field(service: str) -> Any:
    """The `audit` root field of `service`'s subgraph: `audit = dudao.audit.field("registry")` in its Query."""

    async def audit(
        info: strawberry.Info,
        actor: str | None = None,
        jurisdiction: str | None = None,
        aggregate_id: str | None = None,
        aggregate_type: str | None = None,
        event_type: str | None = None,
        frm: Annotated[str | None, strawberry.argument(name="from")] = None,
        to: str | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> AuditEntryPage:
        principal = subgraph.caller(info, AUDITORS)
        code = subgraph.within(principal, jurisdiction)
        limit, position = subgraph.page(first, after)
        try:
            filters = Filters.asked(
                principal,
                code,
                frm,
                to,
                actor=actor,
                aggregate_id=aggregate_id,
                aggregate_type=aggregate_type,
                event_type=event_type,
            )
        except Problem as e:
            raise subgraph.problem(e) from None
        async with info.context["pool"].acquire() as conn:
            rows = await entries(conn, service, filters, after=position, limit=limit)
        nodes = [AuditEntry.of(r) for r in rows]
        end = nodes[-1].cursor if nodes else encode_cursor(position)
        return AuditEntryPage(
            nodes=nodes, page_info=subgraph.PageInfo(has_next_page=len(rows) == limit, end_cursor=end)
        )

    return strawberry.field(
        resolver=audit,
        name=subgraph.root_field(service, "audit"),
        description="Events this service recorded (roles admin, ops), oldest first; from inclusive, to exclusive.",
    )
