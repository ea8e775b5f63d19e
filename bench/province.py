"""A province at its size on one box (issue 24): generate it, relay it, replay it, run it, and print the figures.

Starts its own PostgreSQL and NATS and writes the province with `dudao generate province` (through the domain, into
the four services' event stores), leaving out one county, which gets an instance of its own linked below. Then:

1. each service's relay publishes its store, in a process of its own (`relay_events_per_s`);
2. the registry's directory and monitoring's read models are rebuilt from the view streams as `dudao replay` does
   (`replay_events_per_s`), the province's roll-up is timed (`rollup_p99_ms`) and one more submission in each of 20
   counties (`recompute_ms`);
3. the county records its backlog while its link is down;
4. the province's whole stack starts on the generated stores (`dudao up`), its read models catch up, the dashboard
   is asked by one client and by 50 (`dashboard_*`), and registrations over HTTP are set beside straight saves
   (`http_over_raw`);
5. the county's link comes up, and its backlog is timed until the province's read models hold it (`catch_up_s`);
6. each service's peak RSS.

Prints figures, ending with one JSON line holding the keys issue 24 names. Not a test (`make bench-province`). The
province is the same from one run to the next given its seed and its day: visits run for a year up to today, so
`DUDAO_TODAY=2026-12-06 make bench-province` writes exactly the events a run on that day wrote.

    .venv/bin/python bench/province.py [--province 510000] [--schools 20000] [--months 12] [--seed 1]
                                       [--backlog 100000] [--queries 1000] [--registrations 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import asyncpg
import httpx
import nats
from dashboard import Stack, load
from dashboard import start as start_stack
from registry_throughput import http_load, raw_saves

from dudao import bus, heap, links, replay
from dudao.config import Settings
from dudao.consumer import InboundEvent
from dudao.events import Envelope
from dudao.progress import Progress
from dudao.service import prepare_tables
from dudao.store import ServiceApplication, event_name
from dudao.wire import event_state
from dudao_cli import generate
from dudao_cli.servers import LocalNats, LocalPostgres, free_port
from services.accountability.application import Accountability
from services.inspection.application import Inspection
from services.monitoring.app import PARTS as MONITORING
from services.monitoring.application import Monitoring
from services.monitoring.demo import PERIOD, school_values
from services.monitoring.domain.collection import Submission
from services.monitoring.domain.compute import validate
from services.monitoring.projections import areas, collection, operations, operations_figures, reads
from services.registry.app import PARTS as REGISTRY
from services.registry.application import Registry

SERVICES = ("registry", "inspection", "accountability", "monitoring")
EVENTS_PER_COUNTY_SCHOOL = 20  # about what the generator writes for each school: sizes the backlog county

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


def applications(settings: Settings) -> dict[str, ServiceApplication]:
    return {
        "registry": Registry(settings),
        "inspection": Inspection(settings),
        "accountability": Accountability(settings),
        "monitoring": Monitoring(settings),
    }


def relay_all(settings: Settings, counts: dict[str, int]) -> float:
    """Run every service's relay, each in its own process as a deployment runs them (`dudao relay NAME`), until its
    view stream holds all its events; events per second over all of them."""
    env = (
        os.environ
        | {
            "DATABASE_URL": settings.database_url,
            "NATS_URL": settings.nats_url,
            "DUDAO_HOME": str(settings.home),
            "DUDAO_DEV_KEY": str(settings.dev_key_path),
            "DUDAO_JURISDICTION": settings.jurisdiction,
        }
        | ({"DUDAO_UPPER": settings.upper} if settings.upper else {})
    )
    log = (settings.home / f"relays-{settings.jurisdiction}.log").open("ab")
    started = time.perf_counter()
    relays = [
        subprocess.Popen([sys.executable, "-m", "dudao_cli", "relay", name], env=env, stdout=log, stderr=log)
        for name in counts
    ]
    try:
        asyncio.run(_until_relayed(settings, counts, relays))
        return sum(counts.values()) / (time.perf_counter() - started)
    finally:
        for relay in relays:
            relay.send_signal(signal.SIGINT)
        for relay in relays:
            try:
                relay.wait(timeout=30)
            except subprocess.TimeoutExpired:
                relay.kill()
        log.close()


async def _until_relayed(settings: Settings, counts: dict[str, int], relays: list[subprocess.Popen]) -> None:
    nc = await nats.connect(settings.nats_url)
    js = nc.jetstream()
    total = sum(counts.values())
    moved, last_seen = time.perf_counter(), -1
    try:
        while True:
            await asyncio.sleep(0.5)
            seen = 0
            for service in counts:
                try:
                    seen += (await js.stream_info(bus.view_stream(service))).state.messages
                except nats.js.errors.NotFoundError:
                    pass
            print(f"\rrelayed {seen:>11,} / {total:,}", end="", flush=True)
            if seen >= total:
                break
            if seen != last_seen:
                moved, last_seen = time.perf_counter(), seen
            elif time.perf_counter() - moved > 60 or any(r.poll() is not None for r in relays):
                raise SystemExit(
                    f"\nthe relays stopped at {seen:,} of {total:,} events; see {settings.home}/relays-*.log"
                )
        print()
    finally:
        await nc.close()


async def rebuild(settings: Settings, parts, names: list[str]) -> list[replay.Rebuilt]:
    heap.started()  # as `dudao replay` starts
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
                envelope_fields=envelope,
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
                # The verdict and the counties' (its thousands of schools' own results are a listing, not a roll-up)
                await reads.results(conn, "balanced_development", PERIOD, province_code, units=False)
                between = time.perf_counter()
                await operations_figures.operations_rollup(conn, province_code, today)
                rollups.append(((between - started) * 1000, (time.perf_counter() - between) * 1000))
            for events in more:
                for event in events:
                    started = time.perf_counter()
                    async with conn.transaction():
                        await collection.project_collection(conn, event)
                        await areas.settle_results(conn)
                    took = (time.perf_counter() - started) * 1000
                if events:
                    recomputes.append(took)  # the submission's last event: it is counted from then on
    finally:
        await pool.close()
    return rollups, recomputes


async def crossing_up(nats_url: str, county: str) -> int:
    """The events a county's streams hold to travel up (its backlog for the province), once the upward streams have
    taken in all they source."""
    nc = await nats.connect(nats_url)
    try:
        js, counted = nc.jetstream(), -1
        while True:
            now = 0
            for service in SERVICES:
                now += (await js.stream_info(links.crossing_stream(links.UP, service, county))).state.messages
            if now == counted:
                return now
            counted = now
            await asyncio.sleep(1)
    finally:
        await nc.close()


async def link(nats_url: str, province: str, county: str) -> None:
    """`dudao link COUNTY` at the province: its view and upward streams source the county's upward streams."""
    nc = await nats.connect(nats_url)
    try:
        for service in SERVICES:
            await links.link_lowers(nc.jetstream(), service, province, [county])
    finally:
        await nc.close()


async def until_arrived(nats_url: str, county: str, crossing: int, since: float) -> None:
    """Until the province's view streams hold the county's `crossing` events, looking every half second on one
    connection (a connection for each look, four times a second, was a fourteenth of the CPU the stack used)."""
    arriving = Progress(f"{county} at the province", crossing)
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        while True:
            got = 0
            for service in SERVICES:
                info = await js.stream_info(bus.view_stream(service), subjects_filter=f"dudao.{county}.>")
                got += sum((info.state.subjects or {}).values())
            arriving.show(got)
            if got >= crossing:
                arriving.finish()
                return
            if time.perf_counter() - since > 1800:
                raise SystemExit(f"\nthe county's backlog stopped at {got:,} of {crossing:,} events")
            await asyncio.sleep(0.5)
    finally:
        await nc.close()


def lags(stack: Stack) -> int | None:
    """What the stack's relays and consumers have yet to do, from each service's /readyz (None: one has not asked
    its stream yet)."""
    left = 0
    for service in SERVICES:
        try:
            ready = httpx.get(f"{stack.url(service)}/readyz", timeout=10).json()
        except (httpx.HTTPError, ValueError):
            return None
        for lag in [ready.get("relay_lag") or 0, *(c["lag"] for c in ready["consumers"].values())]:
            if lag is None:
                return None
            left += lag
    return left


def processed(stack: Stack) -> dict[str, int]:
    """The messages each consumer of the stack has processed, from /readyz."""
    counts = {}
    for service in SERVICES:
        ready = httpx.get(f"{stack.url(service)}/readyz", timeout=10).json()
        counts |= {name: c["processed"] for name, c in ready["consumers"].items()}
    return counts


def until_caught_up(stack: Stack, label: str, settled: float = 3.0, timeout: float = 1800) -> float:
    """Seconds until every relay and consumer of the stack has had nothing to do for `settled` seconds, less those."""
    started = time.perf_counter()
    progress, quiet_since = None, None
    while time.perf_counter() - started < timeout:
        left = lags(stack)
        if left is not None:
            progress = progress or Progress(label, left)
            progress.total = max(progress.total, left)
            progress.show(progress.total - left)
        if left == 0:
            quiet_since = quiet_since or time.perf_counter()
            if time.perf_counter() - quiet_since >= settled:
                if progress is not None:
                    progress.finish(unit="messages (each event once for every consumer of it)")
                return quiet_since - started
        else:
            quiet_since = None
        time.sleep(0.5)  # each look asks every consumer of the stack for its lag: not so often as to slow them
    raise SystemExit(f"\n{label}: not caught up after {timeout:.0f} s; see the logs under the stack's home")


DASHBOARD_PARTS = {  # the dashboard's parts, each from the service that owns it: which one bounds the whole
    "staffing (registry)": "staffing { schools inspectors r1 { met } r2 { met } r3 { met } r4 { met } }",
    "routine coverage (inspection)": "routineCoverage { schools visited coverage }",
    "rectification (accountability)": "rectification { openCases items overdueItems noticesIssued onTimeRate }"
    " interviews { status count } circulars { status count }",
    "verdicts (monitoring)": "verdicts { framework period areas passing failing noVerdict provisional }",
    # not on the start page (decision 037): the drill-down into every area's CVs, measured for what it costs
    "every area's CVs (monitoring)": "latestVerdicts { framework period jurisdiction passes"
    " stages { stage indicators { key cv within } } }",
}


def dashboard_parts(stack: Stack, province: str) -> dict[str, float]:
    """Milliseconds of each part of the dashboard asked alone by one client (median of 10)."""
    took = {}
    for part, fields in DASHBOARD_PARTS.items():
        query = f"query($j: String!) {{ dashboard(jurisdiction: $j) {{ month {fields} }} }}"
        _, latencies, errors = asyncio.run(load(stack.url(), stack.token, province, 10, 1, query))
        took[part] = statistics.median(latencies) * 1000
        if errors:
            print(f"  the dashboard's {part} answered with errors: {dict(errors)}", flush=True)
    return took


def dashboard_figures(stack: Stack, province: str, queries: int) -> dict[str, float]:
    asyncio.run(load(stack.url(), stack.token, province, 50, 10))  # warm up
    _, alone, errors_alone = asyncio.run(load(stack.url(), stack.token, province, max(20, queries // 10), 1))
    rate, latencies, errors = asyncio.run(load(stack.url(), stack.token, province, queries, 50))
    if errors or errors_alone:  # a figure too: at this size the dashboard does not hold (the note names why)
        print(f"  errors in the dashboard's answers: {dict(errors + errors_alone)}", flush=True)
    return {
        "dashboard_qps_50": round(rate, 1),
        "dashboard_p99_ms_50": round(statistics.quantiles(latencies, n=100)[98] * 1000, 1),
        "dashboard_p50_ms_1": round(statistics.median(alone) * 1000, 1),
    }


def peak_rss_mb(stack: Stack) -> dict[str, float]:
    """Each service's peak resident memory so far (VmHWM of the `dudao serve` process `dudao up` started)."""
    peaks = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
            cmdline = (status.parent / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if int(fields.get("PPid", "0")) == stack.proc.pid and b"serve" in cmdline:
            name = cmdline[cmdline.index(b"serve") + 1].decode()
            peaks[name] = int(fields["VmHWM"].split()[0]) / 1024
    return peaks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--province", default="510000")
    parser.add_argument("--schools", type=int, default=20_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--backlog", type=int, default=100_000, help="events of the county linked below, about")
    parser.add_argument("--queries", type=int, default=1000, help="dashboard queries from the 50 clients")
    parser.add_argument("--registrations", type=int, default=1000, help="schools registered over HTTP, and raw")
    args = parser.parse_args()
    figures: dict[str, float | int | None] = dict.fromkeys(KEYS)
    county = generate.counties_of(args.province)[-1].code  # an instance of its own, linked below the province
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        home.chmod(0o755)
        leaf = free_port()
        pg = LocalPostgres(home / "pg", free_port())
        nats_server = LocalNats(home / "nats", free_port(), jetstream_domain=bus.domain(args.province), leaf_port=leaf)
        below = LocalNats(
            home / "nats-county",
            free_port(),
            jetstream_domain=bus.domain(county),
            upstream=f"nats-leaf://127.0.0.1:{leaf}",
        )
        stack = None
        try:
            settings = Settings(
                database_url=pg.start(),
                nats_url=nats_server.start(),
                home=home,
                dev_key_path=home / "key.pem",
                jurisdiction=args.province,
                today=Settings.from_env().today,  # DUDAO_TODAY: the same events as a run on that day (and the stack's clock)
            )
            started = time.perf_counter()
            made = generate.province(
                settings, args.province, schools=args.schools, months=args.months, seed=args.seed, without=(county,)
            )
            generated_s = time.perf_counter() - started
            apps = applications(settings)
            try:
                figures["relay_events_per_s"] = round(relay_all(settings, made.events))
                counties = generate.counties_of(args.province)[:20]
                now = (
                    datetime.combine(settings.today, datetime.now(UTC).time(), UTC)
                    if settings.today
                    else datetime.now(UTC)
                )
                more = [one_more_submission(apps["monitoring"], c.code, n, now) for n, c in enumerate(counties)]
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
            print(  # as soon as measured: a later phase that fails on a slow machine leaves these on record
                f"roll-up {statistics.median(map(sum, rollups)):,.0f} ms median, {figures['rollup_p99_ms']:,} ms slowest;"
                f" one more submission {figures['recompute_ms']} ms median",
                flush=True,
            )

            print(f"the county {county} below: linked, then cut off while it records its backlog …", flush=True)
            below_settings = replace(
                settings,
                database_url=create_database(settings.database_url, f"j{county}"),
                nats_url=below.start(),
                jurisdiction=county,
                upper=args.province,
            )
            asyncio.run(link(settings.nats_url, args.province, county))
            below.stop()
            below.upstream = None
            below.start()
            schools = max(20, args.backlog // EVENTS_PER_COUNTY_SCHOOL)
            backlog = generate.province(below_settings, county, schools=schools, months=args.months, seed=args.seed + 1)
            relay_all(below_settings, backlog.events)
            crossing = asyncio.run(crossing_up(below.url, county))

            print("the province's stack on its generated stores (dudao up) …", flush=True)
            env = {"DATABASE_URL": settings.database_url, "NATS_URL": settings.nats_url}
            stack = start_stack(str(home / "stack"), env | {"DUDAO_JURISDICTION": args.province}, ("--no-seed",))
            started_s = until_caught_up(stack, "the stack's read models catching up with the province")
            busiest = sorted(processed(stack).items(), key=lambda kv: -kv[1])
            print("  the busiest consumers: " + ", ".join(f"{name} {n:,}" for name, n in busiest[:10]), flush=True)
            print("the dashboard: one client, then 50 …", flush=True)
            figures |= dashboard_figures(stack, args.province, args.queries)
            parts = dashboard_parts(stack, args.province)
            print("registrations over HTTP, then straight into the store …", flush=True)
            http_rate, _ = asyncio.run(
                http_load(stack.url("registry"), stack.token, args.registrations, 16, counties[0].code)
            )
            raw_rate = raw_saves(settings, args.registrations, counties[0].code)
            figures["http_over_raw"] = round(http_rate / raw_rate, 2)
            until_caught_up(stack, "the stack settling")

            print(f"the link to {county} up again: its backlog of {crossing:,} events arriving …", flush=True)
            below.stop()
            below.upstream = f"nats-leaf://127.0.0.1:{leaf}"
            link_up = time.perf_counter()
            below.start()
            asyncio.run(until_arrived(settings.nats_url, county, crossing, link_up))
            crossed_s = time.perf_counter() - link_up  # NATS's sourcing over the leaf link; consumers take it meanwhile
            until_caught_up(stack, "the province's read models taking it in", settled=2.0)
            figures["catch_up_s"] = round(time.perf_counter() - link_up - 2.0, 1)
            rss = peak_rss_mb(stack)
        finally:
            if stack is not None:
                stack.stop()
            below.stop()
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
    print(f"stack caught up        {started_s:10,.1f}  s (every read model of the four services, from the streams)")
    print(
        f"dashboard              {figures['dashboard_qps_50']:10,}  queries/s at 50 clients,"
        f" p99 {figures['dashboard_p99_ms_50']:,} ms; one client p50 {figures['dashboard_p50_ms_1']:,} ms"
    )
    for part, ms in parts.items():
        print(f"  alone: {part:<30} {ms:8,.1f} ms")
    print(
        f"HTTP / raw             {figures['http_over_raw']:10}  ({http_rate:,.0f} vs {raw_rate:,.0f} registrations/s,"
        f" concurrency 16, {args.registrations:,} each)"
    )
    print(
        f"county backlog         {figures['catch_up_s']:10}  s for {crossing:,} events of {county}"
        f" ({backlog.total:,} recorded there) after its link was down"
    )
    print(
        f"                       {crossed_s:,.1f} s until the province's streams held it all (crossing the leaf link),"
        f" {figures['catch_up_s'] - crossed_s:,.1f} s more until its read models did"
    )
    for name, mb in sorted(rss.items()):
        print(f"peak RSS {name:<14}{mb:10,.0f}  MB")
    print(
        f"peak RSS bench         {peak_mb:10,.0f}  MB (this process: the generator and the applications; the relays run apart)"
    )
    print(json.dumps(figures), flush=True)


def create_database(url: str, name: str) -> str:
    """A database of its own on the same server (another instance's); its URL."""

    async def create() -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    return f"{url.rsplit('/', 1)[0]}/{name}"


if __name__ == "__main__":
    sys.exit(main())
