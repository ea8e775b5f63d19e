"""Framework routes: list and read frameworks and their versions, publish a new version, open a collection period."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import Field

from dudao.auth import INSTANCE_OFFICE, SHARED, Principal, Role, require
from dudao.errors import Forbidden
from dudao.routes import Strict, Text
from dudao.scope import check_scope
from dudao.service import command_envelope, expected_version, set_etag
from services.monitoring.api.common import app_of, now, reading
from services.monitoring.domain.framework import check_period
from services.monitoring.projections import reads

router = APIRouter(tags=["frameworks"])
# A framework is the reference every office, unit and agency works to: any signed-in caller reads it.
FrameworkReader = Annotated[Principal, Depends(require(target="the framework", reach=SHARED))]
InstanceOffice = Annotated[
    Principal, Depends(require(Role.admin, target="the instance's frameworks and periods", reach=INSTANCE_OFFICE))
]


class FrameworkPublish(Strict):
    """A framework document (see services/monitoring/frameworks/*.json) and why this version is published."""

    definition: dict[str, Any]
    note: Text


class PeriodOpen(Strict):
    period: str = Field(description="a school year, e.g. 2025-2026")


def _instance_office(request: Request, principal: Principal) -> None:
    """Frameworks belong to the instance: its own office (not a lower one) publishes them and opens periods."""
    home = request.app.state.settings.jurisdiction
    check_scope(principal, home)  # an office outside the instance's place is out of scope before anything else
    if principal.jur != home:
        raise Forbidden(
            f"only the office of {home} publishes frameworks and opens periods here",
            field="jur",
            rule="instance_office_only",
        )


@router.get("/v1/frameworks")
async def list_frameworks(request: Request, principal: FrameworkReader) -> dict[str, Any]:
    async with reading(request) as conn:
        found = await reads.frameworks(conn)
    return {"items": [{k: v for k, v in f.items() if k != "definition"} for f in found]}


@router.get("/v1/frameworks/{code}")
async def read_framework(
    code: str, request: Request, principal: FrameworkReader, version: int | None = None
) -> dict[str, Any]:
    """A framework with its versions and periods, and the definition of `version` (the current one by default)."""
    async with reading(request) as conn:
        return await reads.framework(conn, code, version)


@router.post("/v1/frameworks", status_code=201)
async def publish_framework(
    body: FrameworkPublish, request: Request, response: Response, principal: InstanceOffice
) -> dict[str, Any]:
    """Publish a framework or a new version of one (an event); periods already open keep their version."""
    _instance_office(request, principal)
    framework = await asyncio.to_thread(
        app_of(request).publish_framework,
        body.definition,
        body.note,
        command_envelope(request, principal, body),
        expected_version(request),
        now(request),
    )
    set_etag(response, framework.version)
    return {"code": framework.code, "version": framework.current}


@router.post("/v1/frameworks/{code}/periods", status_code=201)
async def open_period(
    code: str, body: PeriodOpen, request: Request, response: Response, principal: InstanceOffice
) -> dict[str, Any]:
    """Open a collection period (填报周期) under the framework's current version, which its results keep."""
    _instance_office(request, principal)
    check_period(body.period)
    framework = await asyncio.to_thread(
        app_of(request).open_period, code, body.period, command_envelope(request, principal, body), now(request)
    )
    set_etag(response, framework.version)
    return {"code": code, "period": body.period, "version": framework.periods[body.period]}
