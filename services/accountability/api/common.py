"""What every accountability route shares: body types, who may call, the profile in force, paging."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from dudao.auth import Principal, Role, require
from dudao.errors import Conflict
from dudao.profiles import Effective, effective_from_copy
from dudao.routes import Admin, Name, OfficeReader, Strict, Text, UnitReader, page_size, scope  # noqa: F401 (the routes import them from here)
from services.accountability.application import Accountability

UnitOrAdmin = Annotated[Principal, Depends(require(Role.unit, Role.admin))]


class Person(Strict):
    name: Name
    post: Name


class Publication(Strict):
    """What the public is told of an outcome (结果向社会公布)."""

    public_text: Text


def app_of(request: Request) -> Accountability:
    return request.app.state.application


async def profile_at(request: Request, code: str, *keys: str) -> Effective:
    """The effective policy profile at `code`; a key the rule needs and the profile lacks is a 409 naming it."""
    async with request.app.state.pool.acquire() as conn:
        profile = await effective_from_copy(conn, "accountability", code)
    for key in keys:
        if profile.get(key) is None:
            raise Conflict(
                f"the policy profile at {code} has no {key}; set it in the registry",
                field=key,
                rule="policy_key_missing",
            )
    return profile


def jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "position"}
