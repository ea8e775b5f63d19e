"""The gateway's change feed: what changed in every service since a cursor, for clients that sync incrementally.

Each service keeps its own feed (`dudao.changes`), positioned in its own stream, so the gateway's cursor holds one
position per service: base64 of a JSON object such as `{"registry": 120, "accountability": 7}`, opaque to clients.
A page is filled service by service in a fixed order; a service's position moves only past what the page returned.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json

import strawberry
from graphql import GraphQLError

from dudao import subgraph
from dudao.cursors import decode_cursor, encode_cursor
from dudao.errors import InvalidInput, Problem
from dudao.subgraph import problem
from gateway.limits import page
from gateway.types import Jurisdiction, PageInfo, loaders_of

# The kinds of entity the feed names, the service that keeps each and the aggregates it is made of.
KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "school": ("registry", ("School",)),
    "inspector": ("registry", ("Inspector",)),
    "activity": ("inspection", ("Activity",)),
    "case": ("accountability", ("RectificationCase",)),
    "outcome": ("accountability", ("Interview", "Circular", "AccountabilityDecision", "Commendation")),
}
SERVICES = ("registry", "inspection", "accountability")  # the order a page is filled in
KIND_OF = {aggregate: kind for kind, (_, aggregates) in KINDS.items() for aggregate in aggregates}
SELECTION = "nodes { aggregate id jurisdiction cursor } pageInfo { hasNextPage endCursor }"


def encode(positions: dict[str, int], services: tuple[str, ...] = SERVICES) -> str:
    """The cursor for these positions, one per service (services left out stand at the start)."""
    kept = {s: positions[s] for s in services if positions.get(s)}
    return base64.urlsafe_b64encode(json.dumps(kept, separators=(",", ":")).encode()).decode().rstrip("=")


def decode(cursor: str | None, field: str, services: tuple[str, ...] = SERVICES) -> dict[str, int]:
    """A feed cursor back to its positions; no cursor is the start of every service; garbage is a 422 naming `field`."""
    if not cursor:
        return {}
    try:
        positions = json.loads(base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True))
        if not isinstance(positions, dict) or not set(positions) <= set(services):
            raise ValueError(positions)
        for value in positions.values():
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(value)
        return positions
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput(
            "not a change cursor this API gave out; start again without it", field=field, rule="cursor_format"
        ) from None


@strawberry.type
class Change:
    """An entity that changed after the cursor: its kind (school, inspector, activity, case, outcome) and id.
    Read it by id; it is named once per page however often it changed."""

    kind: str
    id: strawberry.ID
    jurisdiction_code: strawberry.Private[str]

    @strawberry.field
    def jurisdiction(self) -> Jurisdiction:
        return Jurisdiction.of(self.jurisdiction_code)


@strawberry.type
class ChangeFeed:
    nodes: list[Change]
    page_info: PageInfo = strawberry.field(
        description="endCursor is never null: when hasNextPage is false, keep it and ask with it later for what changes next"
    )


def _wanted(kinds: list[str] | None) -> dict[str, list[str]]:
    """The aggregates to ask each service for."""
    unknown = sorted(set(kinds or ()) - set(KINDS))
    if unknown:
        raise GraphQLError(
            f"unknown kinds {', '.join(unknown)}: the kinds are {', '.join(KINDS)}",
            extensions={"status": 422, "rule": "enum", "field": "kinds"},
        )
    wanted: dict[str, list[str]] = {}
    for kind in kinds or KINDS:
        service, aggregates = KINDS[kind]
        wanted.setdefault(service, []).extend(aggregates)
    return wanted


async def changes_page(
    info: strawberry.Info, kinds: list[str] | None, jurisdiction: str | None, first: int, after: str | None
) -> ChangeFeed:
    try:
        positions = decode(after, "after")
    except Problem as e:
        raise problem(e) from None
    wanted, size = _wanted(kinds), page(first)
    services = [s for s in SERVICES if s in wanted]
    loaders = loaders_of(info)
    answers = await asyncio.gather(
        *(
            loaders.ask(
                service,
                subgraph.root_field(service, "changes"),
                SELECTION,
                kinds=wanted[service],
                jurisdiction=jurisdiction,
                first=size,
                after=encode_cursor(positions[service]) if positions.get(service) else None,
            )
            for service in services
        )
    )
    nodes: list[Change] = []
    more = False
    for service, answer in zip(services, answers, strict=True):
        taken = answer["nodes"][: size - len(nodes)]
        nodes += [
            Change(kind=KIND_OF[n["aggregate"]], id=strawberry.ID(n["id"]), jurisdiction_code=n["jurisdiction"])
            for n in taken
        ]
        if taken:
            positions[service] = decode_cursor(taken[-1]["cursor"])
        more = more or len(taken) < len(answer["nodes"]) or answer["pageInfo"]["hasNextPage"]
    return ChangeFeed(nodes=nodes, page_info=PageInfo(has_next_page=more, end_cursor=encode(positions)))
