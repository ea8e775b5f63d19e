"""The gateway's audit trail: who did what, when, in every service, merged in time order (roles admin and ops).

Each service keeps its own audit (`dudao.audit`), positioned in its own stream, so the cursor holds one position per
service like the change feed's (`gateway.changes.encode`). A page asks every service for a page after its position
and merges them by time; a service's position moves only past the entries the page returned.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from datetime import datetime
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.scalars import JSON

from dudao import subgraph
from dudao.cursors import decode_cursor, encode_cursor
from dudao.errors import Problem
from dudao.subgraph import problem
from gateway.changes import decode, encode
from gateway.limits import page
from gateway.types import Jurisdiction, PageInfo, loaders_of

SERVICES = ("registry", "inspection", "accountability", "monitoring")
SELECTION = (
    "nodes { at actor eventType aggregateType aggregateId version jurisdiction correlationId causationId traceId data cursor }"
    " pageInfo { hasNextPage endCursor }"
)


@strawberry.type
class AuditEntry:
    """One recorded event: who (the actor), when, what (event, aggregate, what changed), where, and the request's
    correlation and trace ids, which find everything the same request caused and its trace."""

    service: str
    at: datetime
    actor: str
    event_type: str = strawberry.field(description="e.g. School.Renamed")
    aggregate_type: str
    aggregate_id: strawberry.ID
    version: int = strawberry.field(description="the aggregate's version after this event")
    jurisdiction_code: strawberry.Private[str]
    correlation_id: str
    causation_id: str
    trace_id: str
    data: JSON = strawberry.field(description="what the event changed: its data without bookkeeping")

    @strawberry.field
    def jurisdiction(self) -> Jurisdiction:
        return Jurisdiction.of(self.jurisdiction_code)

    @classmethod
    def of(cls, service: str, n: dict[str, Any]) -> AuditEntry:
        return cls(
            service=service,
            at=datetime.fromisoformat(n["at"]),
            actor=n["actor"],
            event_type=n["eventType"],
            aggregate_type=n["aggregateType"],
            aggregate_id=strawberry.ID(n["aggregateId"]),
            version=n["version"],
            jurisdiction_code=n["jurisdiction"],
            correlation_id=n["correlationId"],
            causation_id=n["causationId"],
            trace_id=n["traceId"],
            data=n["data"],
        )


@strawberry.type
class AuditTrail:
    nodes: list[AuditEntry]
    page_info: PageInfo = strawberry.field(
        description="endCursor is never null: keep it to ask later for what happens next"
    )


def merge(pages: dict[str, list[dict[str, Any]]], size: int) -> list[tuple[str, dict[str, Any]]]:
    """The first `size` entries of the services' pages in time order (ties in service order); each service's share is
    a prefix of its page, so its position can move past exactly what was taken."""
    order = {service: i for i, service in enumerate(pages)}
    tagged = ([(service, n) for n in nodes] for service, nodes in pages.items())
    merged = heapq.merge(*tagged, key=lambda entry: (datetime.fromisoformat(entry[1]["at"]), order[entry[0]]))
    return list(itertools.islice(merged, size))


def _services(asked: list[str] | None) -> tuple[str, ...]:
    unknown = sorted(set(asked or ()) - set(SERVICES))
    if unknown:
        raise GraphQLError(
            f"unknown services {', '.join(unknown)}: the services are {', '.join(SERVICES)}",
            extensions={"status": 422, "rule": "enum", "field": "services"},
        )
    return tuple(s for s in SERVICES if not asked or s in asked)


async def audit_page(
    info: strawberry.Info, services: list[str] | None, first: int, after: str | None, **filters: Any
) -> AuditTrail:
    try:
        positions = decode(after, "after", SERVICES)
    except Problem as e:
        raise problem(e) from None
    asked, size = _services(services), page(first)
    loaders = loaders_of(info)
    answers = await asyncio.gather(
        *(
            loaders.ask(
                service,
                subgraph.root_field(service, "audit"),
                SELECTION,
                first=size,
                **filters,
                after=encode_cursor(positions[service]) if positions.get(service) else None,
            )
            for service in asked
        )
    )
    pages = {service: answer["nodes"] for service, answer in zip(asked, answers, strict=True)}
    taken = merge(pages, size)
    for service, node in taken:
        positions[service] = decode_cursor(node["cursor"])
    used = {service: sum(1 for s, _ in taken if s == service) for service in asked}
    more = any(
        used[s] < len(pages[s]) or answer["pageInfo"]["hasNextPage"] for s, answer in zip(asked, answers, strict=True)
    )
    nodes = [AuditEntry.of(service, node) for service, node in taken]
    return AuditTrail(nodes=nodes, page_info=PageInfo(has_next_page=more, end_cursor=encode(positions, SERVICES)))
