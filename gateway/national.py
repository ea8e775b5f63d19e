"""The national platform's API: versioned, read-only REST under /national/v1/ for the `national` role.

Each route is a fixed query on the gateway's own graph, run in-process with the caller's token: the same
DataLoaders, limits and subgraph scoping as GraphQL, answered as plain JSON pages with a cursor for bulk sync.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from dudao import jurisdiction as divisions
from dudao.auth import Principal, bearer_token, require
from dudao.errors import Problem
from dudao.routes import page_size, scope
from gateway.loaders import Loaders
from gateway.schema import schema

router = APIRouter(prefix="/national/v1", tags=["national"])
National = Depends(require("national"))

PAGE = "pageInfo { hasNextPage endCursor }"
SCHOOLS = (
    "query($j: String, $f: Int!, $a: String) { page: schools(jurisdiction: $j, first: $f, after: $a) {"
    " nodes { id code name stage ownership enrolment jurisdiction { code } licence { value } zone { id name } } " + PAGE + " } }"
)
INSPECTORS = (
    "query($j: String, $f: Int!, $a: String) { page: inspectors(jurisdiction: $j, first: $f, after: $a) {"
    " nodes { id name employment status { value } roles { value } jurisdiction { code } term { termNo termStart termEnd }"
    " filedWith } " + PAGE + " } }"
)
ACTIVITIES = (
    "query($j: String, $f: Int!, $a: String) { page: activities(jurisdiction: $j, first: $f, after: $a) {"
    " nodes { id kind { value } title targetKind targetId targetName period plannedMonth status { value } jurisdiction { code }"
    " findings { findingId area { value } severity { value } description needsRectification } } " + PAGE + " } }"
)
STAFFING = (
    "query($j: String) { answer: staffingCompliance(jurisdiction: $j) { profileVersion schools inspectors"
    " r1 { requiredInspectors met } r2 { fullTimeShare minimum met } r3 { met } r4 { met } jurisdiction { code } } }"
)
RESULTS = (
    "query($fw: String!, $p: String!, $j: String) { answer: monitoringResults(framework: $fw, period: $p, jurisdiction: $j) {"
    " framework period jurisdiction frameworkVersion passes area units { unitId unitName passes frameworkVersion } } }"
)


async def _ask(request: Request, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """Run one of the queries above on the gateway's graph as the caller; its first error becomes a problem."""
    context = {"request": request, "loaders": Loaders(request.app.state.subgraphs, bearer_token(request))}
    result = await schema.execute(query, variable_values=variables, context_value=context)
    if result.errors:
        extensions = result.errors[0].extensions or {}
        problem = Problem(result.errors[0].message, field=extensions.get("field"), rule=extensions.get("rule", "subgraph_error"))
        problem.status = int(extensions.get("status", 502))
        raise problem
    return result.data or {}


async def _page(request: Request, query: str, jurisdiction: str, limit: int, cursor: str | None) -> dict[str, Any]:
    page = (await _ask(request, query, {"j": jurisdiction, "f": page_size(limit), "a": cursor}))["page"]
    info = page["pageInfo"]
    return {"items": page["nodes"], "next_cursor": info["endCursor"] if info["hasNextPage"] else None}


@router.get("/jurisdictions")
async def jurisdictions(parent: str | None = None, principal: Principal = National) -> dict[str, Any]:
    """The divisions directly below `parent` (default: the client's own), from the reference data (GB/T 2260)."""
    code = scope(principal, parent)
    return {"items": [{"code": j.code, "name": divisions.name_of(j.code), "level": divisions.level_of(j.code).value}
                      for j in divisions.children(code)]}  # fmt: skip


@router.get("/schools")
async def schools(
    request: Request, jurisdiction: str | None = None, cursor: str | None = None, limit: int = 100, principal: Principal = National
) -> dict[str, Any]:
    """Schools in a jurisdiction's subtree, a page at a time; follow `next_cursor` until it is null."""
    return await _page(request, SCHOOLS, scope(principal, jurisdiction), limit, cursor)


@router.get("/inspectors")
async def inspectors(
    request: Request, jurisdiction: str | None = None, cursor: str | None = None, limit: int = 100, principal: Principal = National
) -> dict[str, Any]:
    """Inspectors (督学) in a jurisdiction's subtree, a page at a time."""
    return await _page(request, INSPECTORS, scope(principal, jurisdiction), limit, cursor)


@router.get("/activities")
async def activities(
    request: Request, jurisdiction: str | None = None, cursor: str | None = None, limit: int = 100, principal: Principal = National
) -> dict[str, Any]:
    """Supervision activities with their findings, a page at a time."""
    return await _page(request, ACTIVITIES, scope(principal, jurisdiction), limit, cursor)


@router.get("/staffing")
async def staffing(request: Request, jurisdiction: str | None = None, principal: Principal = National) -> dict[str, Any]:
    """Staffing against R1–R4 for a jurisdiction's subtree."""
    return (await _ask(request, STAFFING, {"j": scope(principal, jurisdiction)}))["answer"]


@router.get("/indicator-results/{framework}/{period}")
async def indicator_results(
    request: Request, framework: str, period: str, jurisdiction: str | None = None, principal: Principal = National
) -> dict[str, Any]:
    """A framework's results for a period: the area's verdict and each unit's."""
    return (await _ask(request, RESULTS, {"fw": framework, "p": period, "j": scope(principal, jurisdiction)}))["answer"]
