"""Draw routes: announce a double-random draw (双随机) with its seed's hash, perform it, verify it publicly."""

from __future__ import annotations

import asyncio
import secrets
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field, StringConstraints

from dudao import jurisdiction as divisions
from dudao.auth import public
from dudao.errors import NotFound
from dudao.routes import caller, set_etag
from dudao.scope import check_scope
from services.inspection.api.activities import Admin, Name, Strict
from services.inspection.commands import AnnounceDraw, PerformDraw
from services.inspection.domain.activity import ActivityKind
from services.inspection.domain.draw import Draw, DrawInputs, PoolMember
from services.inspection.projections import activities, registry_copy

StageName = Annotated[str, StringConstraints(pattern=r"^[a-z_]{3,40}$")]


class TargetFilter(Strict):
    """Which schools may be drawn: stages and ownership inside the jurisdiction."""

    stages: list[StageName] | None = None
    ownership: Annotated[str, StringConstraints(pattern=r"^(public|private)$")] | None = None
    count: int = Field(ge=1, le=500)


class TeamFilter(Strict):
    """Which inspectors may be drawn: active, with the right focus, stage and subject, under the load limit."""

    size: int = Field(ge=1, le=20)
    stage: StageName | None = None
    subject: Name | None = None
    max_load: int = Field(
        ge=1, le=100, description="activities an inspector may hold in the period, this draw included"
    )


class DrawCreate(Strict):
    jurisdiction: Annotated[str, StringConstraints(pattern=r"^\d{6}$")]
    purpose: Name
    period: Annotated[str, StringConstraints(pattern=r"^\d{4}-(spring|fall)$")]
    targets: TargetFilter
    team: TeamFilter


class DrawRead(BaseModel):
    id: UUID
    jurisdiction: str
    purpose: str
    status: str
    seed_hash: str
    seed: str | None = Field(description="revealed only after the draw is performed")
    candidates: dict[str, Any]
    targets: list[str] | None
    teams: dict[str, list[str]] | None
    deviations: list[dict[str, Any]] = Field(
        description="teams assigned other than drawn, each with the admin's reason"
    )
    version: int

    @classmethod
    def of(cls, draw: Draw) -> DrawRead:
        result = draw.result
        return cls(
            id=draw.id,
            jurisdiction=draw.jurisdiction,
            purpose=draw.purpose,
            status=draw.status,
            seed_hash=draw.seed_hash,
            seed=draw.seed if result else None,
            candidates=draw.inputs.as_record(),
            targets=result.targets if result else None,
            teams=result.teams if result else None,
            deviations=draw.deviations,
            version=draw.version,
        )


class VerificationRead(BaseModel):
    draw_id: UUID
    ok: bool
    seed_matches_hash: bool
    result_matches: bool
    detail: str
    deviations: list[dict[str, Any]]


router = APIRouter(prefix="/v1/draws", tags=["draws"])


def _eligible(inspector: dict[str, Any], team: TeamFilter) -> bool:
    return (
        inspector["focus"] in ("schools", "both")
        and (team.stage is None or not inspector["stages"] or team.stage in inspector["stages"])
        and (team.subject is None or team.subject in inspector["subjects"])
    )


@router.post("", status_code=201, response_model=DrawRead)
async def announce_draw(body: DrawCreate, request: Request, response: Response, principal: Admin) -> DrawRead:
    """Snapshot the candidates and publish the seed's hash; the seed stays sealed until the draw is performed."""
    check_scope(principal, body.jurisdiction)  # before the candidates are read
    async with request.app.state.pool.acquire() as conn:
        schools = await registry_copy.schools(
            conn, within=body.jurisdiction, stages=body.targets.stages, ownership=body.targets.ownership
        )
        pool = [
            i for i in await registry_copy.active_inspectors(conn, within=body.jurisdiction) if _eligible(i, body.team)
        ]
        ties = await registry_copy.ties_of(conn, [str(i["id"]) for i in pool])
        loads = {
            str(i["id"]): await activities.load_of(conn, inspector_id=str(i["id"]), period=body.period) for i in pool
        }
    inputs = DrawInputs(
        targets=[str(s["id"]) for s in schools],
        target_count=body.targets.count,
        pool=[PoolMember(inspector_id=i, ties=frozenset(ties[i]), load=loads[i]) for i in sorted(loads)],
        team_size=body.team.size,
        max_load=body.team.max_load,
    )
    criteria = body.model_dump(mode="json") | {"kind": ActivityKind.comprehensive.value}
    command = AnnounceDraw(
        jurisdiction=body.jurisdiction,
        purpose=body.purpose,
        criteria=criteria,
        inputs=inputs,
        seed=secrets.token_hex(32),
        now=request.app.state.clock.now(),
    )
    who = caller(request, principal, body, creates="draw")
    draw = await asyncio.to_thread(request.app.state.application.announce_draw, command, who)
    set_etag(response, draw.version)
    response.headers["Location"] = f"/v1/draws/{draw.id}"
    return DrawRead.of(draw)


@router.post("/{draw_id}/performance", response_model=DrawRead)
def perform_draw(draw_id: UUID, request: Request, response: Response, principal: Admin) -> DrawRead:
    """Draw the targets and teams, and reveal the seed so anyone can check the result."""
    command = PerformDraw(draw_id=draw_id, now=request.app.state.clock.now())
    draw = request.app.state.application.perform_draw(command, caller(request, principal))
    set_etag(response, draw.version)
    return DrawRead.of(draw)


def _load(request: Request, draw_id: UUID) -> Draw:
    draw = request.app.state.application.get(draw_id, Draw)
    if not divisions.is_valid_code(draw.jurisdiction):
        raise NotFound(f"no draw with id {draw_id}", field="draw_id")
    return draw


@router.get(
    "/{draw_id}",
    response_model=DrawRead,
    dependencies=[Depends(public("a draw: its published hash, then its seed and result"))],
)
def read_draw(draw_id: UUID, request: Request) -> DrawRead:
    """A draw as the public sees it: candidates, seed hash, and after the draw the seed and the result. No token."""
    return DrawRead.of(_load(request, draw_id))


@router.get(
    "/{draw_id}/verify", response_model=VerificationRead, dependencies=[Depends(public("a draw re-run by anyone"))]
)
def verify_draw(draw_id: UUID, request: Request) -> VerificationRead:
    """Re-run the draw from the recorded candidates and the revealed seed; anyone may ask. No token."""
    verification = _load(request, draw_id).verify()
    return VerificationRead(
        draw_id=draw_id,
        **{k: getattr(verification, k) for k in ("ok", "seed_matches_hash", "result_matches", "detail", "deviations")},
    )
