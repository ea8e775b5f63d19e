"""The durable pull consumer: one transaction per message (or per fetched batch), exactly-once effects, then the ack.

There is one consumer loop and two kinds of effect (`dudao.effects`): a projection writes a read model with its
tracking row in one PostgreSQL transaction; a reaction turns the event into a command of this service. Either way a
redelivered message finds its tracking and changes nothing. A failure is retried with backoff; a message that can
never be processed is written to the dead-letter table with its error and terminated.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import asyncpg
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from opentelemetry import trace

from dudao import bus, errors, leadership, metrics, telemetry
from dudao.config import Settings
from dudao.events import Envelope
from dudao.telemetry import why

log = logging.getLogger("dudao.consumer")

# PostgreSQL or NATS away for a while (errors.DATABASE_DOWN: the event store's writes of a reaction too): retried, never dead-lettered.
TRANSIENT = (OSError, asyncpg.TooManyConnectionsError, TimeoutError, *errors.DATABASE_DOWN)


class Undeliverable(Exception):
    """The message can never be processed (malformed, unknown, against the rules): dead-letter it.

    `reason` is a stable word for the metric (e.g. `out_of_scope`); the message says the rest."""

    def __init__(self, message: str, reason: str = "undeliverable"):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class InboundEvent:
    """An event as it arrives from NATS."""

    type: str
    aggregate: str
    aggregate_id: str
    version: int
    origin: str
    notification_id: int
    envelope_fields: Mapping[str, Any]  # the envelope as the message carries it (`envelope` reads it)
    data: dict[str, Any]
    subject: str = ""
    stream_seq: int = 0
    headers: dict[str, str] = field(default_factory=dict)

    @cached_property
    def envelope(self) -> Envelope:
        """Built when first asked: the audit and the reactions read it, most read models never do, and building it
        was an eighth of decoding every message for every consumer. `from_msg` checks it holds what one needs."""
        return Envelope.from_dict(self.envelope_fields)

    @property
    def position(self) -> int:
        """Where the event stands in this instance's stream: unique across origins and growing as events arrive, so
        read models page by it (a notification id is unique only within its origin, and an upper instance holds many)."""
        return self.stream_seq

    @classmethod
    def from_msg(cls, msg: Msg, stream_seq: int | None = None) -> InboundEvent:
        """From a delivered message, or (with its `stream_seq`) one read from the stream by sequence."""
        try:
            seq = bus.stream_seq(msg) if stream_seq is None else stream_seq
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise Undeliverable(f"malformed event message: {e!r}") from e
        return cls.from_parts(msg.data, msg.headers, msg.subject, seq)

    @classmethod
    def from_parts(cls, data: bytes, headers: dict[str, str] | None, subject: str, stream_seq: int) -> InboundEvent:
        """From a message's body, headers, subject and place in its stream."""
        try:
            body = bus.loads(data)
            headers = dict(headers or {})
            origin = body["origin"]
            envelope = body.get("envelope") or {}
            if not isinstance(envelope, dict) or not Envelope.REQUIRED <= envelope.keys():
                raise TypeError(f"an envelope needs {', '.join(sorted(Envelope.REQUIRED))}: {envelope!r}")
            # Every field given, straight into the instance's dict: the frozen dataclass's __init__ sets each through
            # object.__setattr__, a quarter of decoding every message for every consumer. Equal to cls(**fields).
            event = object.__new__(cls)
            event.__dict__.update(
                type=str(body["type"]),
                aggregate=str(body["aggregate"]),
                aggregate_id=str(body["aggregate_id"]),
                version=int(body["version"]),
                origin=bus.origin(origin["jurisdiction"], origin["service"]),
                notification_id=int(body["notification_id"]),
                envelope_fields=envelope,
                data=dict(body["data"]),
                subject=subject,
                stream_seq=stream_seq,
                headers=headers,
            )
            return event
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise Undeliverable(f"malformed event message: {e!r}") from e


Handler = Callable[[asyncpg.Connection, InboundEvent], Awaitable[None]]
Settle = Callable[[asyncpg.Connection], Awaitable[None]]
Effect = Callable[[InboundEvent], Awaitable[None]]


class OutOfOrder(Exception):
    """An event arrived before an earlier version of its aggregate: it waits (nak) until that one is applied."""


TABLES_SQL = """
CREATE TABLE IF NOT EXISTS {schema}.consumer_tracking (
    consumer text NOT NULL,
    origin text NOT NULL,
    notification_id bigint NOT NULL,
    stream text NOT NULL,
    stream_seq bigint NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, origin, notification_id)
);
CREATE TABLE IF NOT EXISTS {schema}.dead_letters (
    id bigserial PRIMARY KEY,
    consumer text NOT NULL,
    stream text NOT NULL,
    stream_seq bigint NOT NULL,
    subject text NOT NULL,
    headers jsonb NOT NULL,
    payload bytea NOT NULL,
    error text NOT NULL,
    deliveries int NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (consumer, stream, stream_seq)
);
CREATE TABLE IF NOT EXISTS {schema}.consumer_versions (
    consumer text NOT NULL,
    origin text NOT NULL,
    aggregate_id text NOT NULL,
    version bigint NOT NULL,
    PRIMARY KEY (consumer, origin, aggregate_id)
);
ALTER TABLE {schema}.dead_letters ADD COLUMN IF NOT EXISTS resolved_at timestamptz, ADD COLUMN IF NOT EXISTS resolution text;
CREATE TABLE IF NOT EXISTS {schema}.aggregate_origins (
    aggregate_id text PRIMARY KEY,
    origin text NOT NULL
);
"""


async def unresolved_dead_letters(conn: asyncpg.Connection, schema: str, limit: int = 20) -> list[dict[str, Any]]:
    """The dead letters nobody has resolved yet (`dudao dead-letters resolve`), oldest first."""
    rows = await conn.fetch(
        f'SELECT id, consumer, subject, error, created_at FROM "{schema}".dead_letters WHERE resolved_at IS NULL'
        " ORDER BY id LIMIT $1",
        limit,
    )
    return [dict(r) for r in rows]


async def ensure_tables(pool: asyncpg.Pool, schema: str) -> None:
    async with pool.acquire() as conn:
        if not await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema):  # the app role may not
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        await conn.execute(TABLES_SQL.format(schema=f'"{schema}"'))


def durable_name(name: str, jurisdiction: str) -> str:
    """The server's name for consumer `name` at the instance of `jurisdiction`: `registry-directory-v4-j530113`."""
    return f"{name}-{bus.domain(jurisdiction)}"


class Consumer:
    """A durable pull consumer that applies `handler` to each event exactly once."""

    def __init__(
        self,
        settings: Settings,
        pool: asyncpg.Pool,
        *,
        schema: str,
        name: str,
        stream: str,
        filter_subject: str,
        effect: Effect,
        max_attempts: int = 5,
        backoff: tuple[float, ...] = (0.2, 1, 5, 15),
        batch: int = 1000,
        ack_wait: float = 30,
        ordered: bool = False,
    ):
        self.settings, self.pool, self.schema = settings, pool, schema
        self.name, self.stream, self.filter_subject = name, stream, filter_subject
        # The server's consumer is named per instance: linked servers pass acks across the leaf link by subject
        # (`$JS.ACK.<stream>.<consumer>.…`), so one name on both sides let each side's acks reach the other's
        # consumer (issue 20). The checkpoints keep `name`.
        self.durable = durable_name(name, settings.jurisdiction)
        self.effect = effect
        self.max_attempts, self.backoff, self.batch, self.ack_wait = max_attempts, backoff, batch, ack_wait
        self.max_waits = 40  # deliveries of an event waiting for an earlier version: about three minutes, > ack_wait
        # Ordered: a failed message is retried here, holding the rest of its batch, and never handed back to the
        # server (a nak'd message is overtaken by new ones during its backoff); a restart resumes after the ack floor.
        self.ordered = ordered
        self.processed = 0
        self.dead_lettered = 0
        self.pending: int | None = None  # messages after the last one fetched, as the server said (None: not yet asked)
        self.service = schema
        self._attributes = {"service": schema, "consumer": name}
        self._tracer = telemetry.tracer("dudao.consumer")

    def lag(self) -> int | None:
        """How far behind the stream this consumer is, as of its last fetch (0 when a fetch found nothing)."""
        return self.pending

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop` is set; NATS or PostgreSQL going away only pauses it.

        Of all the replicas running this consumer, one consumes at a time: it holds a PostgreSQL
        advisory lock named after the consumer, and the others wait for it. Two replicas pulling
        from one durable consumer would apply an aggregate's events out of order (decision 006).
        """
        await ensure_tables(self.pool, self.schema)
        metrics.watch_consumer(self)  # its lag is watched while it runs, and only then
        key = f"dudao-consumer:{self.schema}:{self.name}"
        try:
            await leadership.while_leading(
                self.settings.database_url, key, stop, f"consumer {self.name}", lambda lock: self._consume(stop, lock)
            )
        finally:
            metrics.unwatch(self)

    async def _consume(self, stop: asyncio.Event, lock: asyncpg.Connection) -> None:
        nc = await bus.connect(self.settings.nats_url, self.name)
        try:
            js = nc.jetstream(timeout=5)
            sub = None
            while not stop.is_set() and not lock.is_closed():
                try:
                    if sub is None:
                        sub = await self._subscribe(js)
                    msgs = await bus.or_stop(sub.fetch(self.batch, timeout=1), stop)
                except TimeoutError:  # nats-py's, or asyncio's own when a fetch's deadline ran out between its two
                    # requests (a busy process): nothing came in time, the subscription is as good as before
                    self.pending = 0
                    continue
                except bus.Stopped:
                    break
                except Exception as e:
                    log.warning("consumer %s: %s; retrying", self.name, why(e))
                    sub = None
                    await bus.wait_or_stop(stop, 0.5)
                    continue
                if len(msgs) > 1 and await self._handle_together(msgs):
                    continue
                for i, msg in enumerate(msgs):
                    if self.ordered:
                        if not await self._handle_here(msg, msgs[i + 1 :], lambda: stop.is_set() or lock.is_closed()):
                            break  # stopping or no longer leading: the rest comes back to whoever leads next
                    elif not await self._handle(msg):
                        # Keep order: what follows a retried message is retried after it.
                        for later in msgs[i + 1 :]:
                            await _quietly(later.nak(delay=self._delay(msg)))
                        break
        finally:
            await nc.close()

    async def _subscribe(self, js):
        config = ConsumerConfig(
            durable_name=self.durable,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait,
            max_deliver=-1,
            max_ack_pending=self._max_ack_pending(),
            filter_subject=self.filter_subject,
        )
        with contextlib.suppress(NotFoundError):
            await js.delete_consumer(self.stream, self.name)  # named as before issue 20; its checkpoints carry over
            log.info("consumer %s: renamed %s on the server", self.name, self.durable)
        with contextlib.suppress(NotFoundError):
            existing = await js.consumer_info(self.stream, self.durable)
            if existing.config.filter_subject != self.filter_subject:
                # A changed filter needs a new consumer; it starts from the first event again, and the checkpoints
                # by origin skip whatever this consumer had already applied.
                log.info(
                    "consumer %s: filter %s -> %s; recreating it",
                    self.name,
                    existing.config.filter_subject,
                    self.filter_subject,
                )
                await js.delete_consumer(self.stream, self.durable)
            elif self.ordered and existing.num_ack_pending:
                # An earlier run left messages unacked. The server would hand them back only after ack_wait, and
                # later ones first: start again right after the last acked one instead (the tracking rows skip what
                # was applied but not acked).
                config.deliver_policy = DeliverPolicy.BY_START_SEQUENCE
                config.opt_start_seq = (existing.ack_floor.stream_seq if existing.ack_floor else 0) + 1
                log.info("consumer %s: resuming after stream sequence %d", self.name, config.opt_start_seq - 1)
                await js.delete_consumer(self.stream, self.durable)
            elif existing.config.max_ack_pending != config.max_ack_pending:
                # Made for another batch: a fetch of more than the server lets it hold unacked waits out its timeout
                # for what cannot come, every time.
                log.info(
                    "consumer %s: max ack pending %s -> %s",
                    self.name,
                    existing.config.max_ack_pending,
                    config.max_ack_pending,
                )
                existing.config.max_ack_pending = config.max_ack_pending
                await js.add_consumer(self.stream, config=existing.config)
        return await js.pull_subscribe(self.filter_subject, durable=self.durable, stream=self.stream, config=config)

    def _max_ack_pending(self) -> int:
        """What the server lets this consumer hold unacked: an ordered consumer, a batch (it takes them in order, and
        holds the rest of its batch while it retries one); any other, two, so a batch is fetched whole while some
        of the one before waits for an earlier version of its aggregate (nak'd with a delay, still unacked)."""
        return self.batch if self.ordered else 2 * self.batch

    async def _handle_together(self, msgs: list[Msg]) -> bool:
        """A projection's fetched batch in one transaction (decision 034): True when all of it was applied and acked;
        False, with nothing applied, when any of it needs the one-at-a-time path (a retry, a wait, a dead letter)."""
        apply_all = getattr(self.effect, "apply_all", None)
        if apply_all is None:
            return False
        passes_over = getattr(self.effect, "passes_over", None)  # a reaction: by the types the headers name
        if passes_over is not None and passes_over(msgs):
            return await self._done_together(msgs)
        try:
            events = [InboundEvent.from_msg(msg) for msg in msgs]
        except Undeliverable:
            return False

        attributes = {"dudao.consumer": self.name, "dudao.batch": len(msgs)}

        def traced(i: int) -> contextlib.AbstractContextManager:
            return telemetry.consumed(self._tracer, f"process {events[i].type}", msgs[i].headers, attributes)

        try:
            await apply_all(events, traced)
        except Exception as e:
            log.debug("consumer %s: a batch of %d goes one at a time: %s", self.name, len(msgs), why(e))
            return False
        return await self._done_together(msgs)

    async def _done_together(self, msgs: list[Msg]) -> bool:
        """A batch done: acked and counted together."""
        for msg in msgs:
            await _quietly(msg.ack())  # a lost ack is a redelivery, which the tracking rows skip
        self.processed += len(msgs)
        self.pending = msgs[-1].metadata.num_pending
        metrics.PROCESSED.add(len(msgs), self._attributes)
        return True

    async def _handle_here(self, msg: Msg, held: list[Msg], leaving: Callable[[], bool]) -> bool:
        """An ordered consumer's message, retried here until applied or dead-lettered, while the rest of its batch
        waits (the server told they are in progress); False once `leaving()` (asked to stop, or the advisory lock
        lost: PostgreSQL gone long enough for another replica to lead)."""
        attempt = msg.metadata.num_delivered or 1
        while not await self._handle(msg, attempt):
            for waiting in (msg, *held):
                await _quietly(waiting.in_progress())
            deadline = asyncio.get_running_loop().time() + self.backoff[min(attempt - 1, len(self.backoff) - 1)]
            while asyncio.get_running_loop().time() < deadline:
                if leaving():
                    return False
                await asyncio.sleep(min(0.1, max(0.0, deadline - asyncio.get_running_loop().time())))
            attempt += 1
        return True

    async def _handle(self, msg: Msg, attempt: int | None = None) -> bool:
        """Process one message; False when it must be retried later: by the server after a nak, or, given the
        `attempt` (an ordered consumer's), by the caller."""
        parent = telemetry.context_from(msg.headers)
        event_type = (msg.headers or {}).get(bus.HEADER_EVENT_TYPE, "?")
        with self._tracer.start_as_current_span(
            f"process {event_type}",
            context=parent,
            kind=trace.SpanKind.CONSUMER,
            attributes={"dudao.consumer": self.name},
        ) as span:
            deliveries = attempt or msg.metadata.num_delivered or 1
            here = attempt is not None
            event = None
            try:
                event = InboundEvent.from_msg(msg)
                await self.effect(event)
                await msg.ack()
                self.processed += 1
                self.pending = msg.metadata.num_pending
                metrics.PROCESSED.add(1, self._attributes)
                return True
            except Undeliverable as e:
                return await self._dead_letter(msg, f"{e.reason}: {e}", deliveries, e.reason, here=here)
            except OutOfOrder as e:
                # The earlier version is in flight (a redelivery after a crash comes after ack_wait): wait for it
                # while this batch goes on, where it may be. A version that never comes is a dead letter, not a gap.
                if deliveries >= self.max_waits:
                    await self._dead_letter(msg, f"out_of_order: {e}", deliveries, "out_of_order", event)
                else:
                    log.info("consumer %s: %s; waiting for it", self.name, e)
                    await _quietly(msg.nak(delay=min(deliveries, 5)))
                return True
            except TRANSIENT as e:
                span.record_exception(e)
                log.warning("consumer %s: transient failure on %s: %s", self.name, msg.subject, why(e))
                if not here:
                    await _quietly(msg.nak(delay=self._delay(msg)))
                return False
            except Exception as e:
                span.record_exception(e)
                if deliveries >= self.max_attempts:
                    return await self._dead_letter(msg, why(e), deliveries, "failed", event, here=here)
                log.warning("consumer %s: %s on %s (attempt %d)", self.name, why(e), msg.subject, deliveries)
                if not here:
                    await _quietly(msg.nak(delay=self._delay(msg)))
                return False

    async def _dead_letter(
        self,
        msg: Msg,
        error: str,
        deliveries: int,
        reason: str,
        event: InboundEvent | None = None,
        *,
        here: bool = False,
    ) -> bool:
        """Keep `msg` in dead_letters and terminate it: True once done. Its aggregate's later versions go on being
        applied: the letter, unresolved until someone looks (`/readyz` says degraded meanwhile), is the record of the
        gap. False when PostgreSQL cannot take it yet: retried by the server, or (`here`) by the caller."""
        log.error("consumer %s: dead-lettering %s: %s", self.name, msg.subject, error)
        passed = getattr(self.effect, "passed", None)
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                if event is not None and passed is not None:
                    await passed(conn, event)
                await conn.execute(
                    f'INSERT INTO "{self.schema}".dead_letters'
                    " (consumer, stream, stream_seq, subject, headers, payload, error, deliveries)"
                    " VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8) ON CONFLICT DO NOTHING",
                    self.name,
                    self.stream,
                    msg.metadata.sequence.stream,
                    msg.subject,
                    json.dumps(dict(msg.headers or {})),
                    msg.data,
                    error,
                    deliveries,
                )
        except TRANSIENT as e:
            log.warning("consumer %s: cannot dead-letter yet (%s); will retry", self.name, why(e))
            if not here:
                await _quietly(msg.nak(delay=self._delay(msg)))
            return False
        self.dead_lettered += 1
        metrics.DEAD_LETTERS.add(1, self._attributes | {"reason": reason})
        await _quietly(msg.term())
        return True

    def _delay(self, msg: Msg) -> float:
        attempt = (msg.metadata.num_delivered or 1) - 1
        return self.backoff[min(attempt, len(self.backoff) - 1)]


async def _quietly(awaitable: Awaitable[Any]) -> None:
    try:
        await awaitable
    except Exception as e:
        log.debug("ack/nak failed: %s", e)
