"""Assembles the accountability service: API, relay, read models, copies of the registry, the opening
reaction and the deadline sweeper."""

from __future__ import annotations

from fastapi import FastAPI

from dudao import bus
from dudao.config import Settings
from dudao.links import Crossings
from dudao.parts import Projection, ReactionSpec, ServiceParts
from dudao.service import create_app
from services.accountability import api, graphql, projections, reactions
from services.accountability.application import Accountability
from services.accountability.deadlines import DeadlineSweeper

OWN = bus.view_stream("accountability"), bus.service_subjects("accountability")

PARTS = ServiceParts(
    name="accountability",
    application=Accountability,
    ensure_tables=projections.ensure_tables,
    projections=[
        Projection(
            name="registry-copy",
            stream=bus.view_stream("registry"),
            filter_subject=bus.service_subjects("registry"),
            handler=projections.copy_registry,
            tables=projections.COPY_TABLES,
            version=4,  # v4: in version order (issue 18)
            own_rows=True,
        ),
        Projection(
            name="cases",
            stream=OWN[0],
            filter_subject=OWN[1],
            handler=projections.project_case,
            tables=projections.CASE_TABLES,
            version=4,  # v3: in version order; v4: statements redacted (issue 19)
            remembered=True,  # the start page's figures (decision 044)
        ),
        Projection(
            name="measures",
            stream=OWN[0],
            filter_subject=OWN[1],
            handler=projections.project_measure,
            tables=projections.MEASURE_TABLES,
            version=3,  # v2: in version order; v3: public text redacted (issue 19)
            remembered=True,  # the start page's figures (decision 044)
        ),
    ],
    reactions=[
        ReactionSpec(
            name="open-case",
            stream=bus.stream_name("inspection"),
            filter_subject=bus.event_subjects("inspection", "Activity.ReportIssued"),
            event_types=frozenset({"Activity.ReportIssued"}),
            react=reactions.open_rectification_case,
        )
    ],
    # Every outcome rolls up: cases with their items and notices, interviews, circulars, decisions, commendations.
    crossings=Crossings(
        upward=("RectificationCase", "Interview", "Circular", "AccountabilityDecision", "Commendation")
    ),
    background=[DeadlineSweeper],
)


def build(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    app = create_app(PARTS, settings, [api.router, graphql.router], title="Dudao accountability (结果运用与问责)")
    return app
