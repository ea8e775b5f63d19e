"""Assembles the inspection service: API, relay, its copy of the registry, its read models and reactions."""

from __future__ import annotations

from fastapi import FastAPI

from dudao import bus
from dudao.config import Settings
from dudao.links import Crossings
from dudao.parts import Projection, ReactionSpec, ServiceParts
from dudao.service import create_app
from services.inspection import api, graphql, projections, reactions
from services.inspection.application import Inspection
from services.inspection.projections import registry_copy

PARTS = ServiceParts(
    name="inspection",
    application=Inspection,
    ensure_tables=projections.ensure_tables,
    projections=[
        Projection(
            name="registry-copy",
            stream=bus.view_stream("registry"),
            filter_subject=bus.service_subjects("registry"),
            handler=registry_copy.copy,
            tables=projections.COPY_TABLES,
            version=3,  # v2: which instance each policy profile comes from (decision 011); v3: in version order (issue 18)
            own_rows=True,
            remembered=True,  # routine coverage (decision 044)
        ),
        Projection(
            name="views",
            stream=bus.view_stream("inspection"),
            filter_subject=bus.service_subjects("inspection"),
            handler=projections.project_own,
            tables=projections.OWN_TABLES,
            version=3,  # v2: each aggregate's events in version order (issue 18); v3: wider redaction (issue 19)
            remembered=True,  # routine coverage (decision 044)
        ),
    ],
    reactions=[
        ReactionSpec(
            name="principal-term-end",
            stream=bus.stream_name("registry"),
            filter_subject=bus.event_subjects("registry", "School.PrincipalTermEnded"),
            event_types=frozenset({"School.PrincipalTermEnded"}),
            react=reactions.plan_principal_term_end,
        )
    ],
    # Plans, activities (reports, grades, major matters) and routine visits roll up; upper levels' plans come down.
    crossings=Crossings(upward=("WorkPlan", "Activity", "RoutineVisit"), downward=("WorkPlan",)),
)


def build(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    app = create_app(PARTS, settings, [api.router, graphql.router], title="Dudao inspection (督导活动)")
    return app
