"""Assembles the registry service: API, GraphQL subgraph, relay and the directory projections."""

from __future__ import annotations

from fastapi import FastAPI

from dudao import bus
from dudao.config import Settings
from dudao.links import Crossings
from dudao.parts import Projection, ReactionSpec, ServiceParts
from dudao.service import create_app
from services.registry import api, graphql, projections, reactions
from services.registry.application import Registry

PARTS = ServiceParts(
    name="registry",
    application=Registry,
    ensure_tables=projections.ensure_tables,
    projections=[
        Projection(
            name="directory",
            stream=bus.view_stream("registry"),
            filter_subject=bus.service_subjects("registry"),
            handler=projections.project,
            tables=projections.TABLES,
            version=4,  # v3: which instance each policy profile comes from (decision 011); v4: in version order (issue 18)
            own_rows=True,
            remembered=True,  # staffing (decision 044)
        )
    ],
    reactions=[
        ReactionSpec(
            name="member-unit-participation",
            stream=bus.stream_name("inspection"),
            filter_subject=bus.event_subjects("inspection", "Activity.MemberUnitsParticipated"),
            event_types=frozenset({"Activity.MemberUnitsParticipated"}),
            react=reactions.count_member_unit_participation,
        ),
        ReactionSpec(
            name="sanctions",
            stream=bus.stream_name("accountability"),
            filter_subject=bus.event_subjects("accountability", "AccountabilityDecision.SanctionImposed"),
            event_types=frozenset({"AccountabilityDecision.SanctionImposed"}),
            react=reactions.apply_sanction,
        ),
    ],
    # Staffing and coverage roll up from schools, inspectors (their filings) and zones; profiles go both ways.
    crossings=Crossings(
        upward=("School", "Inspector", "Zone", "Township", "PolicyProfile"), downward=("PolicyProfile",)
    ),
    on_start=Registry.install_shipped_profiles,
)


def build(settings: Settings | None = None) -> FastAPI:
    return create_app(
        PARTS, settings or Settings.from_env(), [api.router, graphql.router], title="Dudao registry (督学与学校名录)"
    )
