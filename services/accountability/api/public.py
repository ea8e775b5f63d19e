"""Public reads (no token): units' rectification statements and published outcomes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from dudao import jurisdiction as divisions
from dudao.auth import public
from dudao.cursors import decode_cursor, page_cursor
from dudao.errors import InvalidInput
from services.accountability.api.common import jsonable, page_size
from services.accountability.projections import case_page, public_outcomes

router = APIRouter(
    prefix="/v1/public", tags=["public"], dependencies=[Depends(public("published outcomes and statements"))]
)


def _code(jurisdiction: str) -> str:
    if not divisions.is_valid_code(jurisdiction):
        raise InvalidInput(f"{jurisdiction!r} is not a division code", field="jurisdiction", rule="code_format")
    return jurisdiction


@router.get("/statements")
async def statements(request: Request, jurisdiction: str, cursor: str | None = None, limit: int = 50) -> dict[str, Any]:
    """Units' public rectification statements (整改情况向社会公布)."""
    within, limit = _code(jurisdiction), page_size(limit)
    async with request.app.state.pool.acquire() as conn:
        rows = await case_page(conn, within=within, unit_id=None, status=None, after=decode_cursor(cursor), limit=limit)
    shown = [
        {
            "unit_name": r["unit_name"],
            "activity_title": r["activity_title"],
            "jurisdiction": r["jurisdiction"],
            **r["statement"],
        }
        for r in rows
        if r["statement"]
    ]
    return {"items": shown, "next_cursor": page_cursor(rows, limit)}


@router.get("/outcomes")
async def outcomes(request: Request, jurisdiction: str, cursor: str | None = None, limit: int = 50) -> dict[str, Any]:
    """Published circulars, accountability decisions and commendations (结果向社会公布)."""
    within, limit = _code(jurisdiction), page_size(limit)
    async with request.app.state.pool.acquire() as conn:
        rows = await public_outcomes(conn, within=within, after=decode_cursor(cursor), limit=limit)
    return {"items": [jsonable(r) for r in rows], "next_cursor": page_cursor(rows, limit)}
