"""Routes for townships and streets (乡镇/街道): named by their county's office, listed by the offices above."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from dudao import jurisdiction as divisions
from dudao.errors import InvalidInput
from dudao.routes import caller, current_division, set_etag
from dudao.scope import check_scope
from services.registry.api.common import Admin, Name, OfficeReader, Strict, now, registry, scope
from services.registry.commands import NameTownship
from services.registry.projections import places

router = APIRouter(prefix="/v1", tags=["townships"])


class TownshipWrite(Strict):
    name: Name  # e.g. 璧城街道


class TownshipRead(BaseModel):
    code: str
    county: str
    county_name: str
    name: str
    version: int


@router.put("/townships/{code}", response_model=TownshipRead, tags=["townships"])
def name_township(
    code: str, body: TownshipWrite, request: Request, response: Response, principal: Admin
) -> TownshipRead:
    """Name a township or street (乡镇/街道) of a county by its 9-digit code, or rename it. Schools and records under
    it roll up to the county; reads show its name."""
    if not divisions.is_valid_code(code):
        raise InvalidInput(f"{code!r} is not a 9-digit township code", field="code", rule="not_a_township")
    check_scope(principal, code)  # whose place it is comes first, as on every route
    if len(code) != 9:
        raise InvalidInput(f"{code!r} is not a 9-digit township code", field="code", rule="not_a_township")
    current_division(request, code[:6], field="code")
    command = NameTownship(code=code, name=body.name, now=now(request))
    township = registry(request).name_township(command, caller(request, principal, body))
    set_etag(response, township.version)
    return TownshipRead(
        code=code,
        county=township.county,
        county_name=divisions.name_of(township.county),
        name=township.name,
        version=township.version,
    )


@router.get("/townships", response_model=list[TownshipRead], tags=["townships"])
async def list_townships(
    request: Request, principal: OfficeReader, jurisdiction: str | None = None
) -> list[TownshipRead]:
    """The townships and streets named in a jurisdiction's subtree (default: the caller's)."""
    within = scope(principal, jurisdiction)
    async with request.app.state.pool.acquire() as conn:
        rows = await places.townships(conn, within=within)
    return [TownshipRead(**r, county_name=divisions.name_of(r["county"])) for r in rows]
