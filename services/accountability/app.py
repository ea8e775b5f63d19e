"""Assembles the accountability service: API, relay, cases read model, profile copy, and the opening reaction."""

from __future__ import annotations

from fastapi import FastAPI

from dudao import bus
from dudao.config import Settings
from dudao.service import Projection, ReactionSpec, ServiceParts, create_app
from services.accountability import api, projections, reactions
from services.accountability.application import Accountability

PARTS = ServiceParts(
    name="accountability",
    application=Accountability,
    ensure_tables=projections.ensure_tables,
    projections=[
        Projection(
            name="registry-copy", stream=bus.stream_name("registry"), filter_subject=bus.service_subjects("registry"),
            handler=projections.copy_registry, tables=projections.COPY_TABLES,
        ),
        Projection(
            name="cases", stream=bus.stream_name("accountability"), filter_subject=bus.service_subjects("accountability"),
            handler=projections.project, tables=projections.CASE_TABLES,
        ),
    ],  # fmt: skip
    reactions=[
        ReactionSpec(
            name="open-case", stream=bus.stream_name("inspection"), filter_subject=bus.service_subjects("inspection"),
            event_types=frozenset({"Activity.ReportIssued"}), react=reactions.open_rectification_case,
        )
    ],  # fmt: skip
)


def build(settings: Settings | None = None) -> FastAPI:
    return create_app(PARTS, settings or Settings.from_env(), [api.router], title="Dudao accountability (结果运用与问责)")
