"""Assembles the monitoring service: API, relay, read models (frameworks, submissions, results) and the
operational figures it keeps from the other services' events."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import FastAPI

from dudao import bus
from dudao.config import Settings
from dudao.links import Crossings
from dudao.parts import Projection, ReactionSpec, ServiceParts
from dudao.service import create_app
from services.monitoring import api, graphql, reactions
from services.monitoring.application import Monitoring
from services.monitoring.projections import areas, collection, operations, tables


def _operations(source: operations.Source) -> Projection:
    """One read model per other service's stream, each owning its tables (the registry's also keeps the schools
    that collection expects to submit)."""
    return Projection(
        name=f"operations-{source.service}",
        stream=bus.view_stream(source.service),
        filter_subject=bus.service_subjects(source.service),
        handler=source.handler,
        tables=source.tables,
        version=source.version,
        own_rows=True,  # each event's rows are its aggregate's: a school, an inspector, a visit, a case, a measure
    )


OWN = bus.view_stream("monitoring"), bus.service_subjects("monitoring")

PARTS = ServiceParts(
    name="monitoring",
    application=Monitoring,
    ensure_tables=tables.ensure_tables,
    projections=[
        Projection(
            name="collection",
            stream=OWN[0],
            filter_subject=OWN[1],
            handler=collection.project_collection,
            settle=areas.settle_results,
            tables=collection.COLLECTION_TABLES,
            version=5,  # v2: in version order; v3: an area without counted units has no verdict (issue 18); v4: area inputs
            # kept; v5: each jurisdiction's part kept (area_parts)
            own_rows=True,  # a submission's, level's or assignment's rows are its own; an adopted framework version's
            # row is the upper's, same definition, a batch later; results are settled after the writes (decision 040)
            remembered=True,  # the start page's verdict tallies (decision 044)
        ),
        *[_operations(source) for source in operations.SOURCES],
    ],
    reactions=[
        ReactionSpec(
            name="adopt-upper-frameworks",
            stream=bus.view_stream("monitoring"),
            # the upper's frameworks only, not every submission of the instances below (decision 052)
            filter_subject=bus.aggregate_subjects("*", "monitoring", "Framework"),
            event_types=frozenset({"Framework.Published", "Framework.VersionPublished", "Framework.PeriodOpened"}),
            react=reactions.adopt_upper_framework,
        ),
        ReactionSpec(
            name="apply-upper-acceptances",
            stream=bus.view_stream("monitoring"),
            filter_subject=bus.aggregate_subjects("*", "monitoring", "UpperAcceptance"),
            event_types=frozenset(
                {"UpperAcceptance.Accepted", "UpperAcceptance.AcceptedAgain", "UpperAcceptance.Unaccepted"}
            ),
            react=reactions.apply_upper_acceptance,
        ),
    ],
    # Submissions and level approvals roll up; framework versions, and acceptances of lower instances' levels, come
    # down and are adopted or applied (decisions 011, 020).
    crossings=Crossings(upward=("Submission", "LevelApproval"), downward=("Framework", "UpperAcceptance")),
    on_start=lambda app: app.install_shipped_frameworks(datetime.now(UTC)),
)


def build(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    return create_app(PARTS, settings, [api.router, graphql.router], title="Dudao monitoring (评估监测)")
