"""Routes for zones, committees, policy profiles and staffing compliance."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from dudao import jurisdiction as divisions
from dudao.auth import public
from dudao.errors import NotFound
from dudao.routes import caller, current_division, set_etag, today
from dudao.scope import check_scope
from services.registry.api.common import (
    Admin,
    JurisdictionCode,
    Name,
    OfficeReader,
    Strict,
    Text,
    now,
    registry,
    scope,
)
from services.registry.commands import (
    ChangeProfile,
    ConstituteOrChangeCommittee,
    CreateZone,
    ListInspectorInZone,
    RecordMeeting,
    RecordParticipation,
    UnlistInspectorInZone,
)
from services.registry.domain import composition
from services.registry.domain.policy import KEYS
from services.registry.projections import places
from services.registry.projections.staffing import effective_profile, staffing_compliance

router = APIRouter(prefix="/v1", tags=["zones, committees, policy"])

# --- zones -------------------------------------------------------------------------------------------


class ZoneCreate(Strict):
    name: Name
    jurisdiction: JurisdictionCode


class ListedInspector(Strict):
    inspector_id: UUID


class ZoneRead(BaseModel):
    id: UUID
    name: str
    jurisdiction: str
    listed_inspectors: list[UUID]
    version: int


@router.post("/zones", status_code=201, response_model=ZoneRead, tags=["zones"])
def create_zone(body: ZoneCreate, request: Request, response: Response, principal: Admin) -> ZoneRead:
    """Create a responsibility zone (督学责任区)."""
    check_scope(principal, body.jurisdiction)
    current_division(request, body.jurisdiction)
    command = CreateZone(name=body.name, jurisdiction=body.jurisdiction, now=now(request))
    zone = registry(request).create_zone(command, caller(request, principal, body, creates="zone"))
    set_etag(response, zone.version)
    response.headers["Location"] = f"/v1/zones/{zone.id}"
    return ZoneRead(
        id=zone.id, name=zone.name, jurisdiction=zone.jurisdiction, listed_inspectors=[], version=zone.version
    )


@router.post("/zones/{zone_id}/listed-inspectors", response_model=ZoneRead, tags=["zones"])
def list_inspector(zone_id: UUID, body: ListedInspector, request: Request, response: Response, principal: Admin):
    command = ListInspectorInZone(zone_id=zone_id, inspector_id=body.inspector_id)
    zone = registry(request).list_inspector_in_zone(command, caller(request, principal, body))
    set_etag(response, zone.version)
    return ZoneRead(
        id=zone.id,
        name=zone.name,
        jurisdiction=zone.jurisdiction,
        listed_inspectors=zone.listed_inspectors,
        version=zone.version,
    )


@router.post("/zones/{zone_id}/listed-inspectors/{inspector_id}/removal", response_model=ZoneRead, tags=["zones"])
def unlist_inspector(zone_id: UUID, inspector_id: UUID, request: Request, response: Response, principal: Admin):
    command = UnlistInspectorInZone(zone_id=zone_id, inspector_id=inspector_id)
    zone = registry(request).unlist_inspector_in_zone(command, caller(request, principal))
    set_etag(response, zone.version)
    return ZoneRead(
        id=zone.id,
        name=zone.name,
        jurisdiction=zone.jurisdiction,
        listed_inspectors=zone.listed_inspectors,
        version=zone.version,
    )


class SchoolRef(BaseModel):
    id: UUID
    name: str
    jurisdiction: str


class ZoneCoverage(BaseModel):
    """Every school belongs in exactly one zone with one responsible inspector; these lists show the gaps."""

    without_zone: list[SchoolRef]
    without_responsible_inspector: list[SchoolRef]


@router.get("/zones/coverage", response_model=ZoneCoverage, tags=["zones"])
async def zone_coverage(request: Request, principal: OfficeReader, jurisdiction: str | None = None) -> ZoneCoverage:
    within = scope(principal, jurisdiction)
    async with request.app.state.pool.acquire() as conn:
        return ZoneCoverage(**await places.zone_coverage(conn, within=within))


@router.get("/zones", response_model=list[ZoneRead], tags=["zones"])
async def list_zones(request: Request, principal: OfficeReader, jurisdiction: str | None = None) -> list[ZoneRead]:
    within = scope(principal, jurisdiction)
    async with request.app.state.pool.acquire() as conn:
        return [ZoneRead(**z) for z in await places.zone_page(conn, within=within)]


# --- committees ----------------------------------------------------------------------------------------


class MemberUnit(Strict):
    name: Name
    contact_person: Name
    contact_phone: Text = ""


class CommitteeWrite(Strict):
    """The committee's make-up (政府教育督导委员会组成)."""

    director: Name
    deputies: list[Name] = Field(default_factory=list, max_length=20)
    member_units: list[MemberUnit] = Field(default_factory=list, max_length=100)
    office: Name
    chief_inspector: Name
    deputy_chief_inspectors: list[Name] = Field(default_factory=list, max_length=20)


class MeetingCreate(Strict):
    held_on: date
    topic: Name
    on_education: bool
    minutes_ref: Text = ""


class ParticipationCreate(Strict):
    unit_name: Name
    activity_id: Name
    year: int = Field(ge=2000, le=2100)


class CommitteeRead(BaseModel):
    jurisdiction: str
    jurisdiction_name: str
    members: dict[str, Any]
    version: int


class MeetingCount(BaseModel):
    jurisdiction: str
    jurisdiction_name: str
    year: int
    education_meetings: int
    minimum: int
    profile_version: str


class MemberUnitActivity(BaseModel):
    jurisdiction: str
    unit_name: str
    contact_person: str
    year: int
    activities: int
    minimum: int
    profile_version: str


def _committee_read(request: Request, committee) -> CommitteeRead:
    members = registry(request).revealed_members(committee)
    return CommitteeRead(
        jurisdiction=committee.jurisdiction,
        jurisdiction_name=divisions.name_of(committee.jurisdiction),
        members=members,
        version=committee.version,
    )


@router.put("/committees/{code}", response_model=CommitteeRead, tags=["committees"])
def constitute_committee(code: str, body: CommitteeWrite, request: Request, response: Response, principal: Admin):
    """Constitute the jurisdiction's committee, or change its make-up; one committee per jurisdiction."""
    check_scope(principal, scope(principal, code))
    members = composition(**{**body.model_dump(), "member_units": [u.model_dump() for u in body.member_units]})
    # The request hash leaves the contact phones out; the application folds in the sealed ones (decision 019).
    unsealed = body.model_copy(
        update={"member_units": [u.model_copy(update={"contact_phone": ""}) for u in body.member_units]}
    )
    command = ConstituteOrChangeCommittee(jurisdiction=code, members=members, now=now(request))
    committee = registry(request).constitute_or_change_committee(command, caller(request, principal, unsealed))
    set_etag(response, committee.version)
    return _committee_read(request, committee)


@router.post("/committees/{code}/meetings", response_model=CommitteeRead, tags=["committees"])
def record_meeting(code: str, body: MeetingCreate, request: Request, response: Response, principal: Admin):
    """A committee meeting; those on education count toward the yearly minimum (O1)."""
    command = RecordMeeting(jurisdiction=scope(principal, code), **body.model_dump(), today=today(request))
    committee = registry(request).record_meeting(command, caller(request, principal, body))
    set_etag(response, committee.version)
    return _committee_read(request, committee)


@router.post("/committees/{code}/participation", response_model=CommitteeRead, tags=["committees"])
def record_participation(code: str, body: ParticipationCreate, request: Request, response: Response, principal: Admin):
    """A member unit took part in a supervision activity (later filled from inspection's events)."""
    command = RecordParticipation(jurisdiction=scope(principal, code), **body.model_dump())
    committee = registry(request).record_participation(command, caller(request, principal, body))
    set_etag(response, committee.version)
    return _committee_read(request, committee)


@router.get("/committees/short-of-meetings", response_model=list[MeetingCount], tags=["committees"])
async def committees_short_of_meetings(
    request: Request, principal: OfficeReader, year: int = Query(ge=2000, le=2100), jurisdiction: str | None = None
) -> list[MeetingCount]:
    """Committees that met on education fewer times in `year` than their profile requires (4 in Bishan)."""
    within = scope(principal, jurisdiction)
    out = []
    async with request.app.state.pool.acquire() as conn:
        for row in await places.committees_short_of_meetings(conn, within=within, year=year):
            profile = await effective_profile(conn, row["jurisdiction"])
            minimum = profile.get("committee_education_meetings_min")
            if minimum is not None and row["education_meetings"] < minimum:
                out.append(
                    MeetingCount(
                        jurisdiction=row["jurisdiction"],
                        jurisdiction_name=divisions.name_of(row["jurisdiction"]),
                        year=year,
                        education_meetings=row["education_meetings"],
                        minimum=minimum,
                        profile_version=profile.version,
                    )
                )
    return out


@router.get("/committees/inactive-member-units", response_model=list[MemberUnitActivity], tags=["committees"])
async def inactive_member_units(
    request: Request, principal: OfficeReader, year: int = Query(ge=2000, le=2100), jurisdiction: str | None = None
) -> list[MemberUnitActivity]:
    """Member units that joined fewer supervision activities in `year` than the profile asks (at least 1)."""
    within = scope(principal, jurisdiction)
    out = []
    async with request.app.state.pool.acquire() as conn:
        for row in await places.member_unit_activity(conn, within=within, year=year):
            profile = await effective_profile(conn, row["jurisdiction"])
            minimum = profile.get("member_unit_activities_min")
            if minimum is not None and row["activities"] < minimum:
                out.append(MemberUnitActivity(**row, year=year, minimum=minimum, profile_version=profile.version))
    return out


@router.get("/committees/{code}", response_model=CommitteeRead, tags=["committees"])
async def read_committee(code: str, request: Request, response: Response, principal: OfficeReader) -> CommitteeRead:
    check_scope(principal, scope(principal, code))
    async with request.app.state.pool.acquire() as conn:
        row = await places.committee(conn, code, request.app.state.settings.jurisdiction)
    if row is None:
        raise NotFound(f"{code} has no committee yet", field="code")
    set_etag(response, row["version"])
    return CommitteeRead(
        jurisdiction=code, jurisdiction_name=divisions.name_of(code), members=row["members"], version=row["version"]
    )


# --- policy profiles ---------------------------------------------------------------------------------------


class ProfileChange(Strict):
    set: dict[str, float] = Field(default_factory=dict)
    remove: list[str] = Field(default_factory=list)
    reason: Name


class PolicyValue(BaseModel):
    value: float | int
    label_zh: str
    meaning: str
    source_jurisdiction: str
    source_name: str
    source_version: int


class ProfileLink(BaseModel):
    """One place on the way from the nation down: its profile's version, or null where it sets nothing of its own."""

    jurisdiction: str
    name: str
    version: int | None


class EffectiveProfile(BaseModel):
    jurisdiction: str
    jurisdiction_name: str
    version: str
    values: dict[str, PolicyValue]
    chain: list[ProfileLink] = Field(description="the nation, then each place down to this one (国家 → 省 → 市 → 县)")
    national_defaults_only: bool = Field(
        description="true when no place below the nation sets anything: national defaults apply"
    )
    note_zh: str | None = None


@router.get(
    "/policy/{code}",
    response_model=EffectiveProfile,
    tags=["policy"],
    dependencies=[Depends(public("the rules in force at a place"))],
)
async def read_policy(code: str, request: Request) -> EffectiveProfile:
    """The profile in force at a jurisdiction, each value with the place and version it comes from. Public."""
    if not divisions.is_known(code):
        raise NotFound(f"{code} is not a known jurisdiction", field="code")
    async with request.app.state.pool.acquire() as conn:
        profile = await effective_profile(conn, code)
    values = {
        key: PolicyValue(
            value=value,
            label_zh=KEYS[key].label_zh,
            meaning=KEYS[key].meaning,
            source_jurisdiction=source[0],
            source_name=divisions.name_of(source[0]),
            source_version=source[1],
        )
        for key, value in profile.values.items()
        for source in [profile.sources[key]]
    }
    versions = dict(profile.chain)
    chain = [
        ProfileLink(jurisdiction=place, name=divisions.name_of(place), version=versions.get(place))
        for place in [*reversed(divisions.ancestors(code)), code]
    ]
    defaults_only = all(link.version is None for link in chain[1:])
    unset = "、".join(link.name for link in chain[1:] if link.version is None)
    return EffectiveProfile(
        jurisdiction=code,
        jurisdiction_name=divisions.name_of(code),
        version=profile.version,
        values=values,
        chain=chain,
        national_defaults_only=defaults_only,
        note_zh=f"{unset}未设本地配置，适用国家默认值" if defaults_only and unset else None,
    )


class ProfileRead(BaseModel):
    """A jurisdiction's own values (its overrides) at a version; GET /v1/policy/{code} gives the effective ones."""

    jurisdiction: str
    version: int
    values: dict[str, float | int]


@router.put("/policy/{code}", response_model=ProfileRead, tags=["policy"])
async def change_policy(
    code: str, body: ProfileChange, request: Request, response: Response, principal: Admin
) -> ProfileRead:
    """Override keys for a jurisdiction (and below) or stop overriding them; each change is a new version. A value may
    tighten what the levels above set, never loosen it (409 policy_loosened)."""
    upper = None
    if scope(principal, code) != divisions.NATIONAL:
        async with request.app.state.pool.acquire() as conn:
            upper = await effective_profile(conn, divisions.ancestors(code)[0])
    command = ChangeProfile(
        jurisdiction=code,
        set_values=body.set,
        remove=body.remove,
        reason=body.reason,
        now=now(request),
        upper=upper,
    )
    profile = await asyncio.to_thread(registry(request).change_profile, command, caller(request, principal, body))
    set_etag(response, profile.version)
    return ProfileRead(jurisdiction=code, version=profile.version, values=profile.values)


# --- staffing compliance ---------------------------------------------------------------------------------


@router.get("/staffing-compliance", tags=["staffing"])
async def read_staffing(
    request: Request, principal: OfficeReader, jurisdiction: str | None = None, children: bool = False
) -> dict[str, Any]:
    """R1–R4 for the jurisdiction's whole subtree in this instance; with `children`, each child's figures too."""
    code = scope(principal, jurisdiction)
    async with request.app.state.pool.acquire() as conn:
        result = await staffing_compliance(conn, code)
        if children:
            result["children"] = [await staffing_compliance(conn, child.code) for child in divisions.children(code)]
    return result
