"""`dudao replay` (issue 9): read models rebuilt beside the live ones while the service answers, then switched; the
stream refilled from the event store."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys

import asyncpg
import nats
import psycopg
import pytest
from nats.js.errors import NotFoundError

from dudao import bus, stream_reading
from dudao import replay as replay_module
from dudao.consumer import durable_name
from dudao.service import prepare_tables
from services.registry.app import PARTS
from tests.conftest import eventually, fetch_timing_out
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


def test_a_fetch_whose_deadline_runs_out_under_load_does_not_end_a_rebuilds_reading_early(
    registry, token, settings, monkeypatch
):
    """nats-py's fetch raises asyncio's own TimeoutError when its deadline runs out between its two requests (a busy
    server or process). A rebuild took any timeout to mean that nothing more matched its filter, and switched to tables
    without the events still to come; its reading (`stream_reading.batches`, in the reading process) now asks the
    server whether any are pending, and fetches them."""
    with registry.client(token()) as client:
        for i in range(12):
            school(client, f"璧山区第{i}小学")
        eventually(lambda: schools_projected(client, 12), what="the schools projected")
    calls = fetch_timing_out(monkeypatch, at=2)
    monkeypatch.setattr(stream_reading, "BATCH", 5)

    async def read() -> list[int]:
        nc = await nats.connect(settings.nats_url)
        try:
            js = nc.jetstream(timeout=10)
            end = (await js.stream_info(DIRECTORY.stream)).state.last_seq
            seqs = []
            async for messages, _, _ in stream_reading.batches(js, DIRECTORY.stream, DIRECTORY.filter_subject, end):
                seqs += [seq for seq, *_ in messages]
            return seqs, end
        finally:
            await nc.close()

    seqs, end = asyncio.run(read())
    assert len(calls) > 2, "the reading stopped at the timeout: the test proved nothing"
    assert seqs == list(range(1, end + 1)) and end >= 12


def test_a_rebuild_whose_reader_stops_says_so_and_leaves_the_live_read_model_as_it_was(
    registry, token, settings, monkeypatch
):
    """The stream is read in a process of its own (decision 058). One that stops stops the rebuild with a message that
    says what to do; the live tables and the scratch database are not left changed."""
    with registry.client(token()) as client:
        school(client, "璧山区第一小学")
        eventually(lambda: schools_projected(client, 1), what="the school projected")
    before = tables(settings)
    out = io.StringIO()

    stopping = "import sys; sys.stdin.readline(); sys.exit('dudao replay: the stream reader stopped: NATS went away')"
    monkeypatch.setattr(stream_reading, "COMMAND", (sys.executable, "-c", stopping))

    async def rebuild() -> None:
        nc = await nats.connect(settings.nats_url)
        try:
            await replay_module.rebuild(settings, PARTS, nc.jetstream(timeout=10), ["directory"], out=out)
        finally:
            await nc.close()

    with pytest.raises(
        SystemExit, match=r"stopped \(exit code 1\) before the end of .* the live read model is unchanged"
    ):
        asyncio.run(rebuild())
    assert tables(settings) == before
    with psycopg.connect(settings.database_url) as conn:
        scratch = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE '%%\\_replay\\_registry'").fetchall()
    assert scratch == []


def test_a_rebuild_that_fails_midway_leaves_no_reader_running(registry, token, settings, monkeypatch):
    """A rebuild that stops while its reader still has batches to send (here: applying its second batch fails) ends
    the reader with it (killed: it may be held up writing what nobody reads any more), rather than leaving it behind."""
    with registry.client(token()) as client:
        for i in range(12):
            school(client, f"璧山区第{i}小学")
        eventually(lambda: schools_projected(client, 12), what="the schools projected")
    monkeypatch.setattr(stream_reading, "BATCH", 2)
    applied = []

    async def failing(effect, events) -> int:
        applied.append(events)
        if len(applied) == 2:
            raise RuntimeError("the database went away")
        return 0

    monkeypatch.setattr(replay_module, "_apply_batch", failing)
    readers = []
    start = stream_reading.Reader.start.__func__

    async def noted(cls, nats_url):
        reader = await start(cls, nats_url)
        readers.append(reader._process)
        return reader

    monkeypatch.setattr(stream_reading.Reader, "start", classmethod(noted))

    async def rebuild() -> None:
        nc = await nats.connect(settings.nats_url)
        try:
            await replay_module.rebuild(settings, PARTS, nc.jetstream(timeout=10), ["directory"], out=io.StringIO())
        finally:
            await nc.close()

    with pytest.raises(RuntimeError, match="the database went away"):
        asyncio.run(rebuild())
    [reader] = readers
    assert reader.returncode == -signal.SIGKILL, "the reader was left running, or waited for"


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
    the rebuild's checkpoints in the switch, so it applies nothing the rebuilt tables already hold: the directory's
    are the versions its aggregates reached (decision 057), and it goes through the stream again skipping each
    event by its version, tracking it as it goes."""
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
        assert handed.fetchone()[0] == 0  # no tracking row: the versions skip the same events
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
    with psycopg.connect(settings.database_url) as conn:
        tracked = conn.execute("SELECT count(*) FROM registry.consumer_tracking WHERE consumer = %s", (consumer,))
        assert tracked.fetchone()[0] == applied  # each event the consumer went through again, skipped and tracked


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


async def in_a_scratch_database(settings, work):
    """`work(pool)` on a scratch database beside the live one, as a rebuild makes it; dropped after."""
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

    tables = asyncio.run(in_a_scratch_database(settings, prepared))
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

    rows = asyncio.run(in_a_scratch_database(settings, copied))
    assert [tuple(r) for r in rows] == [(i, f"name {i}") for i in range(1, 50001)]  # after the failed copy, none of it
