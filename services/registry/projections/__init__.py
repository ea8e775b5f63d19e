"""Registry read models, fed by the registry's own events: directories, zones, committees, profiles, API clients."""

from __future__ import annotations

import asyncpg

from dudao.consumer import InboundEvent, Undeliverable
from services.registry.projections import api_clients, directory, places

HANDLERS = directory.HANDLERS | places.HANDLERS | api_clients.HANDLERS
# Registry events no read model here shows: an erasure's record is read through the audit, and touches no row.
NOT_PROJECTED = frozenset({"Erasure.Recorded"})
TABLES = (
    "school_directory",
    "inspector_directory",
    "inspector_trainings",
    "inspector_assessments",
    "inspector_ties",
    "zones",
    "committees",
    "committee_meetings",
    "member_unit_participation",
    "townships",
    "policy_profiles",
    *api_clients.TABLES,
)


async def ensure_tables(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute(directory.TABLES_SQL + places.TABLES_SQL + api_clients.TABLES_SQL)


async def project(conn: asyncpg.Connection, event: InboundEvent) -> None:
    """Apply one registry event to the read models."""
    handler = HANDLERS.get(event.type)
    if handler is None and event.type in NOT_PROJECTED:
        return
    if handler is None:
        raise Undeliverable(f"the registry read models do not know the event type {event.type!r}")
    try:
        await handler(conn, event)
    except (KeyError, TypeError, ValueError, asyncpg.DataError) as e:
        raise Undeliverable(f"{event.type} has an unusable body: {e!r}") from e
