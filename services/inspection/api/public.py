"""Public routes (no token): published supervision reports, personal data removed."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from dudao import jurisdiction as divisions
from dudao.auth import public
from dudao.cursors import decode_cursor, page_cursor
from dudao.errors import InvalidInput
from services.inspection.domain.activity import Grade
from services.inspection.domain.activity_terms import ActivityKind, FindingArea, Severity
from services.inspection.projections import activities

router = APIRouter(prefix="/v1/public", tags=["public"], dependencies=[Depends(public("published reports"))])


class PublicReport(BaseModel):
    activity_id: UUID
    jurisdiction: str
    kind: str
    kind_label_zh: str
    title: str
    target_name: str
    period: str
    grade: str | None
    grade_label_zh: str | None
    summary: str
    findings: list[dict[str, Any]]
    published_at: datetime


class PublicReportPage(BaseModel):
    items: list[PublicReport]
    next_cursor: str | None


def in_chinese(report: dict[str, Any]) -> dict[str, Any]:
    """What the public reads beside each code (issue 19): the kind, the grade, each finding's area and severity."""
    return {
        "kind_label_zh": ActivityKind(report["kind"]).label_zh,
        "grade_label_zh": Grade(report["grade"]).label_zh if report["grade"] else None,
        "findings": [
            f
            | {"area_label_zh": FindingArea(f["area"]).label_zh, "severity_label_zh": Severity(f["severity"]).label_zh}
            for f in report["findings"]
        ],
    }


@router.get("/reports", response_model=PublicReportPage)
async def public_reports(
    request: Request, jurisdiction: str, cursor: str | None = None, limit: int = 50
) -> PublicReportPage:
    """Published supervision reports (督导报告) in a jurisdiction's subtree; names, IDs and phone numbers removed."""
    if not divisions.is_valid_code(jurisdiction):
        raise InvalidInput(f"{jurisdiction!r} is not a division code", field="jurisdiction", rule="code_format")
    if not 1 <= limit <= 200:
        raise InvalidInput("limit must be between 1 and 200", field="limit", rule="page_size")
    async with request.app.state.pool.acquire() as conn:
        rows = await activities.public_report_page(conn, within=jurisdiction, after=decode_cursor(cursor), limit=limit)
    items = [
        PublicReport(**{k: v for k, v in r.items() if k not in ("position", "findings")}, **in_chinese(r)) for r in rows
    ]
    return PublicReportPage(items=items, next_cursor=page_cursor([{"position": r["position"]} for r in rows], limit))
