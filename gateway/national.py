"""The national platform's API: versioned, read-only REST under /national/v1/ for the `national` role.

Each route is a fixed query on the gateway's own graph, run in-process with the caller's token: the same
DataLoaders, limits and subgraph scoping as GraphQL, answered as plain JSON pages with a cursor for bulk sync, a
change feed for incremental sync (decision 013), and each entity the feed names by id.
A registered API client gets its token at /national/v1/oauth/token (OAuth 2.0 client credentials), which the
registry answers; the OpenAPI document declares that flow.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response, Security
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlows
from fastapi.security import OAuth2

from dudao import jurisdiction as divisions
from dudao import oauth
from dudao.auth import Principal, public, require
from dudao.errors import NotFound, Problem
from dudao.routes import page_size, scope
from gateway import changes as feed
from gateway.loaders import request_context
from gateway.schema import schema

router = APIRouter(prefix="/national/v1", tags=["national"])
TOKEN_URL = "/national/v1/oauth/token"
CLIENT_CREDENTIALS = OAuth2(
    flows=OAuthFlows(clientCredentials=OAuthFlowClientCredentials(tokenUrl=TOKEN_URL, scopes=oauth.SCOPES)),
    scheme_name="nationalClientCredentials",
    description="A registered API client's bearer token: POST grant_type=client_credentials with its id and secret.",
    auto_error=False,
)
_national_role = require("national")


async def _national_client(
    request: Request, _: str | None = Security(CLIENT_CREDENTIALS, scopes=["national"])
) -> Principal:
    """The security scheme is declared for the OpenAPI document; `require("national")` does the checking."""
    return await _national_role(request)


_national_client.rule = _national_role.rule  # type: ignore[attr-defined]  (the route's declared rule)
National = Depends(_national_client)

PAGE = "pageInfo { hasNextPage endCursor }"
SCHOOL = "id code name stage ownership enrolment jurisdiction { code } licence { value } zone { id name }"
SCHOOLS = (
    "query($j: String, $f: Int!, $a: String) { page: schools(jurisdiction: $j, first: $f, after: $a) {"
    " nodes { " + SCHOOL + " } " + PAGE + " } }"
)
INSPECTOR = "id name employment status { value } roles { value } jurisdiction { code } term { termNo termStart termEnd } filedWith"
INSPECTORS = (
    "query($j: String, $f: Int!, $a: String) { page: inspectors(jurisdiction: $j, first: $f, after: $a) {"
    " nodes { " + INSPECTOR + " } " + PAGE + " } }"
)
ACTIVITY = (
    "id kind { value } title targetKind targetId targetName period plannedMonth status { value } jurisdiction { code }"
    " findings { findingId area { value } severity { value } description needsRectification } grade reportSummary publicSummary"
)
ACTIVITIES = (
    "query($j: String, $f: Int!, $a: String) { page: activities(jurisdiction: $j, first: $f, after: $a) {"
    " nodes { " + ACTIVITY + " } " + PAGE + " } }"
)
STAFFING = (
    "query($j: String) { answer: staffingCompliance(jurisdiction: $j) { profileVersion schools inspectors"
    " r1 { requiredInspectors met } r2 { fullTimeShare minimum met } r3 { met } r4 { met } jurisdiction { code } } }"
)
RESULTS = (
    "query($fw: String!, $p: String!, $j: String) { answer: monitoringResults(framework: $fw, period: $p, jurisdiction: $j) {"
    " framework period jurisdiction frameworkVersion passes area units { unitId unitName passes frameworkVersion } } }"
)
REPORTS = (
    "query($j: String, $f: Int!, $a: String) { page: activities(jurisdiction: $j, first: $f, after: $a, reportIssued: true) {"
    " nodes { " + ACTIVITY + " } " + PAGE + " } }"
)
CASE = (
    "id activityId unitKind unitId unitName activityTitle status openedAt version jurisdiction { code }"
    " items { itemId area severity description status deadline lapses rebounds escalations"
    " notices { lapse missedDeadline newDeadline issuedOn basis } }"
)
CASES = (
    "query($j: String, $s: String, $f: Int!, $a: String) {"
    " page: rectificationCases(jurisdiction: $j, status: $s, first: $f, after: $a) { nodes { "
    + CASE
    + " } "
    + PAGE
    + " } }"
)
OUTCOME = "id kind status trigger unitKind unitId unitName caseId details publicText publishedOn version jurisdiction { code }"
OUTCOMES = (
    "query($j: String, $k: String, $f: Int!, $a: String) { page: measures(jurisdiction: $j, kind: $k, first: $f, after: $a) {"
    " nodes { " + OUTCOME + " } " + PAGE + " } }"
)
CHANGES = (
    "query($j: String, $f: Int!, $a: String) { page: changes(jurisdiction: $j, first: $f, after: $a) {"
    " nodes { kind id jurisdiction { code } } " + PAGE + " } }"
)
# Where a client reads each kind of entity the change feed names, and the graph's field for one of them by id.
ENTITIES = {
    "school": ("schools", "school", SCHOOL),
    "inspector": ("inspectors", "inspector", INSPECTOR),
    "activity": ("activities", "activity", ACTIVITY),
    "case": ("cases", "rectificationCase", CASE),
    "outcome": ("outcomes", "measure", OUTCOME),
}


async def _ask(request: Request, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """Run one of the queries above on the gateway's graph as the caller; its first error becomes a problem."""
    result = await schema.execute(query, variable_values=variables, context_value=request_context(request))
    if result.errors:
        extensions = result.errors[0].extensions or {}
        problem = Problem(
            result.errors[0].message, field=extensions.get("field"), rule=extensions.get("rule", "subgraph_error")
        )
        problem.status = int(extensions.get("status", 502))
        raise problem
    return result.data or {}


async def _page(
    request: Request, query: str, jurisdiction: str, limit: int, cursor: str | None, **more: Any
) -> dict[str, Any]:
    page = (await _ask(request, query, {"j": jurisdiction, "f": page_size(limit), "a": cursor} | more))["page"]
    info = page["pageInfo"]
    return {"items": page["nodes"], "next_cursor": info["endCursor"] if info["hasNextPage"] else None}


async def _one(request: Request, kind: str, id: str) -> dict[str, Any]:
    """One entity by id, as its page shows it; unknown or outside the client's jurisdiction is a 404."""
    _, field, selection = ENTITIES[kind]
    found = (await _ask(request, f"query($id: ID!) {{ one: {field}(id: $id) {{ {selection} }} }}", {"id": id}))["one"]
    if found is None:
        raise NotFound(f"no {kind} {id} that this client may read", field="id")
    return found


@router.post(
    "/oauth/token",
    openapi_extra=oauth.TOKEN_REQUEST_OPENAPI,
    dependencies=[Depends(public("a registered client's credentials (OAuth 2.0)"))],
)
async def client_token(request: Request) -> Response:
    """OAuth 2.0 client credentials (RFC 6749 §4.4): a registered API client's token, answered by the registry.

    The form and the `Authorization: Basic` header go through as they came, and the answer comes back unchanged:
    `{"access_token", "token_type", "expires_in"}`, or OAuth's own `{"error", "error_description"}` (§5.2).
    """
    headers = {"Content-Type": request.headers.get("content-type", "")}
    if authorization := request.headers.get("authorization"):
        headers["Authorization"] = authorization
    subgraphs = request.app.state.subgraphs
    answer = await subgraphs.forward("registry", "/v1/oauth/token", content=await request.body(), headers=headers)
    kept = ("content-type", "cache-control", "pragma", "www-authenticate")
    return Response(answer.content, answer.status, headers={k: answer.headers[k] for k in kept if k in answer.headers})


@router.get("/jurisdictions")
async def jurisdictions(parent: str | None = None, principal: Principal = National) -> dict[str, Any]:
    """The divisions directly below `parent` (default: the client's own), from the reference data (GB/T 2260)."""
    code = scope(principal, parent)
    return {
        "items": [
            {"code": j.code, "name": divisions.name_of(j.code), "level": divisions.level_of(j.code).value}
            for j in divisions.children(code)
        ]
    }


@router.get("/schools")
async def schools(
    request: Request,
    jurisdiction: str | None = None,
    cursor: str | None = None,
    limit: int = 100,
    principal: Principal = National,
) -> dict[str, Any]:
    """Schools in a jurisdiction's subtree, a page at a time; follow `next_cursor` until it is null."""
    return await _page(request, SCHOOLS, scope(principal, jurisdiction), limit, cursor)


@router.get("/inspectors")
async def inspectors(
    request: Request,
    jurisdiction: str | None = None,
    cursor: str | None = None,
    limit: int = 100,
    principal: Principal = National,
) -> dict[str, Any]:
    """Inspectors (督学) in a jurisdiction's subtree, a page at a time."""
    return await _page(request, INSPECTORS, scope(principal, jurisdiction), limit, cursor)


@router.get("/activities")
async def activities(
    request: Request,
    jurisdiction: str | None = None,
    cursor: str | None = None,
    limit: int = 100,
    principal: Principal = National,
) -> dict[str, Any]:
    """Supervision activities with their findings, a page at a time."""
    return await _page(request, ACTIVITIES, scope(principal, jurisdiction), limit, cursor)


@router.get("/reports")
async def reports(
    request: Request,
    jurisdiction: str | None = None,
    cursor: str | None = None,
    limit: int = 100,
    principal: Principal = National,
) -> dict[str, Any]:
    """Supervision reports issued (印发) or published: the activities with their grade, summary and findings, a page at a time."""
    return await _page(request, REPORTS, scope(principal, jurisdiction), limit, cursor)


@router.get("/cases")
async def cases(
    request: Request,
    jurisdiction: str | None = None,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = 100,
    principal: Principal = National,
) -> dict[str, Any]:
    """Rectification cases (整改) with each item's status, deadline and supervision notices (status: opened,
    in_rectification, closed), a page at a time."""
    return await _page(request, CASES, scope(principal, jurisdiction), limit, cursor, s=status)


@router.get("/outcomes")
async def outcomes(
    request: Request,
    jurisdiction: str | None = None,
    kind: str | None = None,
    cursor: str | None = None,
    limit: int = 100,
    principal: Principal = National,
) -> dict[str, Any]:
    """Accountability outcomes: interviews (约谈), circulars (通报), accountability decisions (问责) with their sanctions,
    and commendations (表彰); `kind` one of interview, circular, decision, commendation. A page at a time."""
    return await _page(request, OUTCOMES, scope(principal, jurisdiction), limit, cursor, k=kind)


@router.get("/changes")
async def changes(
    request: Request,
    since: str | None = None,
    jurisdiction: str | None = None,
    limit: int = 100,
    principal: Principal = National,
) -> dict[str, Any]:
    """What changed since the cursor `since` (without it: everything), for incremental sync: each changed school,
    inspector, activity, case or outcome once, with the `href` to read it. `next_cursor` is never null: follow it while
    `has_more`, then keep it and ask with it later."""
    feed.decode(since, "since")
    page = (await _ask(request, CHANGES, {"j": scope(principal, jurisdiction), "f": page_size(limit), "a": since}))[
        "page"
    ]
    items = [n | {"href": f"{router.prefix}/{ENTITIES[n['kind']][0]}/{n['id']}"} for n in page["nodes"]]
    return {"items": items, "next_cursor": page["pageInfo"]["endCursor"], "has_more": page["pageInfo"]["hasNextPage"]}


@router.get("/schools/{id}")
async def school(request: Request, id: str, principal: Principal = National) -> dict[str, Any]:
    """A school by id, as /schools shows it."""
    return await _one(request, "school", id)


@router.get("/inspectors/{id}")
async def inspector(request: Request, id: str, principal: Principal = National) -> dict[str, Any]:
    """An inspector by id, as /inspectors shows it."""
    return await _one(request, "inspector", id)


@router.get("/activities/{id}")
async def activity(request: Request, id: str, principal: Principal = National) -> dict[str, Any]:
    """An activity (and its report, once issued) by id."""
    return await _one(request, "activity", id)


@router.get("/cases/{id}")
async def case(request: Request, id: str, principal: Principal = National) -> dict[str, Any]:
    """A rectification case by id, as /cases shows it."""
    return await _one(request, "case", id)


@router.get("/outcomes/{id}")
async def outcome(request: Request, id: str, principal: Principal = National) -> dict[str, Any]:
    """An outcome by id, as /outcomes shows it."""
    return await _one(request, "outcome", id)


@router.get("/staffing")
async def staffing(
    request: Request, jurisdiction: str | None = None, principal: Principal = National
) -> dict[str, Any]:
    """Staffing against R1–R4 for a jurisdiction's subtree."""
    return (await _ask(request, STAFFING, {"j": scope(principal, jurisdiction)}))["answer"]


@router.get("/indicator-results/{framework}/{period}")
async def indicator_results(
    request: Request, framework: str, period: str, jurisdiction: str | None = None, principal: Principal = National
) -> dict[str, Any]:
    """A framework's results for a period: the area's verdict and each unit's."""
    return (await _ask(request, RESULTS, {"fw": framework, "p": period, "j": scope(principal, jurisdiction)}))["answer"]
