"""The change feed every service keeps: which aggregate changed last where in the stream, for incremental sync.

One row per aggregate in `<service>.changes`, moved to the position of its latest event, so a reader who asks for
the changes after a cursor gets each changed aggregate once, however often it changed. The projection reads the
service's events strictly in stream order (an ordered consumer, decision 013): a change applied after a later one
could fall behind a cursor a reader has already passed, and be missed for good. Each subgraph answers
`changes(kinds, jurisdiction, first, after)` from it, scoped to the caller's subtree.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import strawberry

from dudao import bus, subgraph
from dudao import jurisdiction as divisions
from dudao.consumer import Handler, InboundEvent
from dudao.cursors import encode_cursor
from dudao.parts import Projection
from dudao.scope import OFFICES

NAME = "changes"
VERSION = 1

TABLE_SQL = """
CREATE TABLE IF NOT EXISTS {schema}.changes (
    aggregate text NOT NULL,
    id text NOT NULL,
    jurisdiction text NOT NULL,
    position bigint NOT NULL,
    PRIMARY KEY (aggregate, id)
);
CREATE INDEX IF NOT EXISTS changes_position ON {schema}.changes (position);
"""


def projection(service: str) -> Projection:
    """The change feed's read model of `service`, fed by every event the service's read models see."""
    return Projection(
        name=NAME,
        stream=bus.view_stream(service),
        filter_subject=bus.service_subjects(service),
        handler=_handler(service),
        tables=(NAME,),
        version=VERSION,
        ordered=True,
        ddl=TABLE_SQL.format(schema=f'"{service}"'),
    )


def _code(value: Any) -> str | None:
    return value if isinstance(value, str) and divisions.is_valid_code(value) else None


def jurisdiction_of(data: dict[str, Any]) -> tuple[str | None, str | None]:
    """The aggregate's jurisdiction as an event states it: its own `jurisdiction` field, and (for the event that
    creates the row) one a level down, such as the supervised unit's a measure is about."""
    below = (_code(value.get("jurisdiction")) for value in data.values() if isinstance(value, dict))
    return _code(data.get("jurisdiction")), next((code for code in below if code), None)


def _handler(service: str) -> Handler:
    upsert = (
        f'INSERT INTO "{service}".changes AS c (aggregate, id, jurisdiction, position) VALUES ($1, $2, coalesce($3, $4, $5), $6)'
        " ON CONFLICT (aggregate, id) DO UPDATE SET position = excluded.position, jurisdiction = coalesce($3, c.jurisdiction)"
        " WHERE c.position < excluded.position"
    )

    async def record(conn: asyncpg.Connection, e: InboundEvent) -> None:
        own, nested = jurisdiction_of(e.data)
        recorded_by = e.subject.split(".")[1]  # dudao.<instance>.<service>...: without a stated place, the instance's
        await conn.execute(upsert, e.aggregate, e.aggregate_id, own, nested, recorded_by, e.position)

    return record


async def page(
    conn: asyncpg.Connection, service: str, *, kinds: list[str] | None, within: str, after: int, limit: int
) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f'SELECT aggregate, id, jurisdiction, position FROM "{service}".changes WHERE position > $1'
        " AND ($2::text[] IS NULL OR aggregate = ANY($2)) AND jurisdiction LIKE ANY($3::text[]) ORDER BY position LIMIT $4",
        after,
        kinds,
        divisions.patterns(within),
        limit,
    )
    return [dict(r) for r in rows]


@strawberry.federation.type(shareable=True)
class Change:
    """An aggregate that changed after the cursor asked with; its latest event stands at `cursor`."""

    aggregate: str = strawberry.field(description="the aggregate's type, e.g. School or RectificationCase")
    id: strawberry.ID
    jurisdiction: str
    cursor: str = strawberry.field(description="pass as `after` to read the changes after this one")


@strawberry.federation.type(shareable=True)
class ChangePage:
    nodes: list[Change]
    page_info: subgraph.PageInfo = strawberry.field(
        description="endCursor is never null here: without new changes it is the cursor asked with; keep it for next time"
    )


def field(service: str) -> Any:
    """The `changes` root field of `service`'s subgraph: `changes = dudao.changes.field("registry")` in its Query."""

    async def changes(
        info: strawberry.Info,
        kinds: list[str] | None = None,
        jurisdiction: str | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> ChangePage:
        code = subgraph.within(subgraph.caller(info, OFFICES), jurisdiction)  # ids of everything changed: the offices'
        limit, position = subgraph.page(first, after)
        async with info.context["pool"].acquire() as conn:
            rows = await page(conn, service, kinds=kinds, within=code, after=position, limit=limit)
        nodes = [
            Change(
                aggregate=r["aggregate"],
                id=strawberry.ID(r["id"]),
                jurisdiction=r["jurisdiction"],
                cursor=encode_cursor(r["position"]),
            )
            for r in rows
        ]
        end = nodes[-1].cursor if nodes else encode_cursor(position)
        return ChangePage(nodes=nodes, page_info=subgraph.PageInfo(has_next_page=len(rows) == limit, end_cursor=end))

    return strawberry.field(
        resolver=changes,
        name=subgraph.root_field(service, "changes"),
        description="Aggregates changed after `after` (each once, at its latest change), oldest first.",
    )
