"""`dudao replay`: rebuild a service's read models beside the live ones and switch to them; refill its stream.

Read models are projections of the service's view stream (decision 011), and the stream is a copy of the event
store. A rebuild reads the view stream from its first message into the same tables in a scratch database, while
the service goes on answering reads and projecting from the live tables. Then, in one transaction that holds the
live tables locked, the rebuilt rows replace the live ones, and the events the live consumer applied since the
rebuild's last one are applied again on top. Readers see the old tables until that commit and the rebuilt ones
after it. The rebuild tracks what it applies as the live consumer would, and the switch hands those checkpoints to
it (the versions its aggregates reached, or, of an ordered read model, a tracking row per event: decision 057): a
live consumer that was behind, stopped or had never run skips what the rebuilt tables already hold rather than
applying it again on top, and goes on from there.

`--stream` refills the service's own stream from its event store (after a lost stream, say): the stream is deleted
and the relay publishes every event again, once each, in order (decision 001). The view streams source it anew.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from dataclasses import dataclass
from typing import TextIO
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from dudao import bus, remembered
from dudao.config import Settings
from dudao.consumer import InboundEvent
from dudao.parts import Projection, ServiceParts
from dudao.progress import Progress
from dudao.rebuilding import Rebuilding
from dudao.relay import Relay
from dudao.service import prepare_tables, projections_of
from dudao.stream_reading import Reader


@dataclass
class Rebuilt:
    projection: str
    events: int
    failed: int
    late: int
    rate: float


async def rebuild(
    settings: Settings,
    parts: ServiceParts,
    js: JetStreamContext,
    names: list[str] | None = None,
    out: TextIO = sys.stdout,
) -> list[Rebuilt]:
    """Rebuild `names` (default: every read model of the service) and switch each to its rebuilt tables."""
    projections = projections_of(parts, settings.jurisdiction)
    unknown = sorted(set(names or []) - {p.name for p in projections})
    if unknown:
        raise SystemExit(
            f"{parts.name} has no read model {', '.join(unknown)}; it has {', '.join(p.name for p in projections)}"
        )
    chosen = [p for p in projections if not names or p.name in names]
    reader = await Reader.start(settings.nats_url)  # it starts while the scratch database is made
    try:
        live = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
        scratch_url = await _scratch_database(settings.database_url, parts.name)
        scratch = await asyncpg.create_pool(scratch_url, min_size=1, max_size=2)
        try:
            await _prepare_scratch(scratch, parts)
            done = []
            claims: dict[str, str] = {}  # the ids the projections claim by origin, in turn (`Rebuilding`)
            for projection in chosen:
                end = (await js.stream_info(projection.stream)).state.last_seq
                progress = Progress(f"{parts.name} {projection.name}", end, out)
                effect = Rebuilding.of(scratch, parts.name, projection, claims=claims, own_store=live)
                failed = await _project(reader, scratch, effect, projection, end, progress)
                late = await _switch(js, live, scratch, effect, projection, end)
                note = f"; {failed} could not be applied (see dead letters)" if failed else ""
                rate = progress.finish(note + (f"; {late} more since, applied at the switch" if late else ""))
                done.append(Rebuilt(projection.name, progress.done, failed, late, rate))
            return done
        finally:
            await scratch.close()
            await live.close()
            await _drop_database(settings.database_url, scratch_url)
    finally:
        await reader.close()


async def _prepare_scratch(scratch: asyncpg.Pool, parts: ServiceParts) -> None:
    """The service's tables in the scratch database, unlogged: nothing there needs to outlive a crash (a rebuild that
    stops is begun again, and the switch copies the rows into the live tables, which are logged), and writing no WAL
    for them is about a third of PostgreSQL's work in a rebuild. Inserts fill each page only half: an update that
    changes no indexed column (a school's zone) then writes the row's next version in its page, without a new entry in
    every index (decision 053). The live tables are as they were: the switch copies rows into tables like them."""
    await prepare_tables(scratch, parts)
    async with scratch.acquire() as conn:
        for (table,) in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = $1", parts.name):
            await conn.execute(f'ALTER TABLE "{parts.name}"."{table}" SET UNLOGGED, SET (fillfactor = 50)')


async def _project(
    reader: Reader,
    scratch: asyncpg.Pool,
    effect: Rebuilding,
    projection: Projection,
    end: int,
    progress: Progress,
) -> int:
    """Apply the stream's messages up to `end` to the scratch tables, each event once and tracked as the live
    consumer's (handed to it at the switch); the number that failed."""
    failed, last = 0, 0
    # Three stages overlap: the reading process fetches and decodes the next batch, and this one is taken in, while
    # PostgreSQL applies the one before (each batch applied after the one before it has committed, in stream order).
    applying: asyncio.Future[int] | None = None
    try:
        async for batch in reader.read(projection.stream, projection.filter_subject, end):
            events, undecodable, read, last = batch
            failed += undecodable
            if applying is not None:
                failed += await applying
            applying = asyncio.ensure_future(_apply_batch(effect, events))
            progress.advance(read)
        if applying is not None:
            failed += await applying
            applying = None
        await _settle_rebuilt(scratch, projection)
    finally:
        if applying is not None:
            applying.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await applying
    progress.done = max(progress.done, last)
    return failed


async def _apply_batch(effect: Rebuilding, events: list[InboundEvent]) -> int:
    """A batch as the live consumer applies one: in one transaction, or, if any event fails, each on its own, so only
    the failing ones are left out. The number left out. What the batch marks to be derived again is left marked: the
    rebuild settles once, at its end (`_settle_rebuilt`)."""
    try:
        await effect.apply_all(events, lambda _: contextlib.nullcontext())
        return 0
    except Exception:
        failed = 0
        for event in events:
            try:
                await effect(event)
            except Exception:
                failed += 1
        return failed


async def _settle_rebuilt(scratch: asyncpg.Pool, projection: Projection) -> None:
    """Derive, once, all that the rebuild's events marked (monitoring's results: each unit's, each jurisdiction's part,
    each level's area). What a settle derives follows from the rows as they stand (`Projection.settle`), so once at
    the end gives the tables a settle after every batch would have left, without deriving each area again for every
    batch that touched it. If it fails, the rebuild stops before the switch and the live tables stay as they were."""
    try:
        async with scratch.acquire() as conn, conn.transaction():
            await _settle(conn, projection)
    except Exception as e:
        raise SystemExit(
            f"the rebuilt {projection.name} could not be derived ({type(e).__name__}: {e}); the live read model is"
            " unchanged. Fix what the message names and run the replay again"
        ) from e


async def _settle(conn: asyncpg.Connection, projection: Projection) -> None:
    if projection.settle is not None:
        await projection.settle(conn)


async def _switch(
    js: JetStreamContext,
    live: asyncpg.Pool,
    scratch: asyncpg.Pool,
    effect: Rebuilding,
    projection: Projection,
    end: int,
) -> int:
    """Replace the live tables by the rebuilt ones in one transaction; re-apply what the live consumer took after
    `end`. The number of such late events."""
    schema, consumer = effect.schema, effect.consumer
    async with live.acquire() as conn, conn.transaction():
        for table in projection.tables:
            await conn.execute(f'LOCK TABLE "{schema}"."{table}" IN ACCESS EXCLUSIVE MODE')
        await _hand_over(conn, effect)
        for table in projection.tables:
            indexes = await _indexes(conn, schema, table)
            await conn.execute(
                f'CREATE TABLE "{schema}"."{table}__next" (LIKE "{schema}"."{table}" INCLUDING ALL EXCLUDING INDEXES)'
            )
            await _copy_across(scratch, schema, table, conn, (schema, f"{table}__next"))
            owner = await conn.fetchval(
                "SELECT tableowner FROM pg_tables WHERE schemaname = $1 AND tablename = $2", schema, table
            )
            await conn.execute(f'ALTER TABLE "{schema}"."{table}__next" OWNER TO "{owner}"')  # the services' role's
            await conn.execute(f'DROP TABLE "{schema}"."{table}"')
            await conn.execute(f'ALTER TABLE "{schema}"."{table}__next" RENAME TO "{table}"')
            for statement in indexes:  # built once over the copied rows, before the late events go on top
                await conn.execute(statement)
        late = await conn.fetch(
            f'SELECT stream_seq FROM "{schema}".consumer_tracking WHERE consumer = $1 AND stream = $2 AND stream_seq > $3'
            " ORDER BY stream_seq",
            consumer,
            projection.stream,
            end,
        )
        for (seq,) in late:
            with_seq = await js.get_msg(projection.stream, seq)
            await projection.handler(conn, InboundEvent.from_msg(with_seq, stream_seq=seq))
        await _settle(conn, projection)
        if projection.remembered:  # the tables are others now, whatever was applied on top (decision 044)
            await remembered.ensure_table(conn, schema)
            await remembered.renew(conn, schema, projection.name)
    return len(late)


async def _indexes(conn: asyncpg.Connection, schema: str, table: str) -> list[str]:
    """The statements that make `schema.table`'s keys and indexes again, under their own names: those `ensure_tables`
    gave them, which a restart looks for (an index copied by `LIKE … INCLUDING INDEXES` would get a name of its own, and
    the next start would add the named one beside it)."""
    name = f'"{schema}"."{table}"'
    keys = await conn.fetch(
        "SELECT conname, pg_get_constraintdef(oid) AS definition, conindid FROM pg_constraint"
        " WHERE conrelid = $1::regclass AND contype IN ('p', 'u', 'x') ORDER BY conname",
        name,
    )
    others = await conn.fetch(
        "SELECT pg_get_indexdef(indexrelid) AS definition FROM pg_index"
        " WHERE indrelid = $1::regclass AND NOT (indexrelid = ANY($2::oid[]))"
        " ORDER BY indexrelid::regclass::text",
        name,
        [k["conindid"] for k in keys],
    )
    return [f"ALTER TABLE {name} ADD CONSTRAINT {_quoted(k['conname'])} {k['definition']}" for k in keys] + [
        i["definition"] for i in others
    ]


async def _hand_over(conn: asyncpg.Connection, effect: Rebuilding) -> None:
    """Hand the live consumer, in the switch's transaction, the checkpoints of what the rebuilt tables hold: a live
    consumer that had not yet applied some of it (behind, stopped, or never run) then skips it rather than applying it
    again on top of the rebuilt rows. Of a read model that applies each aggregate's versions in order, those are the
    versions the rebuild reached, and nothing more: the live consumer skips an event its aggregate is past, tracked or
    not, and tracks it as it goes (decision 057). Of an ordered one, a tracking row per event applied."""
    schema, consumer = effect.schema, effect.consumer
    if effect.ordered:
        table, columns, key, merge = (
            "consumer_tracking",
            ("consumer", "origin", "notification_id", "stream", "stream_seq"),
            "origin, notification_id",
            "NOTHING",
        )
        rows = (
            (consumer, origin, notification_id, effect.stream, seq)
            for origin, of_origin in effect.tracked.items()
            for notification_id, seq in of_origin.items()
        )
    else:
        table, columns, key, merge = (
            "consumer_versions",
            ("consumer", "origin", "aggregate_id", "version"),
            "origin, aggregate_id",
            "UPDATE SET version = greatest(t.version, excluded.version)",
        )
        rows = ((consumer, *k, version) for k, version in effect.versions.items())
    await conn.execute(
        f'CREATE TEMP TABLE "handed_{table}" (LIKE "{schema}"."{table}" INCLUDING DEFAULTS) ON COMMIT DROP'
    )
    await conn.copy_records_to_table(f"handed_{table}", records=rows, columns=columns)
    named = ", ".join(columns)
    await conn.execute(
        f'INSERT INTO "{schema}"."{table}" AS t ({named}) SELECT {named} FROM "handed_{table}" ORDER BY {key}'
        f" ON CONFLICT (consumer, {key}) DO {merge}"
    )


async def _copy_across(
    source: asyncpg.Pool, schema: str, table: str, conn: asyncpg.Connection, into: tuple[str, str]
) -> None:
    """Copy `schema.table`'s rows from the `source` database into the table `into` (schema, name) on `conn`, as binary
    COPY bytes passed from one server to the other without decoding a row here. A failure on either side raises, so
    the switch's transaction rolls back."""
    async with source.acquire() as reading:
        names = [a.name for a in (await reading.prepare(f'SELECT * FROM "{schema}"."{table}"')).get_attributes()]
        query = f'SELECT {", ".join(map(_quoted, names))} FROM "{schema}"."{table}"'
        chunks: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=8)

        async def read() -> None:
            try:
                await reading.copy_from_query(query, output=chunks.put, format="binary")
            except asyncio.CancelledError:
                raise  # the copy in failed: nothing waits for the end
            except BaseException:
                await chunks.put(None)  # the copy in ends; this error is raised where the reader is awaited
                raise
            await chunks.put(None)

        async def each_chunk():
            while (chunk := await chunks.get()) is not None:
                yield chunk

        reader = asyncio.ensure_future(read())
        try:
            await conn.copy_to_table(into[1], source=each_chunk(), schema_name=into[0], columns=names, format="binary")
        except BaseException:
            reader.cancel()
            with contextlib.suppress(BaseException):
                await reader
            raise
        await reader  # its error, if reading stopped short (what was copied in is rolled back with the switch)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def refill_stream(
    settings: Settings, parts: ServiceParts, app, js: JetStreamContext, out: TextIO = sys.stdout
) -> float:
    """Delete the service's own stream and let a relay publish every event again, each marked to travel up and down
    as the service's own relay marks it; events per second."""

    name = bus.stream_name(app.service)
    try:
        await js.delete_stream(name)
    except NotFoundError:
        pass
    total = app.recorder.max_notification_id() or 0
    progress = Progress(f"{app.service} stream", total, out)
    stop = asyncio.Event()
    task = asyncio.create_task(
        Relay(settings, app, parts.crossings).run(stop)
    )  # or the running service's relay, whichever leads
    try:
        while progress.done < total:
            await asyncio.sleep(0.2)
            try:
                count = (await js.stream_info(name)).state.messages
            except NotFoundError:
                continue
            progress.advance(count - progress.done)
    finally:
        stop.set()
        await task
    return progress.finish()


# --- a scratch database beside the live one ------------------------------------------------------------------


async def _scratch_database(url: str, service: str) -> str:
    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/') or 'postgres'}_replay_{service}"[:63]
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return urlunsplit(parts._replace(path=f"/{name}"))


async def _drop_database(url: str, scratch_url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{urlsplit(scratch_url).path.lstrip("/")}"')
    finally:
        await conn.close()
