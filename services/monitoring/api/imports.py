"""Import routes: a school-per-row spreadsheet checked cell by cell (dry run), then entered as drafts; and the
template an office fills in."""

from __future__ import annotations

import asyncio
from dataclasses import asdict, replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from dudao import jurisdiction as divisions
from dudao.auth import Principal, Role, require
from dudao.errors import InvalidInput, NotFound, Problem
from dudao.routes import caller, scope, uploaded_rows
from services.monitoring import importer
from services.monitoring.api.common import app_of, now, reading
from services.monitoring.commands import EnterValues
from services.monitoring.domain.collection import home_level
from services.monitoring.domain.compute import applies
from services.monitoring.domain.definition import Definition
from services.monitoring.domain.framework import check_period
from services.monitoring.projections import reads
from services.monitoring.projections.areas import definition_at

router = APIRouter(tags=["imports"])
Office = Annotated[Principal, Depends(require(Role.admin))]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def _setting(
    request: Request, principal: Principal, framework: str, period: str, jurisdiction: str | None
) -> tuple[Definition, list[dict]]:
    check_period(period)
    code = scope(principal, jurisdiction)
    async with reading(request) as conn:
        version = await reads.period_version(conn, framework, period)
        if version is None:
            raise NotFound(f"{framework} has no collection open for {period}", field="period", rule="period_not_open")
        definition = await definition_at(conn, framework, version)
        rows = await conn.fetch(
            "SELECT id::text, code, name, stage, locality, jurisdiction FROM monitoring.school_copy WHERE jurisdiction LIKE ANY($1::text[]) ORDER BY name",
            divisions.patterns(code),
        )
    return definition, [dict(r) for r in rows if applies(definition, r["stage"])]


@router.get("/v1/imports/{framework}/{period}/template")
async def template(
    framework: str, period: str, request: Request, principal: Office, jurisdiction: str | None = None
) -> Response:
    """The sheet to fill in: the framework's Chinese headers and a row per school expected to submit."""
    definition, schools = await _setting(request, principal, framework, period, jurisdiction)
    body = await asyncio.to_thread(importer.template, definition, schools)
    filename = f"{framework}-{period}.xlsx"
    return Response(body, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.post("/v1/imports/{framework}/{period}")
async def import_sheet(
    framework: str,
    period: str,
    request: Request,
    principal: Office,
    dry_run: bool = True,
    jurisdiction: str | None = None,
) -> dict[str, Any]:
    """Check every row of an .xlsx (or .csv) sent as the body; without `dry_run=false` nothing is entered.

    Any bad cell makes the real import a 422 listing them all, with nothing entered.
    """
    definition, schools = await _setting(request, principal, framework, period, jurisdiction)
    rows = await uploaded_rows(request)
    good, errors = importer.check(definition, rows, schools)
    report: dict[str, Any] = {
        "rows": len(rows),
        "good": len(good),
        "errors": [asdict(e) for e in errors],
        "dry_run": dry_run,
    }
    if errors and not dry_run:
        raise InvalidInput(
            f"{len(errors)} cell(s) are wrong; nothing was imported", field="file", rule="bad_cells", **report
        )
    if dry_run:
        return report
    imported, failed = [], []
    who = replace(caller(request, principal), expected_version=None)  # each row is entered unconditionally
    for row in good:
        unit = {
            "kind": "school",
            "id": row.school["id"],
            "name": row.school["name"],
            "jurisdiction": row.school["jurisdiction"],
            "stage": row.school["stage"],
            "locality": row.school["locality"],
        }
        try:
            command = EnterValues(
                framework=framework, period=period, unit=unit, values=row.values, now=now(request), via="import"
            )
            submission = await asyncio.to_thread(app_of(request).enter_values, command, who)
            imported.append(
                {
                    "row": row.row,
                    "unit_id": unit["id"],
                    "version": submission.version,
                    "approving_level": home_level(unit["jurisdiction"]),
                }
            )
        except Problem as e:  # e.g. a county that approved meanwhile: the rest still go in, this row says why not
            failed.append({"row": row.row, "unit_id": unit["id"], "rule": e.rule, "detail": e.detail})
    return report | {"imported": imported, "failed": failed}
