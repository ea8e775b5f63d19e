"""Ids that two instances minted alike, kept apart by origin where both arrive (issue 20, decision 027).

An id minted from an `Idempotency-Key` now names the instance that minted it (`service.new_aggregate_id`), so two
instances never mint the same one. Ids minted before that did not: the same demo key gave the same activity id in
every county, and an upper instance, whose read models hold its own rows and its lower instances', kept the first
row of that id and silently dropped the others.

So wherever a projection applies an event, an aggregate whose id is minted per request (or derived from such an
id) is claimed by the first origin seen with it, in stream order (`aggregate_origins`, beside the consumers'
tracking; a rebuild keeps its claims in memory, decision 053). An event of that aggregate from another origin is
applied under an id of its own, `uuid5(origin jurisdiction + id)`, so both rows show. This instance's own
aggregates are never renamed: their ids are what its commands address. Aggregates keyed by something shared on
purpose (a policy profile by its division, a framework by its code, a submission by framework, period and unit)
are not touched: arriving from several origins under one id is what they are for.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
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


def kept_apart(handler: Handler, schema: str, jurisdiction: str) -> KeptApart:
    """`handler`, applying each event under the id its origin keeps here (see the module's doc)."""
    return KeptApart(handler, schema, jurisdiction)


class KeptApart:
    """A handler that applies each event under the id its origin keeps here. Alone, an event claims its aggregate's
    id by one statement; a consumer's batch claims all of its aggregates' ids by one (`claimed`), first come first
    served in stream order, as one at a time would."""

    def __init__(self, handler: Handler, schema: str, jurisdiction: str):
        self.handler, self.schema, self.jurisdiction = handler, schema, jurisdiction
        self._events_table = f'"{schema}"."{schema}_events"'
        self._has_own_store: bool | None = None  # asked once: a database without the store holds none of its ids
        self._holders: dict[str, str] = {}  # the batch's claims, while one is applied
        self._in_store: set[str] | None = None  # of the batch's ids from elsewhere, those this store holds too

    @contextlib.asynccontextmanager
    async def claimed(self, conn: asyncpg.Connection, events: list[InboundEvent]) -> AsyncIterator[None]:
        """Claim the ids of `events`' aggregates in one statement, and look up in one which of those from another
        instance of this service this instance's store holds too, for the handler calls inside."""
        first = {}
        for e in events:
            if e.aggregate in MINTED_PER_REQUEST:
                first.setdefault(e.aggregate_id, e.origin)
        if first:
            self._holders = await self._claim(conn, first)
        others = {e.aggregate_id for e in events if e.aggregate in MINTED_PER_REQUEST and self._from_another_store(e)}
        self._in_store = await self._own_store_holding(conn, others)
        try:
            yield
        finally:
            self._holders, self._in_store = {}, None

    async def _holder(self, conn: asyncpg.Connection, event: InboundEvent) -> str:
        if (holder := self._holders.get(event.aggregate_id)) is not None:
            return holder
        return (await self._claim(conn, {event.aggregate_id: event.origin}))[event.aggregate_id]

    async def _claim(self, conn: asyncpg.Connection, first: dict[str, str]) -> dict[str, str]:
        """Claim each id of `first` for the origin it names, unless an origin holds it already: who holds each."""
        rows = await conn.fetch(
            f'INSERT INTO "{self.schema}".aggregate_origins (aggregate_id, origin)'
            " SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (aggregate_id)"
            f' DO UPDATE SET origin = "{self.schema}".aggregate_origins.origin RETURNING aggregate_id, origin',
            list(first),
            list(first.values()),
        )
        return {r["aggregate_id"]: r["origin"] for r in rows}

    def _own(self, event: InboundEvent) -> bool:
        return event.origin == bus.origin(self.jurisdiction, event.origin.split(":", 1)[1])

    def _from_another_store(self, event: InboundEvent) -> bool:
        """Recorded by this service at another instance: its id may be one this instance's store holds too."""
        return not self._own(event) and event.origin.split(":", 1)[1] == self.schema

    async def _own_store_holding(self, conn: asyncpg.Connection, aggregate_ids: set[str]) -> set[str]:
        """Those of `aggregate_ids` this instance's event store holds an aggregate of."""
        if not aggregate_ids:
            return set()
        if self._has_own_store is None:
            self._has_own_store = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", self._events_table)
        if not self._has_own_store:
            return set()
        spelt: dict[uuid.UUID, set[str]] = {}  # an id as the store keys it, and as the events spell it
        for aggregate_id in aggregate_ids:
            with contextlib.suppress(ValueError):
                spelt.setdefault(uuid.UUID(aggregate_id), set()).add(aggregate_id)
        rows = await conn.fetch(
            f"SELECT DISTINCT originator_id FROM {self._events_table} WHERE originator_id = ANY($1::uuid[])",
            list(spelt),
        )
        return {aggregate_id for r in rows for aggregate_id in spelt[r["originator_id"]]}

    async def _own_store_holds(self, conn: asyncpg.Connection, aggregate_id: str) -> bool:
        if self._in_store is not None:  # looked up for the batch
            return aggregate_id in self._in_store
        return aggregate_id in await self._own_store_holding(conn, {aggregate_id})

    async def __call__(self, conn: asyncpg.Connection, event: InboundEvent) -> None:
        if event.aggregate not in MINTED_PER_REQUEST:
            return await self.handler(conn, event)
        holder = await self._holder(conn, event)
        if self._own(event) or (
            holder == event.origin
            and not (self._from_another_store(event) and await self._own_store_holds(conn, event.aggregate_id))
        ):
            return await self.handler(conn, event)
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
        return await self.handler(conn, replace(event, aggregate_id=renamed))
