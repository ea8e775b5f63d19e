"""The outbox relay: follows a service's notification log and publishes each event to JetStream once.

The event store is the outbox. The relay's position is not kept anywhere but in the stream
itself: the last message's `Dudao-Notification-Id`. Each message waits for the stream's ack of the
one before, so a failure can never leave a later event in the stream before an earlier one; each
carries its `Nats-Msg-Id`, so what a retry sends again is dropped as a duplicate. One replica of a
service relays at a time (a PostgreSQL advisory lock). (Decision 011: no `Nats-Expected-*` header,
since streams that source this one would check it against themselves.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from uuid import UUID

import asyncpg
from eventsourcing.application import Application
from eventsourcing.persistence import Notification
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from opentelemetry import trace

from dudao import bus, chain, leadership, links, metrics, telemetry
from dudao.config import Settings
from dudao.events import dumps
from dudao.links import Crossings
from dudao.store import event_name, event_state
from dudao.telemetry import why

log = logging.getLogger("dudao.relay")


class Relay:
    """Publishes one service's committed events, in notification order, exactly once."""

    def __init__(
        self,
        settings: Settings,
        app: Application[UUID],
        crossings: Crossings | None = None,
        *,
        batch_size: int = 256,
        poll_interval: float = 1.0,
    ) -> None:
        self.settings = settings
        self.app = app
        self.crossings = crossings or Crossings()
        self.service = app.service  # type: ignore[attr-defined]
        self.jurisdiction = settings.jurisdiction
        self.stream = bus.stream_name(self.service)
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.published = 0
        self.position: int | None = None  # the last notification id in the stream, once this replica leads
        self._wake = asyncio.Event()
        self._tracer = telemetry.tracer("dudao.relay")
        metrics.watch_relay(self)

    def lag(self) -> int | None:
        """Events stored but not yet in the stream; None while this replica does not relay (another one does)."""
        if self.position is None:
            return None
        return max(0, (self.app.recorder.max_notification_id() or 0) - self.position)  # type: ignore[attr-defined]

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until `stop` is set; every failure is retried, none ends the loop. Of the service's replicas, one
        relays at a time (it holds a PostgreSQL advisory lock); the others stand by."""
        key = f"dudao-relay:{self.jurisdiction}:{self.service}"
        await leadership.while_leading(
            self.settings.database_url, key, stop, f"relay {self.service}", lambda lock: self._relay(stop, lock)
        )

    async def _relay(self, stop: asyncio.Event, lock: asyncpg.Connection) -> None:
        nc = await bus.connect(self.settings.nats_url, f"{self.service}-relay")
        # The connection holding the lock also listens for new events and reads their chain links.
        listening = await self._listen(lock)
        try:
            js = nc.jetstream(timeout=5)
            position: int | None = None
            backoff = 0.2
            while not stop.is_set() and not lock.is_closed():
                try:
                    if position is None:
                        await links.ensure(js, self.service, self.jurisdiction, self.settings.upper)
                        position = self.position = await self._position(js)
                        log.info("relay %s resumes after notification %s", self.service, position)
                    notifications = await asyncio.to_thread(
                        self.app.recorder.select_notifications, position, self.batch_size, inclusive_of_start=False
                    )
                    if not notifications:
                        await self._sleep(stop)
                        if not await self._stream_exists(js):  # deleted (`dudao replay --stream`): refill it
                            position = None
                        continue
                    position = self.position = await self._publish(
                        js, notifications, await self._links(lock, notifications)
                    )
                    backoff = 0.2
                except Exception as e:
                    log.warning("relay %s: %s; retrying in %.1fs", self.service, why(e), backoff)
                    position = None
                    await bus.wait_or_stop(stop, backoff)
                    backoff = min(backoff * 2, 5.0)
        finally:
            self.position = None  # no longer relaying: another replica's lag is its own to report
            if listening is not None and not lock.is_closed():
                with contextlib.suppress(Exception):
                    await lock.remove_listener(*listening)
            await nc.close()

    async def _stream_exists(self, js: JetStreamContext) -> bool:
        try:
            await js.stream_info(self.stream)
            return True
        except NotFoundError:
            return False

    async def _position(self, js: JetStreamContext) -> int:
        """The last notification id in the stream."""
        try:
            last = await js.get_last_msg(self.stream, bus.service_subjects(self.service, self.jurisdiction))
        except NotFoundError:
            return 0
        return int((last.headers or {})[bus.HEADER_NOTIFICATION_ID])

    async def _links(self, db: asyncpg.Connection, notifications: Sequence[Notification]) -> dict[int, str]:
        """The batch's links in the hash chain (decision 017), to travel with the events; none if unreadable."""
        try:
            rows = await db.fetch(
                f'SELECT notification_id, link FROM "{self.service}".{chain.TABLE} WHERE notification_id BETWEEN $1 AND $2',
                notifications[0].id,
                notifications[-1].id,
            )
        except asyncpg.PostgresError as e:
            log.warning("relay %s: no chain links for this batch: %s", self.service, why(e))
            return {}
        return {r["notification_id"]: bytes(r["link"]).hex() for r in rows}

    async def _publish(
        self, js: JetStreamContext, notifications: Sequence[Notification], chain_links: dict[int, str]
    ) -> int:
        """Publish a batch in order, each message acked before the next is sent; the last notification id."""
        for n in notifications:
            state, envelope = event_state(self.app, n)
            aggregate, event = event_name(n.topic)
            msg_id = bus.message_id(self.jurisdiction, self.service, n.id)
            span = self._tracer.start_span(
                f"publish {aggregate}.{event}",
                context=telemetry.context_from(envelope),
                kind=trace.SpanKind.PRODUCER,
                attributes={"messaging.system": "nats", "messaging.message.id": msg_id},
            )
            headers = {
                bus.HEADER_MSG_ID: msg_id,
                bus.HEADER_EVENT_TYPE: f"{aggregate}.{event}",
                bus.HEADER_NOTIFICATION_ID: str(n.id),
                bus.HEADER_ORIGIN: bus.origin(self.jurisdiction, self.service),
            }
            if n.id in chain_links:
                headers[bus.HEADER_CHAIN] = chain_links[n.id]
            with trace.use_span(span):
                headers.update(telemetry.current_trace_headers())
            body = {
                "type": f"{aggregate}.{event}",
                "aggregate": aggregate,
                "aggregate_id": str(n.originator_id),
                "version": n.originator_version,
                "notification_id": n.id,
                "origin": {"jurisdiction": self.jurisdiction, "service": self.service},
                "envelope": envelope,
                "data": state,
            }
            up, down = self.crossings.travels(aggregate)
            subject = bus.subject(self.jurisdiction, self.service, aggregate, event, up=up, down=down)
            try:
                await js.publish(subject, dumps(body), headers=headers, timeout=10)
            finally:
                span.end()
            self.published += 1
        return notifications[-1].id

    async def _listen(self, conn: asyncpg.Connection) -> tuple[str, Callable[..., None]] | None:
        """LISTEN for the store's NOTIFY so new events go out at once; polling covers a lost listener."""
        channel = getattr(self.app.recorder, "channel_name", None)
        if channel is None:
            return None
        try:
            wake = lambda *_: self._wake.set()  # noqa: E731
            await conn.add_listener(channel, wake)
            return channel, wake
        except (OSError, asyncpg.PostgresError) as e:
            log.warning("relay %s polls: LISTEN failed (%s)", self.service, why(e))
            return None

    async def _sleep(self, stop: asyncio.Event) -> None:
        self._wake.clear()
        waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
        _, pending = await asyncio.wait(waiters, timeout=self.poll_interval, return_when=asyncio.FIRST_COMPLETED)
        for w in pending:
            w.cancel()
