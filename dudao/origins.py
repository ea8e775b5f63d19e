"""Ids that two instances minted alike, kept apart by origin where both arrive (issue 20, decision 027).

An id minted from an `Idempotency-Key` now names the instance that minted it (`service.new_aggregate_id`), so two
instances never mint the same one. Ids minted before that did not: the same demo key gave the same activity id in
every county, and an upper instance, whose read models hold its own rows and its lower instances', kept the first
row of that id and silently dropped the others.

So wherever a projection applies an event, an aggregate whose id is minted per request (or derived from such an
id) is claimed by the first origin seen with it, in stream order (`aggregate_origins`, beside the consumers' tracking). An event of that aggregate from another origin is
applied under an id of its own, `uuid5(origin jurisdiction + id)`, so both rows show. This instance's own
aggregates are never renamed: their ids are what its commands address. Aggregates keyed by something shared on
purpose (a policy profile by its division, a framework by its code, a submission by framework, period and unit)
are not touched: arriving from several origins under one id is what they are for.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace

import asyncpg

from dudao import bus
from dudao.consumer import Handler, InboundEvent

log = logging.getLogger("dudao.origins")

NAMESPACE = uuid.UUID("0b8f8a3e-52c4-4d67-9a43-7f1e2c5d9b10")

# Aggregates whose ids come from `service.new_aggregate_id`, or are derived from such an id (a case from its
# activity, an activity's evidence log, an escalation's measure from its case).
MINTED_PER_REQUEST = frozenset(
    {
        "School",
        "Inspector",
        "Zone",
        "ApiClient",  # registry
        "Activity",
        "Draw",
        "RoutineVisit",
        "EvidenceLog",  # inspection
        "RectificationCase",
        "Interview",
        "Circular",
        "AccountabilityDecision",
        "Commendation",  # accountability
    }
)


def apart(origin: str, aggregate_id: str) -> str:
    """The id an aggregate from `origin` goes by here when another origin holds its own id."""
    return str(uuid.uuid5(NAMESPACE, f"{origin.split(':', 1)[0]}:{aggregate_id}"))


def kept_apart(handler: Handler, schema: str, jurisdiction: str) -> Handler:
    """`handler`, applying each event under the id its origin keeps here (see the module's doc)."""
    events_table = f'"{schema}"."{schema}_events"'
    has_own_store: dict[str, bool] = {}  # a replay's scratch database has no event store

    async def own_store_holds(conn: asyncpg.Connection, aggregate_id: str) -> bool:
        if "yes" not in has_own_store:
            has_own_store["yes"] = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", events_table)
        if not has_own_store["yes"]:
            return False
        try:
            key = uuid.UUID(aggregate_id)
        except ValueError:
            return False
        return await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {events_table} WHERE originator_id = $1)", key)

    async def apply(conn: asyncpg.Connection, event: InboundEvent) -> None:
        if event.aggregate not in MINTED_PER_REQUEST:
            return await handler(conn, event)
        holder = await conn.fetchval(
            f'INSERT INTO "{schema}".aggregate_origins (aggregate_id, origin) VALUES ($1, $2)'
            f' ON CONFLICT (aggregate_id) DO UPDATE SET origin = "{schema}".aggregate_origins.origin RETURNING origin',
            event.aggregate_id,
            event.origin,
        )
        own = event.origin == bus.origin(jurisdiction, event.origin.split(":", 1)[1])
        same_service = event.origin.split(":", 1)[1] == schema
        if own or (holder == event.origin and not (same_service and await own_store_holds(conn, event.aggregate_id))):
            return await handler(conn, event)
        renamed = apart(event.origin, event.aggregate_id)
        if event.version == 1:
            log.warning(
                "%s %s from %s has the id of one from %s; shown here as %s",
                event.aggregate,
                event.aggregate_id,
                event.origin,
                holder,
                renamed,
            )
        return await handler(conn, replace(event, aggregate_id=renamed))

    return apply
