"""A province at its size on one box (issue 24): generate it, relay it, replay it, and print the figures.

Starts its own PostgreSQL and NATS, writes the province with `dudao generate province` (through the domain, into the
four services' event stores), lets each service's relay publish its store, rebuilds the registry's directory and
monitoring's read models from the view streams the way `dudao replay` does, then times the province's roll-up
(balanced-development results and operations over all its counties) and the results after one more submission.
Prints figures, ending with one JSON line holding the keys issue 24 names; a figure this benchmark does not measure
yet is null. Not a test (`make bench-province`).

    .venv/bin/python bench/province.py [--province 510000] [--schools 20000] [--months 12] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import asyncpg
import nats

from dudao import bus, replay
from dudao.config import Settings
from dudao.consumer import InboundEvent
from dudao.events import Envelope
from dudao.relay import Relay
from dudao.service import prepare_tables
from dudao.store import ServiceApplication, event_name, event_state
from dudao_cli import generate
from dudao_cli.servers import LocalNats, LocalPostgres, free_port
from services.accountability.application import Accountability
from services.inspection.application import Inspection
from services.monitoring.app import PARTS as MONITORING
from services.monitoring.application import Monitoring
from services.monitoring.demo import PERIOD, school_values
from services.monitoring.domain.collection import Submission
from services.monitoring.domain.compute import validate
from services.monitoring.projections import collection, operations, reads
from services.registry.app import PARTS as REGISTRY
from services.registry.application import Registry

KEYS = (
    "events",
    "http_over_raw",
    "relay_events_per_s",
    "replay_events_per_s",
    "dashboard_qps_50",
    "dashboard_p99_ms_50",
    "dashboard_p50_ms_1",
    "rollup_p99_ms",
    "recompute_ms",
    "catch_up_s",
)


async def relay_all(settings: Settings, apps: dict[str, ServiceApplication], counts: dict[str, int]) -> float:
    """Run every service's relay until its view stream holds all its events; events per second over all of them."""
    nc = await nats.connect(settings.nats_url)
    js = nc.jetstream()
    stop = asyncio.Event()
    started = time.perf_counter()
    tasks = [asyncio.create_task(Relay(settings, app).run(stop)) for app in apps.values()]
    total = sum(counts.values())
    moved, last_seen = time.perf_counter(), -1
    try:
        while True:
            await asyncio.sleep(0.5)
            seen = 0
            for service in apps:
                try:
                    seen += (await js.stream_info(bus.view_stream(service))).state.messages
                except nats.js.errors.NotFoundError:
                    pass
            print(f"\rrelayed {seen:>11,} / {total:,}", end="", flush=True)
            if seen >= total:
                break
            if seen != last_seen:
                moved, last_seen = time.perf_counter(), seen
            elif time.perf_counter() - moved > 60:
                raise SystemExit(
                    f"\nthe relays stopped at {seen:,} of {total:,} events for a minute; see the log above"
                )
        print()
        return total / (time.perf_counter() - started)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        await nc.close()


async def rebuild(settings: Settings, parts, names: list[str]) -> list[replay.Rebuilt]:
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
    await prepare_tables(pool, parts)
    await pool.close()
    nc = await nats.connect(settings.nats_url)
    try:
        return await replay.rebuild(settings, parts, nc.jetstream(timeout=60), names)
    finally:
        await nc.close()


def one_more_submission(app: Monitoring, county: str, n: int, now: datetime) -> list[InboundEvent]:
    """A school the province did not have enters its data and submits: its events as the read model receives them."""
    after = app.recorder.max_notification_id() or 0
    framework = app.framework("balanced_development")
    version = framework.version_for(PERIOD)
    unit = str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench-province:{county}:{n}"))
    by = {"kind": "unit", "sub": "bench"}
    made = Submission.open(
        framework="balanced_development",
        framework_version=version,
        period=PERIOD,
        unit_kind="school",
        unit_id=unit,
        unit_name=f"新校{n}",
        jurisdiction=county,
        unit_stage="primary",
        locality=None,
        opened_by=by,
        opened_at=now,
    )
    values = validate(framework.definition(version), school_values("primary", 900, n), "primary")
    made.enter_values(values=values, entered_by=by, now=now)
    made.submit(submitted_by=by, now=now)
    app.save(made, envelope=Envelope.for_request(actor="bench", jurisdiction=county))
    events = []
    for note in app.recorder.select_notifications(after, 10, inclusive_of_start=False):
        state, envelope = event_state(app, note)
        aggregate, event = event_name(note.topic)
        events.append(
            InboundEvent(
                type=f"{aggregate}.{event}",
                aggregate=aggregate,
                aggregate_id=str(note.originator_id),
                version=note.originator_version,
                origin=bus.origin(app.settings.jurisdiction, "monitoring"),
                notification_id=note.id,
                envelope=Envelope.from_dict(envelope),
                data=state,
                stream_seq=10**12 + note.id,  # after anything the stream holds
            )
        )
    return events


async def results_figures(settings: Settings, province_code: str, more: list[list[InboundEvent]], today: date):
    """Milliseconds: each round of the province's roll-up, and each projection of one more submission (as the live
    consumer applies it: the event, then the results it makes due, in one transaction)."""
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
    rollups: list[tuple[float, float]] = []  # (results, operations) of each round
    recomputes = []
    try:
        async with pool.acquire() as conn:
            for _ in range(20):
                started = time.perf_counter()
                await reads.results(conn, "balanced_development", PERIOD, province_code)
                between = time.perf_counter()
                await operations.operations_rollup(conn, province_code, today)
                rollups.append(((between - started) * 1000, (time.perf_counter() - between) * 1000))
            for events in more:
                for event in events:
                    started = time.perf_counter()
                    async with conn.transaction():
                        await collection.project_collection(conn, event)
                        await collection.settle_results(conn)
                    took = (time.perf_counter() - started) * 1000
                if events:
                    recomputes.append(took)  # the submission's last event: it is counted from then on
    finally:
        await pool.close()
    return rollups, recomputes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--province", default="510000")
    parser.add_argument("--schools", type=int, default=20_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    figures: dict[str, float | int | None] = dict.fromkeys(KEYS)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        pg, nats_server = LocalPostgres(home / "pg", free_port()), LocalNats(home / "nats", free_port())
        try:
            settings = Settings(
                database_url=pg.start(),
                nats_url=nats_server.start(),
                home=home,
                dev_key_path=home / "key.pem",
                jurisdiction=args.province,
            )
            started = time.perf_counter()
            made = generate.province(settings, args.province, schools=args.schools, months=args.months, seed=args.seed)
            generated_s = time.perf_counter() - started
            apps = {
                "registry": Registry(settings),
                "inspection": Inspection(settings),
                "accountability": Accountability(settings),
                "monitoring": Monitoring(settings),
            }
            try:
                figures["relay_events_per_s"] = round(asyncio.run(relay_all(settings, apps, made.events)))
                counties = generate.counties_of(args.province)
                now = datetime.now(UTC)
                more = [one_more_submission(apps["monitoring"], c.code, n, now) for n, c in enumerate(counties[:20])]
            finally:
                for app in apps.values():
                    app.close()
            [rebuilt] = asyncio.run(rebuild(settings, REGISTRY, ["directory"]))
            figures["replay_events_per_s"] = round(rebuilt.rate)
            watched = ["collection"] + [f"operations-{source.service}" for source in operations.SOURCES]
            monitoring_rebuilt = asyncio.run(rebuild(settings, MONITORING, watched))
            today = settings.today or date.today()
            rollups, recomputes = asyncio.run(results_figures(settings, args.province, more, today))
            figures["rollup_p99_ms"] = round(max(map(sum, rollups)))  # 20 rounds: the slowest stands for p99
            figures["recompute_ms"] = round(statistics.median(recomputes), 1)
            figures["events"] = made.total
        finally:
            nats_server.stop()
            pg.stop()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print()
    print(f"province               {args.province}: {made.counties} counties, {made.schools:,} schools,")
    print(
        f"                       {made.inspectors:,} inspectors, {made.zones:,} zones, {made.visits:,} routine visits"
    )
    print(f"events generated       {made.total:10,}  in {generated_s:.1f} s ({made.total / generated_s:,.0f}/s)")
    print(f"relay events/s         {figures['relay_events_per_s']:10,}  (the four services' relays together)")
    print(
        f"replay events/s        {figures['replay_events_per_s']:10,}  ({rebuilt.events:,} registry events, directory)"
    )
    for done in monitoring_rebuilt:
        print(f"replay monitoring      {done.rate:10,.0f}  events/s ({done.events:,} events, {done.projection})")
    whole = list(map(sum, rollups))
    print(f"province roll-up       {statistics.median(whole):10,.0f}  ms median, {max(whole):,.0f} ms slowest of 20")
    print(
        f"                       results {statistics.median(r for r, _ in rollups):,.0f} ms (balanced development),"
        f" operations {statistics.median(o for _, o in rollups):,.0f} ms, over {made.counties} counties"
    )
    print(
        f"one more submission    {statistics.median(recomputes):10,.1f}  ms median, {max(recomputes):,.1f} ms slowest"
        f" of {len(recomputes)} (projected with its county's results)"
    )
    print(f"peak RSS               {peak_mb:10,.0f}  MB (this process: the generator, the applications, their relays)")
    print("not measured yet       " + ", ".join(k for k, v in figures.items() if v is None))
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    sys.exit(main())
