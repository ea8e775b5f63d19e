"""A province at its size on one box (issue 24): generate it, relay it, replay it, and print the figures.

Starts its own PostgreSQL and NATS, writes the province with `dudao generate province` (through the domain, into the
registry's, inspection's and accountability's event stores), lets each service's relay publish its store, and rebuilds the registry's
directory from the view stream the way `dudao replay` does. Prints figures, ending with one JSON line holding the
keys issue 24 names; a figure this benchmark does not measure yet is null. Not a test (`make bench-province`).

    .venv/bin/python bench/province.py [--province 510000] [--schools 20000] [--months 12] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import nats

from dudao import bus, replay
from dudao.config import Settings
from dudao.relay import Relay
from dudao.service import prepare_tables
from dudao.store import ServiceApplication
from dudao_cli import generate
from dudao_cli.servers import LocalNats, LocalPostgres, free_port
from services.accountability.application import Accountability
from services.inspection.application import Inspection
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


async def rebuild_directory(settings: Settings) -> replay.Rebuilt:
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
    await prepare_tables(pool, REGISTRY)
    await pool.close()
    nc = await nats.connect(settings.nats_url)
    try:
        [done] = await replay.rebuild(settings, REGISTRY, nc.jetstream(timeout=60), ["directory"])
        return done
    finally:
        await nc.close()


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
                database_url=pg.start(), nats_url=nats_server.start(), home=home, dev_key_path=home / "key.pem"
            )
            started = time.perf_counter()
            made = generate.province(settings, args.province, schools=args.schools, months=args.months, seed=args.seed)
            generated_s = time.perf_counter() - started
            apps = {
                "registry": Registry(settings),
                "inspection": Inspection(settings),
                "accountability": Accountability(settings),
            }
            try:
                figures["relay_events_per_s"] = round(asyncio.run(relay_all(settings, apps, made.events)))
            finally:
                for app in apps.values():
                    app.close()
            rebuilt = asyncio.run(rebuild_directory(settings))
            figures["replay_events_per_s"] = round(rebuilt.rate)
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
    print(f"relay events/s         {figures['relay_events_per_s']:10,}  (the three services' relays together)")
    print(
        f"replay events/s        {figures['replay_events_per_s']:10,}  ({rebuilt.events:,} registry events, directory)"
    )
    print(f"peak RSS               {peak_mb:10,.0f}  MB (this process: the generator, the applications, their relays)")
    print("not measured yet       " + ", ".join(k for k, v in figures.items() if v is None))
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    sys.exit(main())
