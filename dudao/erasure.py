"""`POST /v1/personal-data/erasures` on every service: destroy a person's keys, so their personal data is gone for good.

The erasure is recorded first (`Erasure.Recorded`: who asked, whose data, why, which keys), then the keys are deleted.
If the deletion fails after the record, a retry with the same `Idempotency-Key` deletes them (decision 019).
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from dudao.errors import NotFound
from dudao.personal import Erasure
from dudao.routes import Admin, Name, Strict, Text, command_envelope, new_aggregate_id, set_etag
from dudao.scope import check_scope
from dudao.store import ServiceApplication

router = APIRouter(prefix="/v1/personal-data", tags=["personal data"])


class ErasureCreate(Strict):
    person: Name  # as reads name it, e.g. "inspector:<id>" or "committee:<code>:<member unit>"
    reason: Text  # e.g. the person's request (PIPL 第四十七条), or the end of the purpose


class ErasureRead(BaseModel):
    id: str
    person: str
    jurisdiction: str
    reason: str
    keys_destroyed: int
    erased_at: datetime


@router.post("/erasures", response_model=ErasureRead, status_code=201)
def erase(body: ErasureCreate, request: Request, response: Response, principal: Admin) -> ErasureRead:
    """Make a person's phone numbers, ID numbers and addresses unreadable everywhere, for good; history is not rewritten."""
    app: ServiceApplication = request.app.state.application
    keys, jurisdiction = app.keys.held(body.person)
    erasure_id = new_aggregate_id(request, principal, "erasure")
    if jurisdiction is None:
        if app.exists(erasure_id):  # a retry after the keys went: answer as the first time
            erasure = app.get(erasure_id, Erasure)
            check_scope(principal, erasure.jurisdiction)
            return _read(erasure, 0, response)
        raise NotFound(
            f"no personal data of {body.person} is held here: it was erased already, or is held by the instance of the"
            " person's own jurisdiction (ask there)",
            field="person",
            rule="nothing_to_erase",
        )
    check_scope(principal, jurisdiction)
    erasure = Erasure.record(
        erasure_id=erasure_id,
        person=body.person,
        jurisdiction=jurisdiction,
        reason=body.reason,
        keys=keys,
        now=request.app.state.clock.now(),
    )
    erasure = app.save_new(erasure, command_envelope(request, principal, body))
    response.status_code = 201
    return _read(erasure, app.keys.destroy(set(erasure.keys) | set(keys)), response)


def _read(erasure: Erasure, destroyed: int, response: Response) -> ErasureRead:
    set_etag(response, erasure.version)
    return ErasureRead(
        id=str(erasure.id),
        person=erasure.person,
        jurisdiction=erasure.jurisdiction,
        reason=erasure.reason,
        keys_destroyed=destroyed,
        erased_at=erasure.erased_at,
    )
