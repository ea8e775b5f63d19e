"""Framework routes: list and read frameworks and their versions, publish a new version, open a collection period."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import Field

from dudao.auth import INSTANCE_OFFICE, SHARED, Principal, Role, require
from dudao.routes import Strict, Text, caller, set_etag
from services.monitoring.api.common import app_of, now, reading
from services.monitoring.commands import OpenPeriod, PublishFramework
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
    command = PublishFramework(definition=body.definition, note=body.note, now=now(request))
    framework = await asyncio.to_thread(app_of(request).publish_framework, command, caller(request, principal, body))
    set_etag(response, framework.version)
    return {"code": framework.code, "version": framework.current}


@router.post("/v1/frameworks/{code}/periods", status_code=201)
async def open_period(
    code: str, body: PeriodOpen, request: Request, response: Response, principal: InstanceOffice
) -> dict[str, Any]:
    """Open a collection period (填报周期) under the framework's current version, which its results keep."""
    command = OpenPeriod(code=code, period=body.period, now=now(request))
    framework = await asyncio.to_thread(app_of(request).open_period, command, caller(request, principal, body))
    set_etag(response, framework.version)
    return {"code": code, "period": body.period, "version": framework.periods[body.period]}
