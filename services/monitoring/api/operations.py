"""Operational monitoring routes: the figures an office watches, for its jurisdiction and each one directly below."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from dudao.routes import OfficeReader, scope
from services.monitoring.projections.operations_figures import operations_rollup

router = APIRouter(prefix="/v1", tags=["operations"])


@router.get("/operations")
async def read_operations(request: Request, principal: OfficeReader, jurisdiction: str | None = None) -> dict[str, Any]:
    """This month's routine-visit coverage, rectification (items, on-time rate, overdue, notices), staffing compliance
    (R1–R4), interviews and circulars by status: over the jurisdiction's whole subtree (the caller's own by default),
    and in `children` the same figures for each jurisdiction directly below it that has any."""
    code = scope(principal, jurisdiction)
    async with request.app.state.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        return await operations_rollup(conn, code, request.app.state.clock.today())
