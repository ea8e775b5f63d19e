"""Replay rate: rebuild the registry's directory read model from a stream of 200,000 events (issue 9).

Starts its own PostgreSQL and NATS, stores the events (schools registered, each given a zone and a responsible
inspector, as an office or `dudao generate` makes them: three events, three statements; saved 500 events to a
transaction), lets the relay publish
them, then times `dudao replay`'s rebuild: reading the view stream into a scratch database and switching the live
tables to it. Prints figures; not a test.

    .venv/bin/python bench/replay.py [--events 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import asyncpg
import nats

from dudao import bus, replay
from dudao.config import Settings
from dudao.events import Envelope
from dudao.relay import Relay
from dudao.service import prepare_tables
from dudao_cli.servers import LocalNats, LocalPostgres, free_port
from services.registry.app import PARTS
from services.registry.application import Registry
from services.registry.domain import Ownership, School, Stage

PER_SAVE = 500
PER_SCHOOL = 3  # registered, zone assigned, responsible inspector assigned


def school(i: int) -> School:
    made = School.register(
        school_id=uuid4(),
        name=f"回放学校{i}",
        jurisdiction="500120",
        stage=Stage.primary,
        ownership=Ownership.public,
        enrolment=i,
        now=datetime.now(UTC),
    )
    made.assign_zone(uuid4())
    made.assign_responsible_inspector(uuid4())
    return made


def store(app: Registry, count: int) -> float:
    """Save schools up to `count` events; events saved per second."""
    envelope = Envelope.for_request(actor="bench", jurisdiction="500120")
    started, schools = time.perf_counter(), count // PER_SCHOOL
    for first in range(0, schools, PER_SAVE // PER_SCHOOL):
        app.save(*[school(i) for i in range(first, min(first + PER_SAVE // PER_SCHOOL, schools))], envelope=envelope)
        print(
            f"\rstored {min(first + PER_SAVE // PER_SCHOOL, schools) * PER_SCHOOL:>9,} / {count:,}", end="", flush=True
        )
    print()
    return schools * PER_SCHOOL / (time.perf_counter() - started)


async def publish(settings: Settings, app: Registry, count: int) -> float:
    """Let a relay publish the backlog and the view stream take it; events per second."""
    nc = await nats.connect(settings.nats_url)
    js = nc.jetstream()
    stop = asyncio.Event()
    started = time.perf_counter()
    task = asyncio.create_task(Relay(settings, app, PARTS.crossings).run(stop))
    try:
        while True:
            await asyncio.sleep(0.5)
            try:
                seen = (await js.stream_info(bus.view_stream("registry"))).state.messages
            except nats.js.errors.NotFoundError:
                continue
            print(f"\rpublished {seen:>9,} / {count:,}", end="", flush=True)
            if seen >= count:
                break
        print()
        return count / (time.perf_counter() - started)
    finally:
        stop.set()
        await task
        await nc.close()


async def rebuild(settings: Settings) -> replay.Rebuilt:
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
    await prepare_tables(pool, PARTS)  # the live tables the rebuild switches
    await pool.close()
    nc = await nats.connect(settings.nats_url)
    try:
        [done] = await replay.rebuild(settings, PARTS, nc.jetstream(timeout=30), ["directory"])
        return done
    finally:
        await nc.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        pg, nats_server = LocalPostgres(home / "pg", free_port()), LocalNats(home / "nats", free_port())
        try:
            settings = Settings(
                database_url=pg.start(), nats_url=nats_server.start(), home=home, dev_key_path=home / "key.pem"
            )
            app = Registry(settings)
            saves = store(app, args.events)
            relayed = asyncio.run(publish(settings, app, args.events // PER_SCHOOL * PER_SCHOOL))
            app.close()
            done = asyncio.run(rebuild(settings))
        finally:
            nats_server.stop()
            pg.stop()
    print()
    print(f"events stored/s        {saves:10,.0f}  ({PER_SAVE} to a transaction)")
    print(f"events relayed/s       {relayed:10,.0f}  (into the own and the view stream)")
    print(f"replay events/s        {done.rate:10,.0f}  ({done.events:,} events, rebuild and switch of the directory)")


if __name__ == "__main__":
    main()
