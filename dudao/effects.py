"""What a consumer does with an event it holds: the two kinds of effect (`dudao.consumer` is the loop that delivers
them). A projection (`ProjectionEffect`) opens a PostgreSQL transaction, inserts a tracking row keyed by (consumer,
origin, notification id), writes the read model and commits; a fetched batch goes in one transaction, its handlers'
writes sent together (`Deferring`, decision 034). A reaction (`ReactionEffect`) turns the event into a command of this
service whose new events commit together with eventsourcing's tracking record. Either way a redelivered message finds
its tracking and changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Self

import asyncpg
from eventsourcing.persistence import ProgrammingError, RecordConflictError, Tracking
from nats.aio.msg import Msg

from dudao import bus, remembered, telemetry
from dudao.consumer import Handler, InboundEvent, OutOfOrder, Settle
from dudao.deferring import Deferring
from dudao.events import Envelope
from dudao.store import ServiceApplication

if TYPE_CHECKING:  # parts names the effects' kinds
    from dudao.parts import Projection

log = logging.getLogger("dudao.consumer")  # the consumer's log, as before the effects had a module of their own


_PASSED = "consumer %s: %d events not applied, their aggregates already past them (the first: %s)"


class ProjectionEffect:
    """Write a read model: tracking row and `handler`'s writes in one asyncpg transaction.

    Unless the consumer is ordered, each aggregate's events are applied in version order: the consumer keeps the
    last version it applied per aggregate and origin, and an event that skips one (a redelivery overtaken by a newer
    message, after a crash) waits for it. So a row is never written from an older version than it already shows,
    and an update never finds its row missing because the insert comes later.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        schema: str,
        consumer: str,
        stream: str,
        handler: Handler,
        *,
        ordered: bool = False,
        settle: Settle | None = None,
        own_rows: bool = False,
        remembered: str | None = None,
    ):
        self.pool, self.schema, self.consumer, self.stream, self.handler = pool, schema, consumer, stream, handler
        self.ordered, self.settle = ordered, settle
        self.own_rows = own_rows and not ordered  # an ordered read model's rows follow the stream's order
        self.remembered = remembered  # the projection whose mark a change renews (decision 044)

    @classmethod
    def of(cls, pool: asyncpg.Pool, schema: str, projection: Projection, **more: Any) -> Self:
        """`projection`'s effect, as its live consumer and a replay (tracked as that consumer's) apply it alike;
        `more` for a subclass's own arguments."""
        return cls(
            pool,
            schema,
            projection.consumer_name(schema),
            projection.stream,
            projection.handler,
            ordered=projection.ordered,
            settle=projection.settle,
            own_rows=projection.own_rows,
            remembered=projection.name if projection.remembered else None,
            **more,
        )

    async def __call__(self, event: InboundEvent) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            if await self._apply(conn, event):
                await self._changed(conn)

    async def _changed(self, conn: asyncpg.Connection) -> None:
        """After the events applied in `conn`'s transaction: settle, and renew the mark of what is remembered."""
        if self.settle is not None:
            await self.settle(conn)
        if self.remembered is not None:
            await remembered.renew(conn, self.schema, self.remembered)

    async def apply_all(
        self, events: list[InboundEvent], traced: Callable[[int], contextlib.AbstractContextManager]
    ) -> None:
        """Apply a fetched batch in one transaction and settle once at the end (decision 034). The batch's tracking
        rows go in by one statement, its aggregates' versions are read by one and written by one, and (for a
        handler that keeps ids apart by origin) their ids are claimed by one; only the handler runs per event (inside
        `traced(i)`), its writes deferred and sent together (`Deferring`). Each event is judged as `__call__` would judge it alone, in
        fetch order: an event seen before is skipped, one an aggregate has passed is skipped, and one that skips a
        version raises OutOfOrder. Any exception rolls the whole batch back: the consumer then takes its events one at
        a time. Only the consumer holding its advisory lock writes these rows, so reading then writing them is safe.
        """
        async with self.pool.acquire() as conn, conn.transaction():
            applying = await self._track_all(conn, events)
            if not self.ordered:
                applying = await self._next_versions(conn, applying)
            chosen = {id(e) for e in applying}
            claimed = getattr(self.handler, "claimed", None)  # `origins.KeptApart`: the batch's ids claimed at once
            writing = Deferring(conn, own_rows=self.own_rows)
            async with claimed(conn, applying) if claimed else contextlib.nullcontext():
                # each event's span stays open until the batch's writes are sent: they are its work too
                with contextlib.ExitStack() as spans:
                    for i, event in enumerate(events):
                        if id(event) in chosen:
                            spans.enter_context(traced(i))
                            writing.aggregate = (event.origin, event.aggregate_id)
                            await self.handler(writing, event)
                    await writing.flush()
            if applying:
                await self._changed(conn)

    async def _track_all(self, conn: asyncpg.Connection, events: list[InboundEvent]) -> list[InboundEvent]:
        """The batch's events new here, in order, their tracking rows inserted. An event twice in one batch (a relay's
        retry) is new once, at its first place."""
        firsts: dict[tuple[str, int], InboundEvent] = {}
        for e in events:  # in fetch order, as one at a time would insert them (and take their row locks)
            firsts.setdefault((e.origin, e.notification_id), e)
        unique = list(firsts.values())
        new = await self._insert_tracking(conn, unique)
        return [e for e in unique if (e.origin, e.notification_id) in new]

    async def _insert_tracking(self, conn: asyncpg.Connection, events: list[InboundEvent]) -> set[tuple[str, int]]:
        """Insert the tracking rows of `events` (each once) in one statement: the keys of those not tracked before."""
        rows = await conn.fetch(
            f'INSERT INTO "{self.schema}".consumer_tracking (consumer, origin, notification_id, stream, stream_seq)'
            " SELECT $1, t.origin, t.notification_id, $2, t.stream_seq"
            " FROM unnest($3::text[], $4::bigint[], $5::bigint[]) AS t(origin, notification_id, stream_seq)"
            " ON CONFLICT DO NOTHING RETURNING origin, notification_id",
            self.consumer,
            self.stream,
            [e.origin for e in events],
            [e.notification_id for e in events],
            [e.stream_seq for e in events],
        )
        return {(r["origin"], r["notification_id"]) for r in rows}

    async def _next_versions(self, conn: asyncpg.Connection, events: list[InboundEvent]) -> list[InboundEvent]:
        """Of the batch's new events, those next in their aggregate's order, as `_next_version` judges one, with the
        versions read in one statement and written in one."""
        applied = await self._read_versions(conn, list({(e.origin, e.aggregate_id) for e in events}))
        moved: dict[tuple[str, str], int] = {}
        chosen, passed = [], []
        for event in events:
            key = (event.origin, event.aggregate_id)
            last = moved.get(key, applied.get(key, 0))
            if event.version == last + 1:
                moved[key] = event.version
                chosen.append(event)
            elif event.version <= last:
                passed.append(f"{event.type} v{event.version} after v{last}")
            else:
                raise OutOfOrder(f"{event.type} v{event.version} of {event.aggregate_id} arrived before v{last + 1}")
        if passed:  # a batch's worth in one line: after a rebuild's switch (decision 057) a whole stream may be
            log.info(_PASSED, self.consumer, len(passed), passed[0])
        if moved:
            await self._write_versions(conn, moved)
        return chosen

    async def _read_versions(self, conn: asyncpg.Connection, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """The versions applied of the aggregates `keys` name (origin, aggregate id), those that have one."""
        # Each aggregate's row by its whole key, a subquery per key: as a join, the planner may take this consumer's
        # rows all, by statistics from when it had none (a new read model catching up), and hash them, every batch.
        rows = await conn.fetch(
            f'SELECT k.origin, k.aggregate_id, (SELECT v.version FROM "{self.schema}".consumer_versions v'
            " WHERE v.consumer = $1 AND v.origin = k.origin AND v.aggregate_id = k.aggregate_id) AS version"
            " FROM unnest($2::text[], $3::text[]) AS k(origin, aggregate_id)",
            self.consumer,
            [k[0] for k in keys],
            [k[1] for k in keys],
        )
        return {(r["origin"], r["aggregate_id"]): r["version"] for r in rows if r["version"] is not None}

    async def _write_versions(self, conn: asyncpg.Connection, moved: dict[tuple[str, str], int]) -> None:
        await conn.execute(
            f'INSERT INTO "{self.schema}".consumer_versions (consumer, origin, aggregate_id, version)'
            " SELECT $1, * FROM unnest($2::text[], $3::text[], $4::bigint[])"
            " ON CONFLICT (consumer, origin, aggregate_id) DO UPDATE SET version = excluded.version",
            self.consumer,
            [k[0] for k in moved],
            [k[1] for k in moved],
            list(moved.values()),
        )

    async def _apply(self, conn: asyncpg.Connection, event: InboundEvent) -> bool:
        """Track `event` and, the first time and in its aggregate's order, hand it to the handler: whether it did."""
        first_time = await conn.fetchval(
            f'INSERT INTO "{self.schema}".consumer_tracking (consumer, origin, notification_id, stream, stream_seq)'
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING true",
            self.consumer,
            event.origin,
            event.notification_id,
            self.stream,
            event.stream_seq,
        )
        if first_time and (self.ordered or await self._next_version(conn, event)):
            await self.handler(conn, event)
            return True
        return False

    async def passed(self, conn: asyncpg.Connection, event: InboundEvent) -> None:
        """`event` is dead-lettered: count its version as passed, so the aggregate's next one is not held for it."""
        if not self.ordered:
            await conn.execute(
                f'INSERT INTO "{self.schema}".consumer_versions (consumer, origin, aggregate_id, version)'
                " VALUES ($1, $2, $3, $4) ON CONFLICT (consumer, origin, aggregate_id)"
                " DO UPDATE SET version = greatest(consumer_versions.version, excluded.version)",
                self.consumer,
                event.origin,
                event.aggregate_id,
                event.version,
            )

    async def _next_version(self, conn: asyncpg.Connection, event: InboundEvent) -> bool:
        """Record `event` as its aggregate's applied version: True if it is the next one, False if already passed;
        OutOfOrder (rolling the tracking back) if an earlier one has not been applied yet."""
        table, key = (
            f'"{self.schema}".consumer_versions',
            (self.consumer, event.origin, event.aggregate_id, event.version),
        )
        if event.version == 1:
            moved = await conn.fetchval(
                f"INSERT INTO {table} (consumer, origin, aggregate_id, version) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT DO NOTHING RETURNING true",
                *key,
            )
        else:
            moved = await conn.fetchval(
                f"UPDATE {table} SET version = $4 WHERE consumer = $1 AND origin = $2 AND aggregate_id = $3"
                " AND version = $4 - 1 RETURNING true",
                *key,
            )
        if moved:
            return True
        applied = await conn.fetchval(
            f"SELECT version FROM {table} WHERE consumer = $1 AND origin = $2 AND aggregate_id = $3", *key[:3]
        )
        if applied is not None and event.version <= applied:
            log.info(_PASSED, self.consumer, 1, f"{event.type} v{event.version} after v{applied}")
            return False
        raise OutOfOrder(f"{event.type} v{event.version} of {event.aggregate_id} arrived before v{(applied or 0) + 1}")


class Reacting:
    """What a reaction has at hand: the application, and the envelope and tracking its save must carry."""

    def __init__(self, app: ServiceApplication, envelope: Envelope, tracking: Tracking):
        self.app, self.envelope, self.tracking = app, envelope, tracking
        self.saved = False

    def save(self, *aggregates: Any) -> None:
        """Save the reaction's aggregates with the upstream position, in one transaction; once per event."""
        if self.saved:
            raise ProgrammingError("a reaction saves once: pass every aggregate it changed to one save()")
        self.app.save(*aggregates, envelope=self.envelope, tracking=self.tracking)
        self.saved = True


# One handler shape for both kinds of consumer: (where the effect lands, what arrived). A projection's lands in its
# read model's connection (`Handler`), a reaction's in this service's application (`Reacting`).
Reaction = Callable[[Reacting, InboundEvent], None]


class OneAtATime(Exception):
    """A fetched batch holds an event a reaction answers: the batch goes one event at a time."""


class ReactionEffect:
    """Turn an event into a command of this service: its new events and the tracking commit together."""

    def __init__(self, app: ServiceApplication, name: str, react: Reaction, event_types: frozenset[str]):
        self.app, self.name, self.react, self.event_types = app, name, react, event_types

    async def __call__(self, event: InboundEvent) -> None:
        if event.type in self.event_types:  # the others on the same subjects are none of this reaction's business
            await asyncio.to_thread(self._once, event)

    async def apply_all(self, events: list[InboundEvent], traced: Callable[[int], Any]) -> None:
        """A fetched batch with none of this reaction's event types is done as it stands, acked together: `__call__`
        would pass over each of them. A reaction's subjects may hold more types than it answers (an aggregate's, a
        service's), so many batches are such. One holding any goes one at a time: each reaction saves in its own
        transaction of the application."""
        if any(event.type in self.event_types for event in events):
            raise OneAtATime(f"reaction {self.name}: the batch holds an event it answers")

    def passes_over(self, msgs: list[Msg]) -> bool:
        """Whether a fetched batch holds nothing for this reaction, judged by the event type each message's headers
        name (the relay writes it from the event itself), without decoding any: most of a view stream is not a
        reaction's business. A message without that header is decoded and judged by `apply_all`."""
        return all(
            msg.headers and (kind := msg.headers.get(bus.HEADER_EVENT_TYPE)) and kind not in self.event_types
            for msg in msgs
        )

    def _once(self, event: InboundEvent) -> None:
        # Tracking is per reaction and origin, so two reactions to one event do not mask each other.
        tracking = Tracking(application_name=f"{self.name}|{event.origin}", notification_id=event.notification_id)
        if self.app.has_tracked(tracking):
            return
        cause = f"{event.origin}:{event.notification_id}"
        context = Reacting(self.app, event.envelope.caused_by(cause, telemetry.current_trace_headers()), tracking)
        try:
            self.react(context, event)
            if not context.saved:  # nothing to do is an outcome too: remember it
                context.save()
        except RecordConflictError:
            if not self.app.has_tracked(tracking):  # a concurrent copy of this consumer got there first
                raise
