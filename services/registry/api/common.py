"""What the registry's routes share: field types, auth dependencies, scope checks, small helpers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Query, Request
from pydantic import AfterValidator, Field, StringConstraints
from pydantic_core import PydanticCustomError

from dudao import jurisdiction
from dudao.routes import Admin, Name, OfficeReader, Reader, Strict, scope  # noqa: F401 (the routes import them from here)
from services.registry.application import Registry


def _known_jurisdiction(code: str) -> str:
    if not jurisdiction.is_known(code):
        raise PydanticCustomError(
            "unknown_jurisdiction", "{code} is not a known administrative division code (GB/T 2260)", {"code": code}
        )
    return code


JurisdictionCode = Annotated[str, StringConstraints(pattern=r"^\d{6}(\d{3})?$"), AfterValidator(_known_jurisdiction)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Enrolment = Annotated[int, Field(ge=0, le=100_000, strict=True)]
PageSize = Annotated[int, Query(ge=1, le=200)]


def registry(request: Request) -> Registry:
    return request.app.state.application


def now(request: Request) -> datetime:
    """The service clock's time (tests set it)."""
    return request.app.state.clock.now()
