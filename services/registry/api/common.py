"""What the registry's routes share: field types, auth dependencies, scope checks, small helpers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Query, Request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

from dudao import jurisdiction
from dudao.auth import Principal, Role, check_scope, require
from dudao.errors import InvalidInput
from services.registry.application import Registry


def _known_jurisdiction(code: str) -> str:
    if not jurisdiction.is_known(code):
        raise PydanticCustomError(
            "unknown_jurisdiction", "{code} is not a known administrative division code (GB/T 2260)", {"code": code}
        )
    return code


JurisdictionCode = Annotated[str, StringConstraints(pattern=r"^\d{6}(\d{3})?$"), AfterValidator(_known_jurisdiction)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Enrolment = Annotated[int, Field(ge=0, le=100_000, strict=True)]
PageSize = Annotated[int, Query(ge=1, le=200)]

Admin = Annotated[Principal, Depends(require(Role.admin))]
Reader = Annotated[Principal, Depends(require())]


class Strict(BaseModel):
    """A request body: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


def registry(request: Request) -> Registry:
    return request.app.state.application


def now() -> datetime:
    return datetime.now(UTC)


def scope(principal: Principal, code: str | None) -> str:
    """The subtree a list covers: the caller's own unless a code inside it is asked for."""
    if code is None:
        return principal.jur
    if not jurisdiction.is_valid_code(code):
        raise InvalidInput(f"{code!r} is not a 6- or 9-digit division code", field="jurisdiction", rule="code_format")
    check_scope(principal, code)
    return code


def in_scope(principal: Principal):
    """An `authorize` callback: the aggregate's jurisdiction must be inside the caller's."""
    return lambda aggregate: check_scope(principal, aggregate.jurisdiction)
