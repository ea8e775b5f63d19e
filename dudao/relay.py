"""The outbox relay: follows a service's notification log and publishes each event to JetStream once.

The event store is the outbox. The relay's position is not kept anywhere but in the stream
itself: the last message's `Dudao-Notification-Id`. A batch is written to the connection in
notification order and its acks are awaited together (decision 032); the position moves only over
the acked prefix, and after a failed ack the relay sends again from there, so what was stored is
dropped as a duplicate (each message carries its `Nats-Msg-Id`) and what was lost goes in. One
replica of a service relays at a time (a PostgreSQL advisory lock). (Decision 011: no
`Nats-Expected-*` header, since streams that source this one would check it against themselves.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from uuid import UUID

import asyncpg
from eventsourcing.application import Application
from eventsourcing.persistence import Notification
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from opentelemetry import trace

from dudao import bus, chain, leadership, links, metrics, telemetry
from dudao.config import Settings
from dudao.events import dumps_plain
from dudao.links import Crossings
from dudao.store import event_name
from dudao.telemetry import why
from dudao.wire import event_state, finite_state

log = logging.getLogger("dudao.relay")

ACK_WAIT = 10.0  # seconds a batch waits for its acks before it is sent again from its acked prefix
TRACE_HEADERS = ("traceparent", "tracestate")  # what an envelope carries of its request's trace (W3C)


class Unacked(Exception):
    """Some of a batch was not acknowledged: the stream holds everything up to `acked_through` and maybe more."""

    def __init__(self, acked_through: int, cause: BaseException) -> None:
        super().__init__(f"not acknowledged after notification {acked_through}: {why(cause)}")
        self.acked_through = acked_through
        self.at = time.monotonic()


class Relay:
    """Publishes one service's committed events, in notification order, exactly once."""

    def __init__(
        self,
        settings: Settings,
        app: Application[UUID],
        crossings: Crossings,
        *,
        batch_size: int = 512,
        poll_interval: float = 1.0,
    ) -> None:
        self.settings = settings
        self.app = app
        self.crossings = crossings  # which events travel up and down: every relay of a service says the same
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
        # The connection holding the lock also listens for new events and reads their chain links.
        listening = await self._listen(lock)
        nc: Client | None = None
        try:
            position: int | None = None
            unacked: Unacked | None = None
            backoff = 0.2
            while not stop.is_set() and not lock.is_closed():
                try:
                    if nc is None or nc.is_closed:  # no reconnecting under a batch: a new connection, a fresh position
                        nc = await bus.connect(self.settings.nats_url, f"{self.service}-relay", reconnect=False)
                        js, acked, position = nc.jetstream(timeout=5), bus.Acked(nc), None
                    if position is None:
                        await links.ensure(js, self.service, self.jurisdiction, self.settings.upper)
                        position = self.position = await self._resume(js, unacked)
                        unacked = None
                    notifications = await asyncio.to_thread(
                        self.app.recorder.select_notifications, position, self.batch_size, inclusive_of_start=False
                    )
                    if not notifications:
                        await self._sleep(stop)
                        if not await self._stream_exists(js):  # deleted (`dudao replay --stream`): refill it
                            position = None
                        continue
                    position = self.position = await self._publish(
                        acked, notifications, await self._links(lock, notifications), position
                    )
                    backoff = 0.2
                except Exception as e:
                    unacked = e if isinstance(e, Unacked) else unacked
                    log.warning("relay %s: %s; retrying in %.1fs", self.service, why(e), backoff)
                    position = None
                    await bus.wait_or_stop(stop, backoff)
                    backoff = min(backoff * 2, 5.0)
        finally:
            self.position = None  # no longer relaying: another replica's lag is its own to report
            if listening is not None and not lock.is_closed():
                with contextlib.suppress(Exception):
                    await lock.remove_listener(*listening)
            if nc is not None:
                with contextlib.suppress(Exception):
                    await nc.close()

    async def _stream_exists(self, js: JetStreamContext) -> bool:
        try:
            await js.stream_info(self.stream)
            return True
        except NotFoundError:
            return False

    async def _resume(self, js: JetStreamContext, unacked: Unacked | None) -> int:
        """Where to go on: after the stream's last message, or, after a failed ack, after the batch's acked prefix. A
        message past that prefix may be in the stream while an earlier one is not (it was lost in a reconnect): sending
        everything after the prefix again fills that hole, and the stream drops the rest as duplicates, provided it
        still remembers their ids (its duplicate window, two minutes; the retry comes within seconds)."""
        position = await self._position(js)
        if unacked is not None and unacked.acked_through < position:
            if time.monotonic() - unacked.at < bus.DUPLICATE_WINDOW_S / 2:
                log.warning(
                    "relay %s sends again after notification %s (the stream has up to %s; it drops what it holds)",
                    self.service,
                    unacked.acked_through,
                    position,
                )
                return unacked.acked_through
            log.error(
                "relay %s: notifications %s..%s were sent but not all acknowledged, too long ago to send them again"
                " safely; if one is missing, refill the stream from the store (`dudao replay SERVICE --stream`)",
                self.service,
                unacked.acked_through + 1,
                position,
            )
        log.info("relay %s resumes after notification %s", self.service, position)
        return position

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
        self,
        acked: bus.Acked,
        notifications: Sequence[Notification],
        chain_links: dict[int, str],
        position: int,
    ) -> int:
        """Publish a batch: every message written to the connection in notification order, then the acks awaited
        together. Returns the last notification id; raises `Unacked` with the acked prefix if any ack failed."""
        sent: list[tuple[Notification, asyncio.Future, trace.Span]] = []
        unsent: BaseException | None = None
        try:
            for n in notifications:
                subject, body, headers, span = self._message(n, chain_links)
                sent.append((n, await acked.publish(subject, body, headers), span))
        except Exception as e:  # the connection refused the rest: what was sent may still be acked
            unsent = e
        failure: BaseException | None = None
        if sent:
            await asyncio.wait([ack for _, ack, _ in sent], timeout=ACK_WAIT)
        acked_through = position
        for n, ack, span in sent:
            if failure is None and not ack.done():
                failure = TimeoutError(f"no ack within {ACK_WAIT:.0f}s")
            elif failure is None and ack.exception() is not None:
                failure = ack.exception()
            if failure is None:
                acked_through = n.id
                self.published += 1
            else:
                ack.cancel()
                span.set_status(trace.StatusCode.ERROR, why(failure))
            span.end()
        if failure is not None or unsent is not None:
            raise Unacked(acked_through, failure or unsent)
        return acked_through

    def _message(self, n: Notification, chain_links: dict[int, str]) -> tuple[str, bytes, dict[str, str], trace.Span]:
        """One event as the stream carries it: subject, body, headers, and its producer span (open until acked)."""
        state, envelope = event_state(self.app, n)
        aggregate, event = event_name(n.topic)
        msg_id = bus.message_id(self.jurisdiction, self.service, n.id)
        headers = {
            bus.HEADER_MSG_ID: msg_id,
            bus.HEADER_EVENT_TYPE: f"{aggregate}.{event}",
            bus.HEADER_NOTIFICATION_ID: str(n.id),
            bus.HEADER_ORIGIN: bus.origin(self.jurisdiction, self.service),
        }
        if n.id in chain_links:
            headers[bus.HEADER_CHAIN] = chain_links[n.id]
        if telemetry.records(self._tracer):
            span = self._tracer.start_span(
                f"publish {aggregate}.{event}",
                context=telemetry.context_from(envelope),
                kind=trace.SpanKind.PRODUCER,
                attributes={"messaging.system": "nats", "messaging.message.id": msg_id},
            )
            with trace.use_span(span):
                headers.update(telemetry.current_trace_headers())
        else:  # no producer span for nobody (decision 036): the event goes on in the trace its request carried
            span = trace.INVALID_SPAN
            headers.update({k: str(envelope[k]) for k in TRACE_HEADERS if envelope.get(k)})
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
        return (
            bus.subject(self.jurisdiction, self.service, aggregate, event, up=up, down=down),
            dumps_plain(body, finite=finite_state(self.app, n)),  # the state is plain already (event_state)
            headers,
            span,
        )

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
