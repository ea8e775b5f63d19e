"""Zones, committees and policy profiles as read models."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from dudao import jurisdiction
from dudao.consumer import InboundEvent
from dudao.personal import reveal_all
from dudao.profiles import keep_profile

TABLES_SQL = """
CREATE TABLE IF NOT EXISTS registry.zones (
    id uuid PRIMARY KEY,
    jurisdiction text NOT NULL,
    name text NOT NULL,
    listed_inspectors uuid[] NOT NULL DEFAULT '{}',
    version integer NOT NULL
);
CREATE TABLE IF NOT EXISTS registry.committees (
    jurisdiction text PRIMARY KEY,
    id uuid NOT NULL UNIQUE,
    members jsonb NOT NULL,
    version integer NOT NULL
);
CREATE TABLE IF NOT EXISTS registry.committee_meetings (
    jurisdiction text NOT NULL,
    version integer NOT NULL,
    held_on date NOT NULL,
    topic text NOT NULL,
    on_education boolean NOT NULL,
    PRIMARY KEY (jurisdiction, version)
);
CREATE TABLE IF NOT EXISTS registry.member_unit_participation (
    jurisdiction text NOT NULL,
    unit_name text NOT NULL,
    year integer NOT NULL,
    activity_id text NOT NULL,
    PRIMARY KEY (jurisdiction, unit_name, year, activity_id)
);
CREATE TABLE IF NOT EXISTS registry.townships (
    code text PRIMARY KEY,
    id uuid NOT NULL UNIQUE,
    county text NOT NULL,
    name text NOT NULL,
    version integer NOT NULL
);
CREATE TABLE IF NOT EXISTS registry.policy_profiles (
    jurisdiction text PRIMARY KEY,
    id uuid NOT NULL UNIQUE,
    version integer NOT NULL,
    values jsonb NOT NULL,
    reason text NOT NULL,
    origin text NOT NULL
);
"""


async def _zone_created(conn: asyncpg.Connection, e: InboundEvent) -> None:
    await conn.execute(
        "INSERT INTO registry.zones (id, jurisdiction, name, version) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        e.aggregate_id,
        e.data["jurisdiction"],
        e.data["name"],
        e.version,
    )


async def _zone_changed(conn: asyncpg.Connection, e: InboundEvent) -> None:
    change = {
        "Zone.Renamed": ("name = $3", e.data.get("name")),
        "Zone.ListedInspectorAdded": (
            "listed_inspectors = array_append(listed_inspectors, $3::uuid)",
            e.data.get("inspector_id"),
        ),
        "Zone.ListedInspectorRemoved": (
            "listed_inspectors = array_remove(listed_inspectors, $3::uuid)",
            e.data.get("inspector_id"),
        ),
    }[e.type]
    await conn.execute(
        f"UPDATE registry.zones SET {change[0]}, version = $2 WHERE id = $1 AND version < $2",
        e.aggregate_id,
        e.version,
        change[1],
    )


async def _committee(conn: asyncpg.Connection, e: InboundEvent) -> None:
    await conn.execute(
        "INSERT INTO registry.committees (jurisdiction, id, members, version) VALUES ($1, $2, $3::jsonb, $4)"
        " ON CONFLICT (jurisdiction) DO UPDATE SET members = excluded.members, version = excluded.version"
        " WHERE registry.committees.version < excluded.version",
        e.data.get("jurisdiction") or await _committee_jurisdiction(conn, e),
        e.aggregate_id,
        json.dumps(e.data["members"], ensure_ascii=False),
        e.version,
    )


async def _bump_committee(conn: asyncpg.Connection, e: InboundEvent) -> None:
    await conn.execute(
        "UPDATE registry.committees SET version = $2 WHERE id = $1 AND version < $2", e.aggregate_id, e.version
    )


async def _committee_jurisdiction(conn: asyncpg.Connection, e: InboundEvent) -> str:
    return await conn.fetchval("SELECT jurisdiction FROM registry.committees WHERE id = $1", e.aggregate_id)


async def _meeting(conn: asyncpg.Connection, e: InboundEvent) -> None:
    d = e.data
    await _bump_committee(conn, e)
    await conn.execute(
        "INSERT INTO registry.committee_meetings (jurisdiction, version, held_on, topic, on_education)"
        " VALUES ($1, $2, $3::text::date, $4, $5) ON CONFLICT DO NOTHING",
        await _committee_jurisdiction(conn, e),
        e.version,
        d["held_on"],
        d["topic"],
        d["on_education"],
    )


async def _participation(conn: asyncpg.Connection, e: InboundEvent) -> None:
    d = e.data
    await _bump_committee(conn, e)
    await conn.execute(
        "INSERT INTO registry.member_unit_participation (jurisdiction, unit_name, year, activity_id)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        await _committee_jurisdiction(conn, e),
        d["unit_name"],
        d["year"],
        d["activity_id"],
    )


async def _township(conn: asyncpg.Connection, e: InboundEvent) -> None:
    if e.type == "Township.Named":
        await conn.execute(
            "INSERT INTO registry.townships (code, id, county, name, version) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            e.data["code"],
            e.aggregate_id,
            e.data["county"],
            e.data["name"],
            e.version,
        )
    else:
        await conn.execute(
            "UPDATE registry.townships SET name = $3, version = $2 WHERE id = $1 AND version < $2",
            e.aggregate_id,
            e.version,
            e.data["name"],
        )


async def _profile(conn: asyncpg.Connection, e: InboundEvent) -> None:
    await keep_profile(conn, "registry.policy_profiles", e, reason=e.data["reason"])


HANDLERS = {
    "Zone.Created": _zone_created,
    "Zone.Renamed": _zone_changed,
    "Zone.ListedInspectorAdded": _zone_changed,
    "Zone.ListedInspectorRemoved": _zone_changed,
    "Committee.Constituted": _committee,
    "Committee.CompositionChanged": _committee,
    "Committee.MeetingRecorded": _meeting,
    "Committee.MemberUnitParticipated": _participation,
    "Township.Named": _township,
    "Township.Renamed": _township,
    "PolicyProfile.Created": _profile,
    "PolicyProfile.Changed": _profile,
}


# --- reading -------------------------------------------------------------------------------------------


async def zone_page(conn: asyncpg.Connection, *, within: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT id, jurisdiction, name, listed_inspectors, version FROM registry.zones WHERE jurisdiction LIKE ANY($1::text[]) ORDER BY name",
        jurisdiction.patterns(within),
    )
    return [dict(r) for r in rows]


async def zones_by_id(conn: asyncpg.Connection, ids: list[str]) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT id, jurisdiction, name, listed_inspectors, version FROM registry.zones WHERE id = ANY($1::uuid[])", ids
    )
    return [dict(r) for r in rows]


async def committee(conn: asyncpg.Connection, code: str, holder: str) -> dict[str, Any] | None:
    """The committee of `code`, its member units' contact phones revealed with the keys this instance (`holder`) has."""
    row = await conn.fetchrow(
        "SELECT jurisdiction, id, members, version FROM registry.committees WHERE jurisdiction = $1", code
    )
    if row is None:
        return None
    out = dict(row)
    out["members"] = members = json.loads(out["members"])
    phones = await reveal_all(conn, "registry", holder, [u.get("contact_phone") for u in members["member_units"]])
    members["member_units"] = [{**u, "contact_phone": p} for u, p in zip(members["member_units"], phones, strict=True)]
    return out


async def committees_short_of_meetings(conn: asyncpg.Connection, *, within: str, year: int) -> list[dict[str, Any]]:
    """Committees and their meetings on education in `year` (the caller compares with each place's minimum)."""
    rows = await conn.fetch(
        "SELECT c.jurisdiction, count(m.held_on) FILTER (WHERE m.on_education) AS education_meetings"
        " FROM registry.committees c LEFT JOIN registry.committee_meetings m"
        "   ON m.jurisdiction = c.jurisdiction AND extract(year FROM m.held_on) = $2"
        " WHERE c.jurisdiction LIKE ANY($1::text[]) GROUP BY c.jurisdiction ORDER BY c.jurisdiction",
        jurisdiction.patterns(within),
        year,
    )
    return [dict(r) for r in rows]


async def member_unit_activity(conn: asyncpg.Connection, *, within: str, year: int) -> list[dict[str, Any]]:
    """Every member unit of the committees in the subtree with its number of activities in `year`."""
    rows = await conn.fetch(
        "SELECT c.jurisdiction, u->>'name' AS unit_name, u->>'contact_person' AS contact_person,"
        " (SELECT count(*) FROM registry.member_unit_participation p"
        "   WHERE p.jurisdiction = c.jurisdiction AND p.unit_name = u->>'name' AND p.year = $2) AS activities"
        " FROM registry.committees c, jsonb_array_elements(c.members->'member_units') u"
        " WHERE c.jurisdiction LIKE ANY($1::text[]) ORDER BY c.jurisdiction, unit_name",
        jurisdiction.patterns(within),
        year,
    )
    return [dict(r) for r in rows]


async def profiles_along(conn: asyncpg.Connection, codes: list[str]) -> dict[str, tuple[int, dict[str, Any]]]:
    """The own values and version of each place's profile, for the places given."""
    rows = await conn.fetch(
        "SELECT jurisdiction, version, values FROM registry.policy_profiles WHERE jurisdiction = ANY($1::text[])", codes
    )
    return {r["jurisdiction"]: (r["version"], json.loads(r["values"])) for r in rows}


async def zones_listing(conn: asyncpg.Connection, inspector_ids: list[str]) -> dict[str, list[str]]:
    """For each inspector, the zones where they are listed."""
    rows = await conn.fetch(
        "SELECT i::text AS inspector_id, array_agg(z.id::text ORDER BY z.name) AS zones"
        " FROM registry.zones z, unnest(z.listed_inspectors) i WHERE i = ANY($1::uuid[]) GROUP BY i",
        inspector_ids,
    )
    return {r["inspector_id"]: list(r["zones"]) for r in rows}


async def zone_coverage(conn: asyncpg.Connection, *, within: str) -> dict[str, list[dict[str, Any]]]:
    """Schools not yet in a zone, and schools without a responsible inspector: both should be empty."""
    like = jurisdiction.patterns(within)
    columns = "id, name, jurisdiction"
    return {
        "without_zone": [
            dict(r)
            for r in await conn.fetch(
                f"SELECT {columns} FROM registry.school_directory WHERE jurisdiction LIKE ANY($1::text[]) AND zone_id IS NULL ORDER BY position",
                like,
            )
        ],
        "without_responsible_inspector": [
            dict(r)
            for r in await conn.fetch(
                f"SELECT {columns} FROM registry.school_directory WHERE jurisdiction LIKE ANY($1::text[]) AND responsible_inspector_id IS NULL"
                " ORDER BY position",
                like,
            )
        ],
    }


async def townships(conn: asyncpg.Connection, *, within: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT code, county, name, version FROM registry.townships WHERE code LIKE ANY($1::text[]) ORDER BY code",
        jurisdiction.patterns(within),
    )
    return [dict(r) for r in rows]


async def township_names(conn: asyncpg.Connection, codes: list[str]) -> dict[str, str]:
    rows = await conn.fetch("SELECT code, name FROM registry.townships WHERE code = ANY($1::text[])", codes)
    return {r["code"]: r["name"] for r in rows}
