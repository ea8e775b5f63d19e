"""Public routes (no token): listed inspectors' names, zones, schools and public contacts."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from dudao import auth
from dudao import jurisdiction as divisions
from dudao.errors import InvalidInput
from services.registry.projections import public

router = APIRouter(
    prefix="/v1/public", tags=["public"], dependencies=[Depends(auth.public("listed inspectors' public contacts"))]
)


class ListedInspector(BaseModel):
    """What the public sees of a listed inspector (挂牌督学): nothing beyond this."""

    name: str
    zone: str
    schools: list[str]
    public_contact: str | None


@router.get("/listed-inspectors", response_model=list[ListedInspector])
async def listed_inspectors(request: Request, jurisdiction: str) -> list[ListedInspector]:
    """Listed inspectors of every zone in the jurisdiction's subtree, with the schools they answer for."""
    if not divisions.is_valid_code(jurisdiction):
        raise InvalidInput(f"{jurisdiction!r} is not a division code", field="jurisdiction", rule="code_format")
    async with request.app.state.pool.acquire() as conn:
        return [ListedInspector(**row) for row in await public.listed_inspectors(conn, within=jurisdiction)]
