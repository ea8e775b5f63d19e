"""The effect a rebuild applies its events through (`dudao.rebuilding`, decisions 051 and 053): the live consumer's
judgement, with its checkpoints and claims of ids kept in memory until the switch, against a real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace

import asyncpg
import pytest

from dudao import bus
from dudao import replay as replay_module
from dudao.consumer import InboundEvent
from dudao.origins import apart, kept_apart
from dudao.rebuilding import Rebuilding
from dudao.service import prepare_tables
from services.registry.app import PARTS
from tests.integration.test_replay import in_a_scratch_database

pytestmark = pytest.mark.integration


def _probe(aggregate_id: str, version: int, n: int, **data) -> InboundEvent:
    return InboundEvent(
        type="Probe.Happened",
        aggregate="Probe",
        aggregate_id=aggregate_id,
        version=version,
        origin="500120:registry",
        notification_id=n,
        envelope_fields={},
        data=data,
        stream_seq=100 + n,
    )


async def _probes(pool: asyncpg.Pool, field: str, sql_type: str):
    """The registry's tables in the scratch database, and a probe table with a handler that writes each event's
    aggregate id and `field` there, failing an event whose data asks it to."""
    await replay_module._prepare_scratch(pool, PARTS)
    await pool.execute(f"CREATE TABLE registry.probes (aggregate_id text, {field} {sql_type})")

    async def applied(conn: asyncpg.Connection, event: InboundEvent) -> None:
        if event.data.get("fail"):
            raise ValueError("an unusable body")
        await conn.execute("INSERT INTO registry.probes VALUES ($1, $2)", event.aggregate_id, getattr(event, field))

    return applied


def test_a_rebuild_hands_over_the_checkpoints_of_what_it_applied_and_of_nothing_else(settings):
    """A rebuild keeps the checkpoints of what it applies out of the scratch database and hands them to the live
    consumer at the switch (decision 051): of a read model that applies each aggregate's versions in order, the
    version each aggregate reached, and no tracking row (decision 057: the versions skip all that the rows would). A
    batch that fails goes one event at a time: the event that fails is left out, with its aggregate's later versions,
    and none of its checkpoints is handed over; an event held twice in the stream is applied once."""
    consumer, stream = "probe-rebuild", bus.view_stream("registry")

    async def rebuilt(pool):
        effect = Rebuilding(pool, "registry", consumer, stream, await _probes(pool, "version", "int"))
        first = [_probe("a", 1, 1), _probe("a", 2, 2), _probe("b", 1, 3, fail=True), _probe("b", 2, 4)]
        failed = [await replay_module._apply_batch(effect, first + [_probe("c", 1, 5)])]
        failed.append(
            await replay_module._apply_batch(effect, [_probe("a", 1, 1), _probe("c", 2, 6), _probe("a", 3, 7)])
        )
        rows = await pool.fetch("SELECT * FROM registry.probes ORDER BY aggregate_id, version")
        in_scratch = await pool.fetchval("SELECT count(*) FROM registry.consumer_tracking")
        return failed, [tuple(r) for r in rows], in_scratch, *await _handed(settings, effect, consumer)

    failed, rows, in_scratch, tracked, versions = asyncio.run(in_a_scratch_database(settings, rebuilt))
    assert failed == [2, 0]  # b v1 failed, and b v2 waits for it in vain
    assert rows == [("a", 1), ("a", 2), ("a", 3), ("c", 1), ("c", 2)]  # a v1 once
    assert in_scratch == 0
    assert tracked == []
    assert [tuple(r) for r in versions] == [("500120:registry", "a", 3), ("500120:registry", "c", 2)]


def test_a_rebuild_of_a_read_model_in_stream_order_hands_over_a_tracking_row_per_event_it_applied(settings):
    """An ordered read model (the audit trail, the change feed) keeps no versions: its checkpoint is a tracking row
    for each event it applied, handed to the live consumer at the switch (decisions 051 and 057), none for the event
    that failed, one for the event held twice."""
    consumer, stream = "probe-rebuild-ordered", bus.view_stream("registry")

    async def rebuilt(pool):
        probes = await _probes(pool, "notification_id", "bigint")
        effect = Rebuilding(pool, "registry", consumer, stream, probes, ordered=True)
        batch = [_probe("a", 1, 1), _probe("a", 2, 2), _probe("b", 1, 3, fail=True), _probe("a", 1, 1)]
        failed = await replay_module._apply_batch(effect, batch)
        rows = await pool.fetch("SELECT * FROM registry.probes ORDER BY notification_id")
        return failed, [tuple(r) for r in rows], await _handed(settings, effect, consumer)

    failed, rows, (tracked, versions) = asyncio.run(in_a_scratch_database(settings, rebuilt))
    assert failed == 1
    assert rows == [("a", 1), ("a", 2)]
    assert [tuple(r) for r in tracked] == [("500120:registry", n, stream, 100 + n) for n in (1, 2)]
    assert versions == []


async def _handed(settings, effect: Rebuilding, consumer: str):
    """What the switch hands the live consumer of `effect`: its tracking rows and versions, read in the switch's
    transaction and rolled back with it."""
    live_pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=1)
    await prepare_tables(live_pool, PARTS)
    await live_pool.close()
    live = await asyncpg.connect(settings.database_url)
    try:
        async with live.transaction():
            await replay_module._hand_over(live, effect)
            tracked = await live.fetch(
                "SELECT origin, notification_id, stream, stream_seq FROM registry.consumer_tracking"
                " WHERE consumer = $1 ORDER BY notification_id",
                consumer,
            )
            versions = await live.fetch(
                "SELECT origin, aggregate_id, version FROM registry.consumer_versions WHERE consumer = $1"
                " ORDER BY aggregate_id",
                consumer,
            )
            raise _RolledBack  # the live tables as they were for the other tests
    except _RolledBack:
        pass
    finally:
        await live.close()
    return tracked, versions


class _RolledBack(Exception):
    pass


def test_a_rebuild_claims_ids_by_origin_in_memory_and_keeps_no_claim_a_failed_event_made(settings):
    """Decision 053: a rebuild claims each id minted per request for the first origin seen with it, as the live
    consumers claim them in `aggregate_origins`, but in its own memory: the scratch database's table stays empty. A
    batch that fails goes one event at a time, and the claim of an event that then fails alone is not kept, as its
    transaction's row would not be: the next origin seen with that id holds it."""
    held, other = "00000000-0000-0000-0000-00000000000a", "00000000-0000-0000-0000-00000000000b"

    def school(jurisdiction: str, aggregate_id: str, n: int, **data) -> InboundEvent:
        return _school(f"{jurisdiction}:registry", aggregate_id, n, **data)

    async def rebuilt(pool):
        applied = await _probes(pool, "origin", "text")
        claims: dict[str, str] = {}
        live = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=1)
        effect = Rebuilding(
            pool,
            "registry",
            "probe-rebuild",
            bus.view_stream("registry"),
            kept_apart(applied, "registry", "500120"),
            claims=claims,
            own_store=live,
        )
        try:
            failed = [
                await replay_module._apply_batch(
                    effect,
                    [school("500101", held, 1, fail=True), school("500102", held, 2), school("500101", other, 3)],
                ),
                await replay_module._apply_batch(effect, [school("500103", held, 4)]),
            ]
        finally:
            await live.close()
        rows = await pool.fetch("SELECT aggregate_id, origin FROM registry.probes ORDER BY origin, aggregate_id")
        return (
            failed,
            [tuple(r) for r in rows],
            claims,
            await pool.fetchval("SELECT count(*) FROM registry.aggregate_origins"),
        )

    failed, rows, claims, in_scratch = asyncio.run(in_a_scratch_database(settings, rebuilt))
    assert failed == [1, 0]
    assert rows == [
        (other, "500101:registry"),
        (held, "500102:registry"),  # 500101 saw it first, but its event failed: its claim went with it
        (apart("500103:registry", held), "500103:registry"),
    ]
    assert claims == {held: "500102:registry", other: "500101:registry"}
    assert in_scratch == 0


def test_a_rebuild_asks_the_live_event_store_which_ids_from_another_instance_it_holds(settings):
    """Decision 027 in a rebuild: an aggregate from another instance of the service, under an id this instance's own
    event store holds too, is shown under an id of its own, as the live consumer shows it. The store is in the live
    database: asked in the scratch database, which has none, the answer was that it holds nothing."""
    service = f"probe_{uuid.uuid4().hex[:8]}"  # a service of its own, with an event store of its own
    held, other = str(uuid.uuid4()), str(uuid.uuid4())

    async def rebuilt(pool):
        applied = await _probes(pool, "origin", "text")
        live = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=1)
        try:
            await live.execute(f"CREATE SCHEMA {service}; CREATE TABLE {service}.{service}_events (originator_id uuid)")
            await live.execute(f"INSERT INTO {service}.{service}_events VALUES ($1)", uuid.UUID(held))
            handler = kept_apart(applied, service, "500120")
            with pytest.raises(TypeError, match="own_store"):  # the scratch database would say it holds none
                Rebuilding(pool, "registry", "probe-rebuild", bus.view_stream("registry"), handler)
            effect = Rebuilding(pool, "registry", "probe-rebuild", bus.view_stream("registry"), handler, own_store=live)
            origin = f"500101:{service}"
            failed = await replay_module._apply_batch(effect, [_school(origin, held, 1), _school(origin, other, 2)])
            rows = await pool.fetch("SELECT aggregate_id, origin FROM registry.probes ORDER BY aggregate_id")
            return failed, {tuple(r) for r in rows}
        finally:
            await live.execute(f"DROP SCHEMA {service} CASCADE")
            await live.close()

    failed, rows = asyncio.run(in_a_scratch_database(settings, rebuilt))
    assert failed == 0
    assert rows == {(apart(f"500101:{service}", held), f"500101:{service}"), (other, f"500101:{service}")}


def _school(origin: str, aggregate_id: str, n: int, **data) -> InboundEvent:
    """A school's first event from `origin`: an aggregate whose id is minted per request (decision 027)."""
    return replace(_probe(aggregate_id, 1, n, **data), type="School.Registered", aggregate="School", origin=origin)
