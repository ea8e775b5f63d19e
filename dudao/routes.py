"""What every service's HTTP routes share: strict bodies, bounded texts, role dependencies, the subtree asked for."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from pydantic import BaseModel, ConfigDict, StringConstraints

from dudao import jurisdiction
from dudao.auth import Principal, Role, require
from dudao.errors import InvalidInput
from dudao.scope import OFFICES, READERS, UNIT_READERS, check_scope  # noqa: F401 (OFFICES: routes import it from here)

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
Admin = Annotated[Principal, Depends(require(Role.admin))]
# Who reads (dudao.scope.READERS; decision 022). Each read narrows its rows to the caller's own.
OfficeReader = Annotated[Principal, Depends(require(*OFFICES))]
UnitReader = Annotated[Principal, Depends(require(*UNIT_READERS, target="rows narrowed to a unit's own"))]
Reader = Annotated[Principal, Depends(require(*READERS, target="rows narrowed to the caller's own"))]


class Strict(BaseModel):
    """A request body: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


def scope(principal: Principal, code: str | None) -> str:
    """The subtree a read covers: the caller's own unless a code inside it is asked for."""
    if code is None:
        return principal.jur
    if not jurisdiction.is_valid_code(code):
        raise InvalidInput(f"{code!r} is not a 6- or 9-digit division code", field="jurisdiction", rule="code_format")
    check_scope(principal, code)
    return code


MAX_PAGE = 200


def page_size(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}", field="limit", rule="page_size")
    return limit
