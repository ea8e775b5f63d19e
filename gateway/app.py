"""Assembles the gateway: GraphiQL and the composed schema at /graphql, the caller's token passed through."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

from fastapi import FastAPI
from fastapi.requests import HTTPConnection

from dudao import http_errors, subgraph, telemetry
from dudao.auth import TokenVerifier
from dudao.clock import Clock
from dudao.config import Settings
from gateway import limits, national
from gateway.live import Feed
from gateway.loaders import request_context
from gateway.remembered import MarksAsker, RememberedAnswers
from gateway.schema import schema
from gateway.subgraphs import SubgraphClient


async def _context(request: HTTPConnection) -> dict[str, Any]:  # a WebSocket for subscriptions
    return request_context(request)


def build(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    telemetry.setup("gateway")
    urls = {name: settings.service_url(name) for name in ("registry", "inspection", "accountability", "monitoring")}
    subgraphs = SubgraphClient(urls, settings.subgraph_timeout_s)
    live = Feed(settings.nats_url)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        live.start()
        try:
            yield
        finally:
            await live.close()
            await subgraphs.close()

    app = FastAPI(title="Dudao gateway (督导)", version="1", lifespan=lifespan)
    app.state.subgraphs = subgraphs
    app.state.live, app.state.verifier = live, TokenVerifier(settings)
    app.state.clock = Clock(settings.today)  # what "this month" is on the dashboard
    http_errors.install(app)
    app.include_router(subgraph.graphql_router(schema, _context, limits.REQUEST))
    app.include_router(national.router)
    app.add_middleware(  # inside the access log and the tracing (decision 047)
        RememberedAnswers,
        marks=MarksAsker(live.connection, settings.jurisdiction),
        services=sorted(urls),
        verifier=app.state.verifier,
        clock=lambda: app.state.clock,
        route=SimpleNamespace(path="/graphql"),  # what the access log names an answer from memory by
    )

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    telemetry.instrument_app(app)
    return app
