"""`dudao replay` (issue 9): read models rebuilt beside the live ones while the service answers, then switched; the
stream refilled from the event store."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from dataclasses import replace

import asyncpg
import nats
import psycopg
import pytest
from nats.js.errors import NotFoundError

from dudao import bus
from dudao import replay as replay_module
from dudao.consumer import InboundEvent, durable_name
from dudao.origins import apart, kept_apart
from dudao.rebuilding import Rebuilding
from dudao.service import prepare_tables
from services.registry.app import PARTS
from tests.conftest import eventually
from tests.factories import school
from tests.integration.test_relay import assert_each_event_once_in_order

pytestmark = pytest.mark.integration

DIRECTORY = next(p for p in PARTS.projections if p.name == "directory")


def replay(settings, *args: str) -> subprocess.CompletedProcess:
    env = os.environ | {
        "DATABASE_URL": settings.database_url,
        "NATS_URL": settings.nats_url,
        "DUDAO_JURISDICTION": "500120",
    }
    return subprocess.run(
        [sys.executable, "-m", "dudao_cli", "replay", "registry", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def tables(settings) -> dict[str, list[tuple]]:
    """Every row of the directory read model's tables, in a fixed order."""
    with psycopg.connect(settings.database_url) as conn:
        return {
            t: sorted(map(repr, conn.execute(f'SELECT * FROM registry."{t}"').fetchall())) for t in DIRECTORY.tables
        }


def schools_projected(client, count: int) -> bool:
    return len(client.get("/v1/schools", params={"limit": 200}).json()["items"]) == count


def test_a_rebuild_equals_the_live_read_model_and_reads_go_on_meanwhile(registry, token, settings):
    with registry.client(token()) as client:
        ids = [school(client, f"璧山区第{i}小学") for i in range(12)]
        client.post(f"/v1/schools/{ids[0]}/enrolment", json={"year": 2026, "enrolment": 900})
        eventually(lambda: schools_projected(client, 12), what="the schools projected")
        before = eventually(lambda: (t := tables(settings)) and t, what="the tables")
        with psycopg.connect(settings.database_url) as conn:  # a read model gone wrong: what the rebuild must mend
            conn.execute("UPDATE registry.school_directory SET name = '走样的名字'")

        rebuilt = replay(settings, "--projection", "directory")
        assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
        assert schools_projected(client, 12)  # the service answers from the switched tables
    assert "registry directory" in rebuilt.stdout and "events in" in rebuilt.stdout
    assert "1 read model(s) rebuilt from" in rebuilt.stdout
    assert tables(settings) == before


def indexes(settings) -> list[tuple]:
    """Each index of the directory read model's tables: its name and its definition."""
    with psycopg.connect(settings.database_url) as conn:
        return conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'registry' AND tablename = ANY(%s)"
            " ORDER BY indexname",
            (list(DIRECTORY.tables),),
        ).fetchall()


async def _restart_prepares(settings) -> None:
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        await prepare_tables(pool, PARTS)
    finally:
        await pool.close()


def test_the_switched_tables_keep_their_indexes_names_so_a_restart_adds_none(registry, token, settings):
    """The rebuilt tables get the live tables' keys and indexes under the same names: a restart, which makes the
    named indexes if they are missing, then finds them all, and no replay leaves one more copy of each behind."""
    with registry.client(token()) as client:
        school(client, "璧山区索引小学")
        eventually(lambda: schools_projected(client, 1), what="the school projected")
    before = indexes(settings)
    assert {"school_directory_pkey", "school_directory_jurisdiction"} <= {name for name, _ in before}

    for _ in range(2):
        rebuilt = replay(settings, "--projection", "directory")
        assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
        assert indexes(settings) == before
        asyncio.run(_restart_prepares(settings))
        assert indexes(settings) == before


def test_writes_during_a_rebuild_are_in_the_switched_tables_once(registry, token, settings):
    with registry.client(token()) as client:
        for i in range(10):
            school(client, f"璧山区第{i}中学")
        eventually(lambda: schools_projected(client, 10), what="the first schools")
        env = os.environ | {
            "DATABASE_URL": settings.database_url,
            "NATS_URL": settings.nats_url,
            "DUDAO_JURISDICTION": "500120",
        }
        running = subprocess.Popen(
            [sys.executable, "-m", "dudao_cli", "replay", "registry"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(10, 25):
            school(client, f"璧山区第{i}中学")
        out, err = running.communicate(timeout=120)
        assert running.returncode == 0, err[-3000:]
        names = eventually(
            lambda: (
                len(r := client.get("/v1/schools", params={"limit": 200}).json()["items"]) >= 25
                and [s["name"] for s in r]
            ),
            what="every school after the switch",
        )
    assert sorted(names) == sorted(f"璧山区第{i}中学" for i in range(25))  # each once
    assert "read model(s) rebuilt" in out


def test_an_unknown_read_model_is_named_with_the_choices(settings):
    refused = replay(settings, "--projection", "nope")
    assert refused.returncode != 0 and "has no read model nope; it has directory" in refused.stderr


async def _delete(url: str) -> None:
    nc = await nats.connect(url)
    try:
        await nc.jetstream().delete_stream(bus.stream_name("registry"))
    finally:
        await nc.close()


def test_the_stream_is_refilled_from_the_event_store_each_event_once_in_order(registry, token, settings):
    with registry.client(token()) as client:
        for i in range(15):
            school(client, f"璧山区第{i}幼儿园")
        eventually(lambda: schools_projected(client, 15), what="the schools")
    asyncio.run(_delete(settings.nats_url))
    refilled = replay(settings, "--stream")
    assert refilled.returncode == 0, refilled.stderr[-3000:]
    assert "registry stream" in refilled.stdout and "events in" in refilled.stdout
    assert_each_event_once_in_order(settings)


def test_a_consumer_that_had_not_applied_the_stream_takes_the_rebuilt_tables_on_without_applying_it_again(
    registry, token, settings, serve
):
    """A rebuild while the live consumer is behind (stopped, or never run: its durable and checkpoints gone) hands it
    the rebuild's checkpoints in the switch, so it applies nothing the rebuilt tables already hold."""
    from services.registry.app import build

    consumer = DIRECTORY.consumer_name("registry")
    with registry.client(token()) as client:
        for i in range(6):
            school(client, f"璧山区第{i}小学")
        eventually(lambda: schools_projected(client, 6), what="the schools projected")
    before = tables(settings)
    registry.__exit__(None, None, None)  # the service stopped; its directory consumer as if it had never run
    with psycopg.connect(settings.database_url) as conn:
        tracked = conn.execute("SELECT count(*) FROM registry.consumer_tracking WHERE consumer = %s", (consumer,))
        applied = tracked.fetchone()[0]
        for table in ("consumer_tracking", "consumer_versions"):
            conn.execute(f"DELETE FROM registry.{table} WHERE consumer = %s", (consumer,))
    asyncio.run(_delete_consumer(settings.nats_url, DIRECTORY.stream, durable_name(consumer, settings.jurisdiction)))

    rebuilt = replay(settings, "--projection", "directory")
    assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
    with psycopg.connect(settings.database_url) as conn:
        handed = conn.execute("SELECT count(*) FROM registry.consumer_tracking WHERE consumer = %s", (consumer,))
        assert handed.fetchone()[0] == applied  # every event the rebuilt tables hold, tracked as the consumer's
        versions = conn.execute("SELECT count(*) FROM registry.consumer_versions WHERE consumer = %s", (consumer,))
        assert versions.fetchone()[0] > 0
    again = serve(build(settings))
    with again.client(token()) as client:
        eventually(lambda: schools_projected(client, 6), what="the service answering")
        eventually(
            lambda: asyncio.run(
                _idle(settings.nats_url, DIRECTORY.stream, durable_name(consumer, settings.jurisdiction))
            ),
            what="the directory consumer through the stream",
        )
    assert tables(settings) == before  # and the `settings` fixture fails the test on any dead letter


async def _delete_consumer(url: str, stream: str, durable: str) -> None:
    nc = await nats.connect(url)
    try:
        await nc.jetstream().delete_consumer(stream, durable)
    finally:
        await nc.close()


async def _idle(url: str, stream: str, durable: str) -> bool:
    nc = await nats.connect(url)
    try:
        info = await nc.jetstream().consumer_info(stream, durable)
        return info.num_pending == 0 and info.num_ack_pending == 0 and info.delivered.stream_seq > 0
    except NotFoundError:  # not subscribed again yet (its advisory lock comes first)
        return False
    finally:
        await nc.close()


# --- the scratch database and the switch's copy ------------------------------------------------------------------


async def _in_a_scratch_database(settings, work):
    url = await replay_module._scratch_database(settings.database_url, "registry")
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    try:
        return await work(pool)
    finally:
        await pool.close()
        await replay_module._drop_database(settings.database_url, url)


def test_the_scratch_tables_a_rebuild_writes_are_unlogged_with_room_for_a_rows_next_version(settings):
    """Nothing in the scratch database outlives the rebuild: its tables write no WAL. Each page is filled only half
    by inserts, so an update that changes no indexed column can write the row's next version beside it, without a
    new entry in every index (decision 053)."""

    async def prepared(pool):
        await replay_module._prepare_scratch(pool, PARTS)
        return await pool.fetch(
            "SELECT c.relname, c.relpersistence::text, c.reloptions FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'registry' AND c.relkind = 'r'"
        )

    tables = asyncio.run(_in_a_scratch_database(settings, prepared))
    assert {"school_directory", "consumer_tracking", "consumer_versions"} <= {t["relname"] for t in tables}
    assert {t["relname"]: t["relpersistence"] for t in tables} == {t["relname"]: "u" for t in tables}
    assert {t["relname"]: t["reloptions"] for t in tables} == {t["relname"]: ["fillfactor=50"] for t in tables}


def test_a_copy_the_live_table_cannot_take_fails_and_leaves_it_as_it_was(settings):
    """The switch copies the rebuilt rows as binary COPY bytes: a live table whose column no longer takes them (an
    integer where the rebuild wrote text) fails the copy, with PostgreSQL's error, rather than hanging or taking a
    part of them; the switch's transaction then rolls back."""

    async def copied(pool):
        async with pool.acquire() as scratch:
            await scratch.execute("CREATE SCHEMA registry; CREATE TABLE registry.t (id int PRIMARY KEY, name text)")
            await scratch.execute("INSERT INTO registry.t SELECT i, 'name ' || i FROM generate_series(1, 50000) i")
        live = await asyncpg.connect(settings.database_url)
        try:
            await live.execute("CREATE TABLE IF NOT EXISTS public.t (id int PRIMARY KEY, name int)")
            with pytest.raises(asyncpg.PostgresError):
                async with live.transaction():
                    await asyncio.wait_for(replay_module._copy_across(pool, "registry", "t", live, ("public", "t")), 30)
            await live.execute("ALTER TABLE public.t ALTER COLUMN name TYPE text")
            async with live.transaction():
                await replay_module._copy_across(pool, "registry", "t", live, ("public", "t"))
            return await live.fetch("SELECT * FROM public.t ORDER BY id")
        finally:
            await live.close()

    rows = asyncio.run(_in_a_scratch_database(settings, copied))
    assert [tuple(r) for r in rows] == [(i, f"name {i}") for i in range(1, 50001)]  # after the failed copy, none of it


# --- the rebuild's checkpoints ------------------------------------------------------------------------------------


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
    """A rebuild keeps the checkpoints of what it applies (a tracking row per event, each aggregate's version) out of
    the scratch database and hands them to the live consumer at the switch (decision 051). A batch that fails goes
    one event at a time: the event that fails is left out, with its aggregate's later versions, and none of its
    checkpoints is handed over; an event held twice in the stream is applied once."""
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
        return failed, [tuple(r) for r in rows], in_scratch, tracked, versions

    failed, rows, in_scratch, tracked, versions = asyncio.run(_in_a_scratch_database(settings, rebuilt))
    assert failed == [2, 0]  # b v1 failed, and b v2 waits for it in vain
    assert rows == [("a", 1), ("a", 2), ("a", 3), ("c", 1), ("c", 2)]  # a v1 once
    assert in_scratch == 0
    assert [tuple(r) for r in tracked] == [("500120:registry", n, stream, 100 + n) for n in (1, 2, 5, 6, 7)]
    assert [tuple(r) for r in versions] == [("500120:registry", "a", 3), ("500120:registry", "c", 2)]


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
        effect = Rebuilding(
            pool,
            "registry",
            "probe-rebuild",
            bus.view_stream("registry"),
            kept_apart(applied, "registry", "500120"),
            claims=claims,
        )
        failed = [
            await replay_module._apply_batch(
                effect, [school("500101", held, 1, fail=True), school("500102", held, 2), school("500101", other, 3)]
            ),
            await replay_module._apply_batch(effect, [school("500103", held, 4)]),
        ]
        rows = await pool.fetch("SELECT aggregate_id, origin FROM registry.probes ORDER BY origin, aggregate_id")
        return (
            failed,
            [tuple(r) for r in rows],
            claims,
            await pool.fetchval("SELECT count(*) FROM registry.aggregate_origins"),
        )

    failed, rows, claims, in_scratch = asyncio.run(_in_a_scratch_database(settings, rebuilt))
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
            effect = Rebuilding(pool, "registry", "probe-rebuild", bus.view_stream("registry"), handler, own_store=live)
            origin = f"500101:{service}"
            failed = await replay_module._apply_batch(effect, [_school(origin, held, 1), _school(origin, other, 2)])
            rows = await pool.fetch("SELECT aggregate_id, origin FROM registry.probes ORDER BY aggregate_id")
            return failed, {tuple(r) for r in rows}
        finally:
            await live.execute(f"DROP SCHEMA {service} CASCADE")
            await live.close()

    failed, rows = asyncio.run(_in_a_scratch_database(settings, rebuilt))
    assert failed == 0
    assert rows == {(apart(f"500101:{service}", held), f"500101:{service}"), (other, f"500101:{service}")}


def _school(origin: str, aggregate_id: str, n: int, **data) -> InboundEvent:
    """A school's first event from `origin`: an aggregate whose id is minted per request (decision 027)."""
    return replace(_probe(aggregate_id, 1, n, **data), type="School.Registered", aggregate="School", origin=origin)
