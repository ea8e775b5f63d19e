"""Assembling a service's process from its parts (`dudao.parts`): the API with problem+json errors, tracing, auth and
the read pool; the relay, the consumers and the background loops (`Workers`); the workers alone (`workers_only`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import asyncpg
from fastapi import Depends, FastAPI, Request, Response

from dudao import (
    audit,
    changes,
    consumer,
    erasure,
    http_errors,
    links,
    metrics,
    origins,
    remembered,
    roles,
    routes,
    telemetry,
)
from dudao.auth import TokenVerifier
from dudao.clock import Clock
from dudao.config import Settings
from dudao.consumer import Consumer
from dudao.effects import ProjectionEffect, ReactionEffect
from dudao.links import LinkKeeper
from dudao.parts import Projection, ServiceParts
from dudao.relay import Relay
from dudao.store import ServiceApplication

log = logging.getLogger("dudao.service")


def projections_of(parts: ServiceParts, jurisdiction: str | None = None) -> list[Projection]:
    """The service's read models and those the kernel keeps for every service (the change feed, the audit). With the
    instance's `jurisdiction`, as they run: each handler applies an event under the id its origin keeps here
    (`dudao.origins`)."""
    projections = [*parts.projections, changes.projection(parts.name), audit.projection(parts.name)]
    if jurisdiction is None:
        return projections
    return [replace(p, handler=origins.kept_apart(p.handler, parts.name, jurisdiction)) for p in projections]


class Workers:
    """The relay and consumers of one service, run as background tasks until stopped."""

    def __init__(
        self, settings: Settings, parts: ServiceParts, app: ServiceApplication, pool: asyncpg.Pool, clock: Clock
    ):
        self.stop = asyncio.Event()
        self.relay = Relay(settings, app, parts.crossings)
        self.consumers = [
            Consumer(
                settings,
                pool,
                schema=parts.name,
                name=p.consumer_name(parts.name),
                stream=p.stream,
                filter_subject=p.filter_subject,
                effect=ProjectionEffect.of(pool, parts.name, p),
                ordered=p.ordered,
            )
            for p in projections_of(parts, settings.jurisdiction)
        ] + [
            Consumer(
                settings,
                pool,
                schema=parts.name,
                name=f"{parts.name}-{r.name}",
                stream=r.stream,
                filter_subject=r.filter_subject,
                effect=ReactionEffect(app, r.name, r.react, r.event_types),
            )
            for r in parts.reactions
        ]
        self.links = LinkKeeper(settings, parts.name)
        self.background = [make(settings, app, pool, clock) for make in parts.background]
        self.tasks: list[asyncio.Task] = []

    def start(self, relay: bool = True, consumers: bool = True) -> None:
        runners = ([self.relay, self.links] if relay else []) + (self.consumers + self.background if consumers else [])
        self.tasks = [asyncio.create_task(r.run(self.stop), name=type(r).__name__) for r in runners]

    async def close(self) -> None:
        self.stop.set()
        for task in self.tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, timeout=10)
        metrics.unwatch(
            self.relay, self.links, *self.consumers
        )  # a stopped service's lags are no longer anyone's to watch


def open_pool(database_url: str, max_size: int) -> asyncpg.Pool:
    """A process's pool for reads, projections and dead letters. A connection coming back to it is only rolled back if
    a transaction is still open (asyncpg does that always), not reset with a statement of its own: asyncpg's default
    sends one per request (advisory locks, cursors, LISTEN, settings), for session state nothing here leaves on a
    pooled connection. The advisory locks have connections of their own (`dudao.leadership`); no request sets a
    setting, listens, or keeps a cursor past its transaction (decision 041)."""
    return asyncpg.create_pool(database_url, min_size=1, max_size=max_size, reset=_nothing_to_reset)


async def _nothing_to_reset(conn: asyncpg.Connection) -> None:
    pass


async def close_pool(pool: asyncpg.Pool, wait_s: float = 5.0) -> None:
    """Close the read pool politely if PostgreSQL answers within `wait_s`, else at once: a connection whose peer
    vanished without a word (a cut link) would otherwise hold a stopping service for ever."""
    try:
        await asyncio.wait_for(pool.close(), timeout=wait_s)
    except TimeoutError:
        log.warning("the read pool did not close within %.0f s; closing its connections at once", wait_s)
        pool.terminate()


async def prepare_tables(pool: asyncpg.Pool, parts: ServiceParts) -> None:
    """Create the kernel's and the service's tables, first dropping those of projections whose version changed."""
    await consumer.ensure_tables(pool, parts.name)
    schema = f'"{parts.name}"'
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {schema}.projection_versions (name text PRIMARY KEY, version int NOT NULL)"
        )
        await remembered.ensure_table(conn, parts.name)
        await conn.execute(f"LOCK TABLE {schema}.projection_versions")  # two replicas starting: one rebuilds
        for p in projections_of(parts):
            if p.remembered:  # a start, maybe of a new version: whatever a replica remembered was of before
                await remembered.renew(conn, parts.name, p.name)
            stored = await conn.fetchval(f"SELECT version FROM {schema}.projection_versions WHERE name = $1", p.name)
            if stored == p.version:
                continue
            if stored is not None:
                log.warning(
                    "projection %s changed (v%s -> v%s): rebuilding it from the stream", p.name, stored, p.version
                )
                for table in p.tables:
                    await conn.execute(f'DROP TABLE IF EXISTS {schema}."{table}" CASCADE')
            await conn.execute(
                f"INSERT INTO {schema}.projection_versions (name, version) VALUES ($1, $2)"
                " ON CONFLICT (name) DO UPDATE SET version = excluded.version",
                p.name,
                p.version,
            )
    await parts.ensure_tables(pool)
    async with pool.acquire() as conn:
        for p in projections_of(parts):
            if p.ddl:
                await conn.execute(p.ddl)


def create_app(parts: ServiceParts, settings: Settings, routers: list, title: str) -> FastAPI:
    """A service's FastAPI app: problem+json errors, tracing, auth, read pool, and (optionally) its workers."""
    telemetry.setup(parts.name)
    owner = settings

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # As the owner: the schema, the event tables, the grants; then run as the append-only role (decision 015).
        settings = await asyncio.to_thread(roles.provision, owner, parts.name, parts.application)
        app.state.settings = settings
        app.state.application = await asyncio.to_thread(parts.application, settings)
        if parts.on_start is not None:
            await asyncio.to_thread(parts.on_start, app.state.application)
        app.state.pool = await open_pool(settings.database_url, settings.pg_read_pool)
        await prepare_tables(app.state.pool, parts)
        marks = remembered.MarksAnswerer(
            settings.nats_url,
            remembered.marks_subject(settings.jurisdiction, parts.name),
            app.state.pool,
            parts.name,
            lambda: app.state.clock.today(),
        )
        marks.start()
        app.state.workers = Workers(settings, parts, app.state.application, app.state.pool, app.state.clock)
        if settings.run_workers:
            app.state.workers.start()
        try:
            yield
        finally:
            await marks.close()
            await app.state.workers.close()
            await close_pool(app.state.pool)
            app.state.application.close()

    app = FastAPI(
        title=title,
        version="1",
        lifespan=lifespan,
        openapi_url="/openapi.json",
        dependencies=[Depends(routes.printable_text)],
        default_response_class=routes.Named,
        description="Every object in a read that holds a `jurisdiction` division code also holds its `jurisdiction_name`.",
    )
    app.state.settings = settings
    app.state.clock = Clock(settings.today)  # every rule that needs the time reads it here; tests set it
    app.state.verifier = TokenVerifier(settings)
    http_errors.install(app)
    for router in [*routers, audit.router, erasure.router, links.router]:
        app.include_router(router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request, response: Response, serving: bool = False) -> dict[str, object]:
        """Ready, or 503 `degraded` while a dead letter is unresolved (an event some read model or reaction lacks).

        `?serving=1` asks only whether requests can be served (PostgreSQL reachable): what a load balancer's
        readiness probe wants, since a dead letter is for the ops team to resolve, not a reason to stop answering."""
        workers: Workers = request.app.state.workers
        async with request.app.state.pool.acquire() as conn:
            dead = await conn.fetchval(f'SELECT count(*) FROM "{parts.name}".dead_letters')
            unresolved = await consumer.unresolved_dead_letters(conn, parts.name)
        if unresolved and not serving:
            response.status_code = 503
        return {
            "status": "degraded" if unresolved else "ok",
            "unresolved_dead_letters": [
                {"id": d["id"], "consumer": d["consumer"], "subject": d["subject"], "error": d["error"][:500]}
                for d in unresolved
            ],
            "relay_published": workers.relay.published,
            "relay_lag": await asyncio.to_thread(workers.relay.lag),  # null while another replica relays
            "consumers": {
                c.name: {"processed": c.processed, "dead_lettered": c.dead_lettered, "lag": c.lag()}
                for c in workers.consumers
            },
            "dead_letters": dead,
        }

    telemetry.instrument_app(app)
    return app


def workers_only(parts: ServiceParts, settings: Settings, *, relay: bool, consumers: bool) -> Callable[[], object]:
    """Run a service's relay and/or consumers without its API (`dudao relay registry`)."""
    owner = settings

    async def main() -> None:
        telemetry.setup(parts.name)
        settings = await asyncio.to_thread(roles.provision, owner, parts.name, parts.application)
        application = await asyncio.to_thread(parts.application, settings)
        pool = await open_pool(settings.database_url, 4)
        await prepare_tables(pool, parts)
        workers = Workers(settings, parts, application, pool, Clock(settings.today))
        workers.start(relay=relay, consumers=consumers)
        try:
            await asyncio.gather(*workers.tasks)
        finally:
            await workers.close()
            await pool.close()

    return main
