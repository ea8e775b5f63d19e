"""The durable consumer: effect and checkpoint in one transaction, ack after commit, dead letters."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterator

import asyncpg
import nats
import pytest
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from dudao import bus, origins
from dudao.consumer import Consumer, InboundEvent, durable_name, ensure_tables
from dudao.effects import ProjectionEffect
from tests.conftest import fetch_timing_out, measured, until

pytestmark = pytest.mark.integration

SCHEMA = "probe"


def event_body(notification_id: int, value: str, version: int | None = None) -> bytes:
    return json.dumps(
        {
            "type": "Probe.Happened",
            "aggregate": "Probe",
            "aggregate_id": "00000000-0000-0000-0000-000000000001",
            "version": notification_id if version is None else version,
            "notification_id": notification_id,
            "origin": {"jurisdiction": "500120", "service": "registry"},
            "envelope": {"actor": "t", "jurisdiction": "500120", "correlation_id": "c", "causation_id": "c"},
            "data": {"value": value},
        }
    ).encode()


class Harness:
    """A stream, a pool, an effects table and consumers on them."""

    def __init__(self, settings, js, pool: asyncpg.Pool):
        self.settings, self.js, self.pool = settings, js, pool
        self.running: list[tuple[asyncio.Event, asyncio.Task]] = []

    async def publish(
        self, notification_id: int, value: str = "v", *, body: bytes | None = None, msg_id: str | None = None
    ):
        subject = bus.subject("500120", "registry", "Probe", "Happened")
        headers = {bus.HEADER_MSG_ID: msg_id or f"500120:registry:{notification_id}"}
        await self.js.publish(
            subject, body if body is not None else event_body(notification_id, value), headers=headers
        )

    def consumer(
        self,
        handler: Callable[[asyncpg.Connection, InboundEvent], Awaitable[None]],
        filter_subject: str = "dudao.*.registry.>",
        **options,
    ) -> Consumer:
        effect = ProjectionEffect(self.pool, SCHEMA, "probe-effects", bus.stream_name("registry"), handler)
        options = {"max_attempts": 3, "backoff": (0.05,), "effect": effect} | options
        return Consumer(
            self.settings,
            self.pool,
            schema=SCHEMA,
            name="probe-effects",
            stream=bus.stream_name("registry"),
            filter_subject=filter_subject,
            **options,
        )

    def start(self, consumer: Consumer) -> None:
        stop = asyncio.Event()
        self.running.append((stop, asyncio.create_task(consumer.run(stop))))

    async def stop_all(self) -> None:
        for stop, task in self.running:
            stop.set()
            await asyncio.wait_for(task, timeout=10)
        self.running.clear()

    async def effects(self) -> list[str]:
        return [r["value"] for r in await self.pool.fetch(f"SELECT value FROM {SCHEMA}.effects ORDER BY id")]

    async def count(self, table: str) -> int:
        return await self.pool.fetchval(f"SELECT count(*) FROM {SCHEMA}.{table}")


@pytest.fixture
async def harness(settings):
    nc = await nats.connect(settings.nats_url)
    js = nc.jetstream()
    await bus.ensure_stream(js, "registry", "500120")
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=4)
    await ensure_tables(pool, SCHEMA)
    await pool.execute(f"CREATE TABLE {SCHEMA}.effects (id serial PRIMARY KEY, value text NOT NULL)")
    h = Harness(settings, js, pool)
    yield h
    await h.stop_all()
    await pool.close()
    await nc.close()


async def record(conn: asyncpg.Connection, event: InboundEvent) -> None:
    await conn.execute(f"INSERT INTO {SCHEMA}.effects (value) VALUES ($1)", event.data["value"])


async def refuse_poison(conn: asyncpg.Connection, event: InboundEvent) -> None:
    if event.data["value"] == "poison":
        raise ValueError("this value breaks a rule")
    await record(conn, event)


async def test_a_redelivered_event_changes_nothing(harness):
    harness.start(harness.consumer(record))
    await harness.publish(1, "first")
    # The same event again under another message id: JetStream cannot de-duplicate it, the tracking table must.
    await harness.publish(1, "first", msg_id="sourced-copy-of-1")
    await harness.publish(2, "second")
    await until(lambda: harness.count("consumer_tracking"), what="tracking rows")
    await until(lambda: _equals(harness.effects(), ["first", "second"]), what="both effects")
    await until(lambda: _consumer_idle(harness), what="every message acked")
    assert await harness.effects() == ["first", "second"]


async def test_a_fetch_whose_deadline_runs_out_is_an_empty_fetch_not_a_failure(harness, monkeypatch, caplog):
    """nats-py's fetch raises asyncio's own TimeoutError when its deadline runs out between its two requests, which a
    busy process meets often: the consumer warned "TimeoutError; retrying", dropped its subscription and paused half a
    second, every time. Nothing came in time is all it means."""
    calls = fetch_timing_out(monkeypatch, at=1)
    subscribed = []
    consumer = harness.consumer(record)
    subscribe = consumer._subscribe
    monkeypatch.setattr(consumer, "_subscribe", lambda js: subscribed.append(1) or subscribe(js))
    with caplog.at_level(logging.WARNING, logger="dudao.consumer"):
        harness.start(consumer)
        await harness.publish(1, "first")
        await until(lambda: _equals(harness.effects(), ["first"]), what="the effect")
    assert len(calls) > 1, "no fetch timed out: the test proved nothing"
    assert "retrying" not in caplog.text
    assert subscribed == [1]


async def test_a_consumer_whose_filter_changes_is_recreated_and_applies_nothing_twice(harness):
    harness.start(harness.consumer(record))
    await harness.publish(1, "first")
    await harness.publish(2, "second")
    await until(lambda: _equals(harness.effects(), ["first", "second"]), what="both effects")
    await harness.stop_all()

    narrowed = "dudao.500120.registry.>"  # as a reaction on an upper instance is narrowed to its own events
    harness.start(harness.consumer(record, filter_subject=narrowed))
    await harness.publish(3, "third")
    await until(lambda: _equals(harness.effects(), ["first", "second", "third"]), what="the third effect")
    info = await harness.js.consumer_info(bus.stream_name("registry"), durable_name("probe-effects", "500120"))
    assert info.config.filter_subject == narrowed and info.delivered.stream_seq == 3  # read again from the start
    await until(lambda: _consumer_idle(harness), what="every message acked")
    assert await harness.effects() == ["first", "second", "third"]


@pytest.mark.parametrize("ordered", [True, False])
async def test_a_consumer_made_for_a_smaller_batch_is_let_hold_a_whole_batch(harness, ordered):
    """A consumer the server keeps from an earlier version, made to hold 2 unacked: fetching 6 got 2, then waited out
    the fetch's second for what could not come, every fetch (12 events: 6 s). Its limit follows the batch now."""
    filter_subject = "dudao.*.registry.>"
    stream, durable = bus.stream_name("registry"), durable_name("probe-effects", "500120")
    await harness.js.add_consumer(
        stream,
        ConsumerConfig(
            durable_name=durable,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=30,
            max_deliver=-1,
            max_ack_pending=2,
            filter_subject=filter_subject,
        ),
    )
    for n in range(1, 13):
        await harness.publish(n, f"e{n}")
    started = asyncio.get_running_loop().time()
    harness.start(harness.consumer(record, filter_subject, batch=6, ordered=ordered))
    await until(lambda: _equals(harness.effects(), [f"e{n}" for n in range(1, 13)]), what="all twelve")
    assert asyncio.get_running_loop().time() - started < 3
    info = await harness.js.consumer_info(stream, durable)
    assert info.config.max_ack_pending == (6 if ordered else 12)
    assert info.delivered.stream_seq == 12  # the same consumer, updated: nothing read again


async def test_a_failure_after_the_effect_rolls_back_effect_and_checkpoint_together(harness):
    attempts = []

    async def write_then_fail_once(conn, event):
        await record(conn, event)
        attempts.append(event.notification_id)
        if len(attempts) == 1:
            raise RuntimeError("crash after writing, before commit")

    harness.start(harness.consumer(write_then_fail_once))
    await harness.publish(1, "once")
    await until(lambda: _equals(harness.effects(), ["once"]), what="the retried effect")
    assert attempts == [1, 1]
    assert await harness.count("consumer_tracking") == 1


async def test_an_ordered_consumer_applies_a_retried_event_before_the_ones_that_arrive_meanwhile(harness):
    """A change feed's readers follow positions: an event applied after a later one could fall behind their cursor."""
    failed = []

    async def fail_once_while_more_arrive(conn, event):
        if not failed:
            failed.append(event.notification_id)
            for later in (2, 3, 4):  # they arrive during the first one's backoff
                await harness.publish(later, str(later))
            raise RuntimeError("a passing failure")
        await record(conn, event)

    await harness.publish(1, "1")
    harness.start(harness.consumer(fail_once_while_more_arrive, ordered=True, backoff=(0.5,)))
    await until(lambda: _equals(harness.effects(), ["1", "2", "3", "4"]), what="all four, in order")
    await until(lambda: _consumer_idle(harness), what="every message acked")
    assert await harness.effects() == ["1", "2", "3", "4"] and failed == [1]


async def test_an_ordered_consumer_takes_a_batch_at_a_time_and_retries_a_failure_before_the_rest_of_it(harness):
    """Ordered consumers batch too (decision 034): a failure inside a batch is retried where it is, the batch's later
    events waiting for it; nothing is handed back to the server to be overtaken."""
    attempts = []

    async def fail_the_tenth_twice(conn, event):
        transaction = await conn.fetchval("SELECT txid_current()")
        if event.notification_id == 10 and attempts.count(10) < 2:
            if not attempts:
                for later in (101, 102, 103):  # they arrive during the retries
                    await harness.publish(later, f"e{later}")
            attempts.append(10)
            raise RuntimeError("a passing failure")
        await conn.execute(f"INSERT INTO {SCHEMA}.effects (value) VALUES ($1)", f"{event.data['value']}@{transaction}")

    for n in range(1, 101):
        await harness.publish(n, f"e{n}")
    # batches of 32: the failure takes its own batch one at a time (decision 034), and the batches after it go together
    harness.start(harness.consumer(fail_the_tenth_twice, ordered=True, backoff=(0.3,), batch=32))
    await until(lambda: _equals(harness.count("effects"), 103), what="all of them")
    values, transactions = zip(*(e.split("@") for e in await harness.effects()), strict=True)
    assert list(values) == [f"e{n}" for n in range(1, 104)] and attempts == [10, 10]
    assert len(set(transactions)) < 100, "one transaction per event: no batch was taken together"
    await until(lambda: _consumer_idle(harness), what="every message acked")


async def test_an_ordered_consumer_restarted_takes_what_was_left_unacked_before_anything_later(harness):
    """A run that stopped holding a batch it never acked: the next starts right after the ack floor, instead of
    taking the later events first and the held ones after ack_wait."""
    holding = harness.consumer(record, ordered=True, ack_wait=30)

    async def hold(msgs, *_):  # fetched, never applied, never acked: as a process killed mid-batch
        return True

    holding._handle_together = hold  # type: ignore[method-assign]
    holding._handle_here = hold  # type: ignore[method-assign]
    for n in (1, 2, 3):
        await harness.publish(n, str(n))
    harness.start(holding)

    async def held() -> bool:
        try:
            info = await harness.js.consumer_info(bus.stream_name("registry"), durable_name("probe-effects", "500120"))
        except NotFoundError:
            return False  # not subscribed yet
        return info.num_ack_pending == 3

    await until(held, what="three messages held unacked")
    await harness.stop_all()
    for n in (4, 5):
        await harness.publish(n, str(n))
    harness.start(harness.consumer(record, ordered=True, ack_wait=30))
    await until(lambda: _equals(harness.count("effects"), 5), timeout=10, what="all five, well before ack_wait")
    assert await harness.effects() == ["1", "2", "3", "4", "5"]


async def test_a_row_never_goes_back_in_time_whatever_order_its_versions_arrive_in(harness):
    """After a crash, a redelivered version 1 can arrive after version 2 (issue 18: rows stayed older than their
    aggregates). Version 2 waits until version 1 is applied; the row ends at version 2."""
    await harness.pool.execute(
        f"CREATE TABLE {SCHEMA}.rows (id text PRIMARY KEY, value text NOT NULL, version int NOT NULL)"
    )

    async def row(conn: asyncpg.Connection, event: InboundEvent) -> None:  # as read models do: insert, then update
        if event.version == 1:
            await conn.execute(
                f"INSERT INTO {SCHEMA}.rows VALUES ($1, $2, 1) ON CONFLICT DO NOTHING",
                event.aggregate_id,
                event.data["value"],
            )
        else:
            await conn.execute(
                f"UPDATE {SCHEMA}.rows SET value = $2, version = $3 WHERE id = $1 AND version < $3",
                event.aggregate_id,
                event.data["value"],
                event.version,
            )

    # Version 2 (notification 8) is in the stream before version 1 (notification 7), as a redelivery would be.
    await harness.publish(8, body=event_body(8, "updated", version=2))
    await harness.publish(7, body=event_body(7, "created", version=1))
    await harness.publish(9, body=event_body(9, "created again", version=1), msg_id="another-copy")  # a stale copy
    harness.start(harness.consumer(row))

    async def updated() -> bool:
        return await harness.pool.fetchval(f"SELECT version FROM {SCHEMA}.rows") == 2

    await until(updated, timeout=20, what="the row at version 2")
    await until(lambda: _consumer_idle(harness), timeout=20, what="every message acked")
    assert [tuple(r) for r in await harness.pool.fetch(f"SELECT value, version FROM {SCHEMA}.rows")] == [("updated", 2)]
    assert await harness.pool.fetchval(f"SELECT version FROM {SCHEMA}.consumer_versions") == 2
    assert await harness.count("dead_letters") == 0


async def test_a_crash_between_commit_and_ack_does_not_apply_twice(harness):
    crashing = harness.consumer(record, ack_wait=1)

    async def commit_then_crash(msg):  # the effect is committed, the ack never leaves
        await crashing.effect(InboundEvent.from_msg(msg))
        return True

    crashing._handle = commit_then_crash  # type: ignore[method-assign]
    harness.start(crashing)
    await harness.publish(1, "committed")
    await until(lambda: _equals(harness.effects(), ["committed"]), what="the committed effect")
    await harness.stop_all()

    harness.start(harness.consumer(record, ack_wait=1))  # same durable: the unacked message comes back
    await harness.publish(2, "next")
    await until(lambda: _equals(harness.effects(), ["committed", "next"]), what="the next effect")
    await until(lambda: _consumer_idle(harness), timeout=20, what="the redelivered message acked")
    assert await harness.effects() == ["committed", "next"]


@pytest.mark.dead_letters
async def test_a_message_that_can_never_be_processed_is_dead_lettered_and_the_consumer_carries_on(harness):
    consumer = harness.consumer(refuse_poison)
    counted = {"service": consumer.service, "consumer": consumer.name}
    before = {m: measured(m, **counted) or 0 for m in ("dudao.consumer.dead_letters", "dudao.consumer.processed")}
    harness.start(consumer)
    await harness.publish(1, body=b"{not json")
    await harness.publish(2, body=event_body(2, "poison", version=1))
    await harness.publish(3, body=event_body(3, "fine", version=2))  # its aggregate's next version is not held back
    await until(lambda: _equals(harness.effects(), ["fine"]), what="the event after the poison")
    letters = await harness.pool.fetch(
        f"SELECT stream_seq, error, deliveries FROM {SCHEMA}.dead_letters ORDER BY stream_seq"
    )
    assert [r["stream_seq"] for r in letters] == [1, 2]
    assert "malformed" in letters[0]["error"] and letters[0]["deliveries"] == 1
    assert "this value breaks a rule" in letters[1]["error"] and letters[1]["deliveries"] == 3
    assert consumer.dead_lettered == 2
    # What an ops team sees: two dead letters, one event applied, nothing left behind.
    assert measured("dudao.consumer.dead_letters", **counted) - before["dudao.consumer.dead_letters"] == 2
    assert measured("dudao.consumer.processed", **counted) - before["dudao.consumer.processed"] == 1
    await until(lambda: _is_zero(consumer), what="no lag")
    assert measured("dudao.consumer.lag", **counted) == 0


async def _is_zero(consumer) -> bool:
    return consumer.lag() == 0


async def _equals(awaitable, expected) -> bool:
    return await awaitable == expected


async def _consumer_idle(harness) -> bool:
    info = await harness.js.consumer_info(bus.stream_name("registry"), durable_name("probe-effects", "500120"))
    return info.num_ack_pending == 0 and info.num_pending == 0


async def test_a_consumer_asked_to_stop_stops_at_once_not_after_its_pull(harness):
    consumer = harness.consumer(record)
    harness.start(consumer)
    await until(
        lambda: _is_zero(consumer), what="the first empty pull"
    )  # a pull that found nothing ended: the next one has begun
    started = asyncio.get_running_loop().time()
    await harness.stop_all()
    assert asyncio.get_running_loop().time() - started < 0.5  # the pull waits up to 1 s; the stop does not


async def test_two_replicas_of_a_consumer_take_turns_one_consumes_and_the_other_takes_over(harness):
    """Two replicas splitting one durable consumer would apply an aggregate's events out of order (decision 006)."""
    seen: list[tuple[str, int]] = []

    def tagged(replica: str):
        async def handler(conn, event):
            seen.append((replica, event.notification_id))
            await record(conn, event)

        return handler

    # A message published just as the leader stops can go to the leader's last pull request (it outlives the stop by
    # up to its 1 s expiry); it comes back after ack_wait. A short ack_wait keeps that inside the test's deadline
    # (seen once in six full runs with the default 30 s).
    harness.start(harness.consumer(tagged("a"), ack_wait=2))
    await until(
        lambda: _true(harness.pool.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")),
        what="a leader",
    )
    harness.start(harness.consumer(tagged("b"), ack_wait=2))
    for n in range(1, 21):
        await harness.publish(n, f"v{n}")
    await until(lambda: _equals(harness.effects(), [f"v{n}" for n in range(1, 21)]), what="twenty effects")
    assert {replica for replica, _ in seen} == {"a"}, "only the replica holding the lock consumes"
    assert [n for _, n in seen] == list(range(1, 21))

    stop, task = harness.running.pop(0)  # the leader goes away; the standby takes over
    stop.set()
    await asyncio.wait_for(task, timeout=10)
    await harness.publish(21, "v21")
    await until(lambda: _equals(harness.effects(), [f"v{n}" for n in range(1, 22)]), what="the standby to take over")
    assert seen[-1] == ("b", 21)


async def _true(value: Awaitable[object]) -> bool:
    return bool(await value)


async def test_a_backlog_is_applied_a_fetched_batch_per_transaction_each_event_once_in_order(harness):
    """Catching up (decision 034): the events a pull brings go in together, one commit for the lot."""

    async def record_transaction(conn, event):
        transaction = await conn.fetchval("SELECT txid_current()")
        await conn.execute(f"INSERT INTO {SCHEMA}.effects (value) VALUES ($1)", f"{event.data['value']}@{transaction}")

    for n in range(1, 201):
        await harness.publish(n, f"e{n}")
    harness.start(harness.consumer(record_transaction))
    await until(lambda: _equals(harness.count("effects"), 200), what="the backlog applied")
    values, transactions = zip(*(e.split("@") for e in await harness.effects()), strict=True)
    assert list(values) == [f"e{n}" for n in range(1, 201)]
    assert len(set(transactions)) <= 200 // 64 + 2, f"{len(set(transactions))} transactions for 200 events"
    await until(lambda: _consumer_idle(harness), what="every message acked")


async def test_a_batch_is_tracked_and_versioned_by_a_few_statements_and_an_event_twice_in_it_applied_once(
    harness, settings
):
    """Set-based bookkeeping (decision 034): a batch's tracking rows and versions take three statements, not two or
    three per event, and judge each event as it would be judged alone: a copy in the same batch is applied once."""
    bookkeeping: list[str] = []

    def logged(record) -> None:
        if "consumer_tracking" in record.query or "consumer_versions" in record.query:
            bookkeeping.append(record.query)

    async def init(conn: asyncpg.Connection) -> None:
        conn.add_query_logger(logged)

    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2, init=init)
    try:
        for n in range(1, 41):
            await harness.publish(n, f"e{n}")
            if n == 20:  # the same event again under another message id, as a relay's retry leaves it
                await harness.publish(n, f"e{n}", msg_id="a-copy-of-20")
        effect = ProjectionEffect(pool, SCHEMA, "probe-effects", bus.stream_name("registry"), record)
        harness.start(harness.consumer(record, effect=effect))
        await until(lambda: _equals(harness.count("consumer_tracking"), 40), what="the backlog tracked")
        await until(lambda: _consumer_idle(harness), what="every message acked")
        assert await harness.effects() == [f"e{n}" for n in range(1, 41)]
        assert await harness.pool.fetchval(f"SELECT version FROM {SCHEMA}.consumer_versions") == 40
        assert len(bookkeeping) <= 6, f"{len(bookkeeping)} bookkeeping statements for 41 messages"
    finally:
        await pool.close()


async def test_a_batchs_versions_are_read_by_each_aggregates_whole_key_whatever_the_statistics_say(harness):
    """A read model catching up (a new version, a rebuild) has thousands of version rows where the table's statistics,
    taken before it began, say it has none: the batch's versions are still read by each aggregate's key, not by
    taking all of this consumer's rows and hashing them, which grew slower with every batch (50 ms a batch at 200,000
    rows, in a rebuild of a generated province's operations read model)."""
    table = f"{SCHEMA}.consumer_versions"
    await harness.pool.execute(
        f"INSERT INTO {table} SELECT 'another', 'o', 'a' || i, 1 FROM generate_series(1, 20000) i;"
        f" ANALYZE {table};"  # statistics in which this consumer has no rows
        f" INSERT INTO {table} SELECT 'probe-effects', 'o', 'a' || i, 3 FROM generate_series(1, 20000) i"
    )

    def event(aggregate_id: str, version: int, n: int) -> InboundEvent:
        return InboundEvent(
            type="Probe.Happened",
            aggregate="Probe",
            aggregate_id=aggregate_id,
            version=version,
            origin="o",
            notification_id=n,
            envelope_fields={},
            data={},
        )

    # a batch of 500: the next version of 250 aggregates this consumer has, and the first of 250 it has not
    events = [event(f"a{n}", 4, n) for n in range(1, 251)] + [event(f"b{n}", 1, 250 + n) for n in range(1, 251)]
    effect = ProjectionEffect(harness.pool, SCHEMA, "probe-effects", bus.stream_name("registry"), record)
    reads = []
    async with harness.pool.acquire() as conn:
        conn.add_query_logger(
            lambda q: reads.append(q) if q.query.startswith("SELECT") and "consumer_versions" in q.query else None
        )
        async with conn.transaction():
            chosen = await effect._next_versions(conn, events)
            [read] = reads
            plan = json.loads(await conn.fetchval(f"EXPLAIN (FORMAT JSON) {read.query}", *read.args))
    assert chosen == events
    scans = [n for n in _plan_nodes(plan[0]["Plan"]) if n.get("Relation Name") == "consumer_versions"]
    assert scans and all("aggregate_id" in n.get("Index Cond", "") for n in scans), scans


def _plan_nodes(node: dict) -> Iterator[dict]:
    yield node
    for below in node.get("Plans", []):
        yield from _plan_nodes(below)


async def test_a_batchs_writes_go_in_a_round_trip_per_run_of_one_statement_each_seeing_those_before_it(
    harness, settings
):
    """`Deferring` (decision 034): a batch's handlers' writes wait and go together (executemany), in fetch order; each
    sees the rows of those before it, and a handler reading in the middle reads every write before its read."""
    ran: list[str] = []

    async def init(conn: asyncpg.Connection) -> None:
        conn.add_query_logger(lambda r: ran.append(r.query) if "effects" in r.query else None)

    async def counted(conn: asyncpg.Connection, event: InboundEvent) -> None:
        value = event.data["value"]
        if value == "read":  # how many rows this handler reads before it writes its own
            value = f"read{await conn.fetchval(f'SELECT count(*) FROM {SCHEMA}.effects')}"
        # each row names its event and how many rows it found before it
        await conn.execute(
            f"INSERT INTO {SCHEMA}.effects (value) SELECT $1 || '@' || count(*) FROM {SCHEMA}.effects", value
        )

    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2, init=init)
    try:
        for n in range(1, 31):
            await harness.publish(n, "read" if n == 20 else f"e{n}")
        effect = ProjectionEffect(pool, SCHEMA, "probe-effects", bus.stream_name("registry"), counted)
        harness.start(harness.consumer(counted, effect=effect))
        await until(lambda: _equals(harness.count("consumer_tracking"), 30), what="the backlog tracked")
        await until(lambda: _consumer_idle(harness), what="every message acked")
        written = [f"e{n}" if n != 20 else "read19" for n in range(1, 31)]
        assert await harness.effects() == [f"{value}@{i}" for i, value in enumerate(written)]
        assert len(ran) <= 4, f"{len(ran)} statements for 30 events"  # before and after the read, and the read
    finally:
        await pool.close()


@pytest.mark.dead_letters
async def test_a_deferred_write_that_fails_under_a_handler_that_catches_database_errors_is_not_swallowed(harness):
    """A batch's writes fail where they are sent, possibly inside another handler's `try`: they fail as a type no
    handler catches, so the batch rolls back and goes one event at a time, where the bad one is dead-lettered alone."""

    async def guarded(conn: asyncpg.Connection, event: InboundEvent) -> None:
        value = None if event.data["value"] == "poison" else event.data["value"]
        await conn.execute(f"INSERT INTO {SCHEMA}.effects (value) VALUES ($1)", value)  # NOT NULL: poison fails
        try:
            await conn.fetchval(f"SELECT count(*) FROM {SCHEMA}.effects")
        except asyncpg.PostgresError:
            pass  # as a handler may guard a lookup of its own (a malformed id)

    for n in range(1, 11):
        await harness.publish(n, "poison" if n == 4 else f"e{n}")
    harness.start(harness.consumer(guarded, max_attempts=2))
    await until(lambda: _equals(harness.count("dead_letters"), 1), what="the poison dead-lettered")
    await until(lambda: _consumer_idle(harness), what="every message acked")
    assert await harness.effects() == [f"e{n}" for n in range(1, 11) if n != 4]


async def test_a_batch_claims_its_aggregates_ids_by_origin_in_one_statement_first_come_first_served(harness, settings):
    """Decision 027's claims, batched: two lower instances' schools minted alike arrive in one batch; the first in
    stream order keeps the id, the other is applied under an id of its own, as one at a time would do."""
    school = "00000000-0000-0000-0000-00000000000a"

    def body(origin: str, notification_id: int, version: int) -> bytes:
        event = json.loads(event_body(notification_id, f"{origin}v{version}", version))
        return json.dumps(
            event
            | {"aggregate": "School", "aggregate_id": school, "origin": {"jurisdiction": origin, "service": "registry"}}
        ).encode()

    claims: list[str] = []

    async def init(conn: asyncpg.Connection) -> None:
        conn.add_query_logger(lambda r: claims.append(r.query) if "aggregate_origins" in r.query else None)

    async def record_id(conn, event):
        await conn.execute(f"INSERT INTO {SCHEMA}.effects (value) VALUES ($1)", f"{event.aggregate_id}@{event.origin}")

    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2, init=init)
    try:
        for n, (origin, version) in enumerate([("500101", 1), ("500102", 1), ("500101", 2)], start=1):
            await harness.publish(n, body=body(origin, n, version), msg_id=f"{origin}:{n}")
        handler = origins.kept_apart(record_id, SCHEMA, settings.jurisdiction)
        effect = ProjectionEffect(pool, SCHEMA, "probe-effects", bus.stream_name("registry"), handler)
        harness.start(harness.consumer(handler, effect=effect))
        await until(lambda: _equals(harness.count("effects"), 3), what="the three events applied")
        assert await harness.effects() == [
            f"{school}@500101:registry",
            f"{origins.apart('500102:registry', school)}@500102:registry",
            f"{school}@500101:registry",
        ]
        assert len(claims) == 1, claims
    finally:
        await pool.close()


async def test_a_batch_looks_up_in_one_statement_which_ids_from_other_instances_its_own_store_holds(harness, settings):
    """Decision 027: an aggregate from another instance of this service under an id this instance's own store holds
    is shown under an id of its own. A batch asks the store once for all of its ids, not once for each event (a
    county's backlog at the province made that one round trip per event)."""
    school, other = "00000000-0000-0000-0000-00000000000a", "00000000-0000-0000-0000-00000000000b"

    def body(origin: str, aggregate_id: str, notification_id: int, version: int) -> bytes:
        event = json.loads(event_body(notification_id, f"{origin}v{version}", version))
        return json.dumps(
            event
            | {
                "aggregate": "School",
                "aggregate_id": aggregate_id,
                "origin": {"jurisdiction": origin, "service": SCHEMA},
            }
        ).encode()

    await harness.pool.execute(f"CREATE TABLE {SCHEMA}.{SCHEMA}_events (originator_id uuid NOT NULL)")
    await harness.pool.execute(f"INSERT INTO {SCHEMA}.{SCHEMA}_events VALUES ($1)", uuid.UUID(school))
    lookups: list[str] = []

    async def init(conn: asyncpg.Connection) -> None:
        conn.add_query_logger(lambda r: lookups.append(r.query) if f"{SCHEMA}_events" in r.query else None)

    async def record_id(conn, event):
        await conn.execute(f"INSERT INTO {SCHEMA}.effects (value) VALUES ($1)", f"{event.aggregate_id}@{event.origin}")

    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2, init=init)
    try:
        arriving = [("500101", school, 1), ("500101", other, 1), ("500101", school, 2), ("500102", other, 1)]
        for n, (origin, aggregate_id, version) in enumerate(arriving, start=1):
            await harness.publish(n, body=body(origin, aggregate_id, n, version), msg_id=f"{origin}:{n}")
        handler = origins.kept_apart(record_id, SCHEMA, settings.jurisdiction)
        effect = ProjectionEffect(pool, SCHEMA, "probe-effects", bus.stream_name("registry"), handler)
        harness.start(harness.consumer(handler, effect=effect))
        await until(lambda: _equals(harness.count("effects"), 4), what="the four events applied")
        assert await harness.effects() == [
            f"{origins.apart(f'500101:{SCHEMA}', school)}@500101:{SCHEMA}",  # this store holds its id
            f"{other}@500101:{SCHEMA}",
            f"{origins.apart(f'500101:{SCHEMA}', school)}@500101:{SCHEMA}",
            f"{origins.apart(f'500102:{SCHEMA}', other)}@500102:{SCHEMA}",  # 500101 claimed it first
        ]
        assert len(lookups) == 1, lookups
    finally:
        await pool.close()


@pytest.mark.dead_letters
async def test_a_poison_event_inside_a_batch_is_dead_lettered_and_the_rest_of_its_batch_applied_once(harness):
    for n in range(1, 41):
        await harness.publish(n, "poison" if n == 20 else f"e{n}")  # one aggregate: its dead letter holds nothing back
    harness.start(harness.consumer(refuse_poison))
    await until(lambda: _equals(harness.count("effects"), 39), timeout=30, what="the rest of the batch")
    assert await harness.effects() == [f"e{n}" for n in range(1, 41) if n != 20]
    letters = await harness.pool.fetch(f"SELECT stream_seq FROM {SCHEMA}.dead_letters")
    assert [r["stream_seq"] for r in letters] == [20]
    await until(lambda: _consumer_idle(harness), what="every message acked")
    assert await harness.effects() == [f"e{n}" for n in range(1, 41) if n != 20]


async def test_an_ordered_consumer_retrying_a_failure_gives_it_up_when_it_no_longer_leads(harness):
    """Retrying in place must not outlive the advisory lock: once another replica may lead, this one lets go."""

    async def always_failing(conn, event):
        raise ConnectionResetError("PostgreSQL went away")  # transient: retried without end while leading

    consumer = harness.consumer(always_failing, ordered=True, backoff=(5,))
    await harness.publish(1, "1")
    sub = await harness.js.pull_subscribe("dudao.*.registry.>", stream=bus.stream_name("registry"))
    [msg] = await sub.fetch(1, timeout=5)
    asked = []

    def leaving() -> bool:
        asked.append(True)
        return len(asked) > 2  # the lock is lost while it waits out its backoff

    started = asyncio.get_running_loop().time()
    assert await consumer._handle_here(msg, [], leaving) is False
    assert asyncio.get_running_loop().time() - started < 2, "it waited out its whole backoff first"
    assert await harness.effects() == []
