"""Importing an office's school or inspector list over HTTP: checked row by row, then recorded all or nothing."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter, Request

from dudao.errors import InvalidInput
from dudao.routes import caller, scope, uploaded_rows
from services.registry.api.common import Admin, now, registry
from services.registry.commands import ImportList

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
    place = scope(principal, jurisdiction)  # whose place it is, before a byte of the file is read
    command = ImportList(
        kind=kind,
        rows=await uploaded_rows(request),
        place=place,
        now=now(request),
        dry_run=dry_run,
    )
    report = await asyncio.to_thread(registry(request).import_list, command, caller(request, principal))
    if report["errors"] and not dry_run:
        raise InvalidInput(
            f"{report['bad']} row(s) are wrong; nothing was imported — 有{report['bad']}行有误，未导入任何一行",
            field="file",
            rule="bad_rows",
            **report,
        )
    return report
