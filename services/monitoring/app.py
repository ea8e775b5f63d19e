"""Assembles the monitoring service: API, relay, read models (frameworks, submissions, results) and the
operational figures it keeps from the other services' events."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import FastAPI

from dudao import bus
from dudao.config import Settings
from dudao.service import Projection, ServiceParts, create_app
from services.monitoring import api, graphql
from services.monitoring.application import Monitoring
from services.monitoring.projections import collection, operations, tables


def _operations(source: operations.Source) -> Projection:
    """One read model per other service's stream, each owning its tables (the registry's also keeps the schools
    that collection expects to submit)."""
    return Projection(
        name=f"operations-{source.service}", stream=bus.stream_name(source.service),
        filter_subject=bus.service_subjects(source.service), handler=source.handler, tables=source.tables,
        version=source.version,
    )  # fmt: skip


OWN = bus.stream_name("monitoring"), bus.service_subjects("monitoring")

PARTS = ServiceParts(
    name="monitoring",
    application=Monitoring,
    ensure_tables=tables.ensure_tables,
    projections=[
        Projection(
            name="collection", stream=OWN[0], filter_subject=OWN[1], handler=collection.project_collection,
            tables=collection.COLLECTION_TABLES,
        ),
        *[_operations(source) for source in operations.SOURCES],
    ],  # fmt: skip
    on_start=lambda app: app.install_shipped_frameworks(datetime.now(UTC)),
)


def build(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    return create_app(PARTS, settings, [api.router, graphql.router], title="Dudao monitoring (评估监测)")
