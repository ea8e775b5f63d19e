"""Importing an office's school or inspector list over HTTP: checked row by row, then recorded all or nothing."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter, Request

from dudao import jurisdiction as divisions
from dudao.errors import InvalidInput
from dudao.routes import scope, uploaded_rows
from dudao.scope import check_scope
from dudao.service import command_envelope
from services.registry import importer
from services.registry.api.common import Admin, now, registry

router = APIRouter(prefix="/v1/imports", tags=["imports"])


@router.post("/{kind}")
async def import_list(
    kind: Literal["schools", "inspectors"],
    request: Request,
    principal: Admin,
    dry_run: bool = True,
    jurisdiction: str | None = None,
) -> dict[str, Any]:
    """Check every row of an .xlsx (or a .csv, sent as `text/csv`) sent as the body, by the sheet's rules and then
    against the registry (every row inside `jurisdiction`, by default yours; what is already recorded); with
    `dry_run=false`, record every row in one transaction. Any bad row makes the real import a 422 listing them all (in
    Chinese, with English beside), with nothing recorded; the dry run answers exactly what the import would do."""
    place = scope(principal, jurisdiction)

    def authorize(aggregate: Any) -> None:
        check_scope(principal, aggregate.jurisdiction)
        if not divisions.contains(place, aggregate.jurisdiction):
            raise InvalidInput(
                f"{aggregate.jurisdiction} lies outside {place}, the place this list is imported for",
                field="区县代码",
                rule="outside_import_place",
                place=place,
            )

    rows = await uploaded_rows(request)
    report = await asyncio.to_thread(
        importer.import_rows,
        registry(request),
        kind,
        rows,
        now=now(request),
        authorize=authorize,
        envelope=command_envelope(request, principal),
        dry_run=dry_run,
    )
    if report["errors"] and not dry_run:
        raise InvalidInput(
            f"{report['bad']} row(s) are wrong; nothing was imported — 有{report['bad']}行有误，未导入任何一行",
            field="file",
            rule="bad_rows",
            **report,
        )
    return report
