"""Result routes: a jurisdiction's results as recorded (per unit, per county, rolled up above), and the same
data recomputed under another framework version beside them (what-if)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from dudao.routes import OfficeReader
from dudao.scope import unit_only
from services.monitoring.api.collection import CollectionReader, place_readable
from services.monitoring.api.common import reading
from services.monitoring.domain.framework import check_period
from services.monitoring.projections import reads

router = APIRouter(tags=["results"])


@router.get("/v1/results/{framework}/{period}")
async def results(
    framework: str, period: str, request: Request, principal: CollectionReader, jurisdiction: str | None = None
) -> dict[str, Any]:
    """Each unit's indicator values and verdict, each county's CVs and verdict, and the whole area's roll-up.

    Every result names the framework version it was computed under and the submission versions it used.
    """
    check_period(period)
    code = await place_readable(request, principal, framework, period, jurisdiction)
    async with reading(request) as conn:
        found = await reads.results(conn, framework, period, code)
    if (own := unit_only(principal)) is not None:  # a unit sees the area's figures and its own values, not its peers'
        found["units"] = [u for u in found["units"] if u["unit_id"] == own]
    return found


@router.get("/v1/results/{framework}/{period}/what-if")
async def what_if(
    framework: str,
    period: str,
    version: Annotated[int, Query(ge=1, le=2**31 - 1)],
    request: Request,
    principal: OfficeReader,
    jurisdiction: str | None = None,
) -> dict[str, Any]:
    """The recorded results beside the same data under framework version `version`; nothing is recorded. It
    recomputes every unit's data, so it is the offices' (a unit or an agency is refused by role)."""
    check_period(period)
    code = await place_readable(request, principal, framework, period, jurisdiction)
    async with reading(request) as conn:
        return await reads.what_if(conn, framework, period, code, version)
