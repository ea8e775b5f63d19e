"""An inspector's private details (mobile, ID number, home address): sealed per person, erasable (decision 019).

Only an admin over the inspector's jurisdiction reads or writes them, at the instance that registered the inspector:
the details cross to the instances above only sealed, with a key they do not hold. Reads show `[已删除]` (ERASED) for
a field whose key was destroyed by `POST /v1/personal-data/erasures` with the `person` these reads name.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, StringConstraints

from dudao.personal import ERASED
from dudao.routes import caller, set_etag
from dudao.scope import check_scope
from services.registry.api.common import Admin, Strict, now, registry
from services.registry.commands import RecordInspectorPersonal
from services.registry.domain import Inspector

router = APIRouter(prefix="/v1/inspectors", tags=["inspectors"])
Field = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]


class PersonalWrite(Strict):
    """A field left out keeps its value; an empty one clears it."""

    mobile: Field | None = None
    id_number: Field | None = None
    home_address: Field | None = None


class PersonalRead(BaseModel):
    person: str  # what an erasure names
    mobile: str | None
    id_number: str | None
    home_address: str | None
    erased: list[str]  # the fields whose key was destroyed
    version: int


def _read(inspector: Inspector, plain: dict[str, str], response: Response) -> PersonalRead:
    set_etag(response, inspector.version)
    return PersonalRead(
        person=inspector.person(),
        mobile=plain.get("mobile"),
        id_number=plain.get("id_number"),
        home_address=plain.get("home_address"),
        erased=sorted(f for f, v in plain.items() if v == ERASED),
        version=inspector.version,
    )


@router.put("/{inspector_id}/personal", response_model=PersonalRead)
def record_personal(
    inspector_id: UUID, body: PersonalWrite, request: Request, response: Response, principal: Admin
) -> PersonalRead:
    """Record private details; they are sealed with the inspector's own key before they go into any event."""
    app = registry(request)
    command = RecordInspectorPersonal(
        inspector_id=inspector_id, details=body.model_dump(exclude_none=True), now=now(request)
    )
    # The request hash leaves the plain values out; the application folds in the sealed ones (decision 019).
    inspector = app.record_inspector_personal(command, caller(request, principal))
    return _read(inspector, app.revealed(inspector), response)


@router.get("/{inspector_id}/personal", response_model=PersonalRead)
def read_personal(inspector_id: UUID, request: Request, response: Response, principal: Admin) -> PersonalRead:
    app = registry(request)
    inspector = app.get(inspector_id, Inspector)
    check_scope(principal, inspector.jurisdiction)
    return _read(inspector, app.revealed(inspector), response)
