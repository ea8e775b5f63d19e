"""What every service process shares: assembly (API, relay, consumers), command envelopes, ETags, cursors."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

import asyncpg
from fastapi import Depends, FastAPI, Request, Response
from pydantic import BaseModel

from dudao import consumer, http_errors, links, metrics, origins, roles, routes, telemetry
from dudao.auth import Principal, TokenVerifier
from dudao.clock import Clock
from dudao.commands import Caller
from dudao.config import Settings
from dudao.consumer import Consumer, Handler, ProjectionEffect, Reaction, ReactionEffect
from dudao.errors import InvalidInput
from dudao.events import Envelope
from dudao.links import Crossings, LinkKeeper
from dudao.relay import Relay
from dudao.store import ServiceApplication

log = logging.getLogger("dudao.service")


@dataclass
class Projection:
    """A read model fed by a durable consumer: its name, the subjects it follows, how it applies events.

    Raise `version` whenever the tables or the handler change meaning: at the next start the
    tables are dropped and rebuilt by a fresh durable consumer that reads the stream from its start.
    """

    name: str
    stream: str
    filter_subject: str
    handler: Handler
    tables: tuple[str, ...] = ()
    version: int = 1
    ordered: bool = False  # events strictly in stream order, also after a retry, for readers that follow positions
    ddl: str = (
        ""  # CREATE ... IF NOT EXISTS for its tables, for the kernel's own read models (the service's: ensure_tables)
    )

    def consumer_name(self, service: str) -> str:
        return f"{service}-{self.name}-v{self.version}"


@dataclass
class ReactionSpec:
    """What this service does when an event it follows arrives (e.g. a term ended → plan a supervision)."""

    name: str
    stream: str
    filter_subject: str
    event_types: frozenset[str]
    react: Reaction


@dataclass
class ServiceParts:
    """The pieces one service contributes to its process."""

    name: str
    application: Callable[[Settings], ServiceApplication]
    ensure_tables: Callable[[asyncpg.Pool], object]
    projections: list[Projection] = field(default_factory=list)
    reactions: list[ReactionSpec] = field(default_factory=list)
    crossings: Crossings = field(default_factory=Crossings)  # what travels to the instances above and below
    on_start: Callable[[ServiceApplication], object] | None = None  # e.g. install shipped reference data
    # Other background loops (e.g. a deadline sweeper), run with the consumers.
    background: list[Callable[[Settings, ServiceApplication, asyncpg.Pool, Clock], Runner]] = field(
        default_factory=list
    )


def projections_of(parts: ServiceParts, jurisdiction: str | None = None) -> list[Projection]:
    """The service's read models and those the kernel keeps for every service (the change feed, the audit). With the
    instance's `jurisdiction`, as they run: each handler applies an event under the id its origin keeps here
    (`dudao.origins`)."""
    from dudao import audit, changes  # they build on this module

    projections = [*parts.projections, changes.projection(parts.name), audit.projection(parts.name)]
    if jurisdiction is None:
        return projections
    return [replace(p, handler=origins.kept_apart(p.handler, parts.name, jurisdiction)) for p in projections]


class Runner(Protocol):
    async def run(self, stop: asyncio.Event) -> None: ...


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
                effect=ProjectionEffect(
                    pool, parts.name, p.consumer_name(parts.name), p.stream, p.handler, ordered=p.ordered
                ),
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
        await conn.execute(f"LOCK TABLE {schema}.projection_versions")  # two replicas starting: one rebuilds
        for p in projections_of(parts):
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
    from dudao import audit, erasure  # they build on this module

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
        app.state.pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=settings.pg_read_pool)
        await prepare_tables(app.state.pool, parts)
        app.state.workers = Workers(settings, parts, app.state.application, app.state.pool, app.state.clock)
        if settings.run_workers:
            app.state.workers.start()
        try:
            yield
        finally:
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


# --- commands over HTTP -------------------------------------------------------------------------

_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")
_ETAG = re.compile(r'^(?:W/)?"?(\d{1,9})"?$')
ID_NAMESPACE = uuid.UUID("6f3c1a52-9d0e-4c7b-8a51-2f8e0d6b9c11")


def request_hash(request: Request, body: BaseModel | None) -> str:
    """What a retry must repeat exactly: method, path and body."""
    text = f"{request.method} {request.url.path}\n{body.model_dump_json() if body is not None else ''}"
    return hashlib.sha256(text.encode()).hexdigest()


def new_aggregate_id(request: Request, principal: Principal, kind: str) -> uuid.UUID:
    """A fresh id, or with `Idempotency-Key` the same id every time, so a retry cannot make a second aggregate. The
    minting instance is part of it: the same caller and key at another instance make another id (decision 027)."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return uuid.uuid4()
    if not _KEY.match(key):
        raise InvalidInput(
            "Idempotency-Key must be 1 to 200 visible ASCII characters",
            field="Idempotency-Key",
            rule="idempotency_key_format",
        )
    return uuid.uuid5(ID_NAMESPACE, f"{request.app.state.settings.jurisdiction}:{kind}:{principal.sub}:{key}")


def command_envelope(request: Request, principal: Principal, body: BaseModel | None = None) -> Envelope:
    """The envelope for a command arriving over HTTP: caller, scope, correlation and the current trace."""
    return Envelope.for_request(
        actor=principal.sub,
        jurisdiction=principal.jur,
        request_id=request.headers.get("x-request-id") or None,
        correlation_id=request.headers.get("x-correlation-id") or None,
        trace=telemetry.current_trace_headers(),
        idempotency_key=request.headers.get("idempotency-key", ""),
        request_hash=request_hash(request, body),
    )


def expected_version(request: Request) -> int | None:
    """`If-Match: "3"` -> 3; absent -> None (unconditional)."""
    value = request.headers.get("if-match")
    if value is None or value.strip() == "*":
        return None
    match = _ETAG.match(value.strip())
    if not match:
        raise InvalidInput('If-Match must be an ETag such as "3"', field="If-Match", rule="etag_format")
    return int(match.group(1))


def caller(request: Request, principal: Principal, body: BaseModel | None = None, *, creates: str = "") -> Caller:
    """The caller of a command arriving over HTTP: its principal, envelope, `If-Match` and, when the command
    `creates` an aggregate of that kind, the id it makes."""
    return Caller(
        principal=principal,
        envelope=command_envelope(request, principal, body),
        expected_version=expected_version(request),
        new_id=new_aggregate_id(request, principal, creates) if creates else None,
    )


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'


def encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"p": position}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, field_name: str = "cursor") -> int:
    """An opaque cursor back to the position it stands for; garbage is a 422 naming the field."""
    if not cursor:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        position = data["p"]
        if not isinstance(position, int) or isinstance(position, bool) or position < 0:
            raise ValueError(position)
        return position
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput(
            "cursor is not one this service gave out; start again without it", field=field_name, rule="cursor_format"
        ) from None


def page_cursor(rows: list[dict], limit: int) -> str | None:
    return encode_cursor(rows[-1]["position"]) if len(rows) == limit else None


def workers_only(parts: ServiceParts, settings: Settings, *, relay: bool, consumers: bool) -> Callable[[], object]:
    """Run a service's relay and/or consumers without its API (`dudao relay registry`)."""
    owner = settings

    async def main() -> None:
        telemetry.setup(parts.name)
        settings = await asyncio.to_thread(roles.provision, owner, parts.name, parts.application)
        application = await asyncio.to_thread(parts.application, settings)
        pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=4)
        await prepare_tables(pool, parts)
        workers = Workers(settings, parts, application, pool, Clock(settings.today))
        workers.start(relay=relay, consumers=consumers)
        try:
            await asyncio.gather(*workers.tasks)
        finally:
            await workers.close()
            await pool.close()

    return main
