"""Inspection's own copy of the registry data it needs (schools, inspectors, ties, profiles), fed by registry events.

Inspection never reads the registry's tables: draws, recusal, coverage and frequency limits are
decided from this copy, which any replay of the registry's stream rebuilds.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from dudao import jurisdiction
from dudao.consumer import InboundEvent
from dudao.profiles import PROFILE_COPY_SQL, copy_profile

TABLES_SQL = """
CREATE TABLE IF NOT EXISTS inspection.school_copy (
    id uuid PRIMARY KEY,
    jurisdiction text NOT NULL,
    name text NOT NULL,
    stage text NOT NULL,
    ownership text NOT NULL,
    enrolment integer NOT NULL,
    zone_id uuid,
    responsible_inspector_id uuid,
    version integer NOT NULL
);
CREATE TABLE IF NOT EXISTS inspection.inspector_copy (
    id uuid PRIMARY KEY,
    jurisdiction text NOT NULL,
    name text NOT NULL,
    employment text NOT NULL,
    status text NOT NULL DEFAULT 'nominated',
    roles text[] NOT NULL DEFAULT '{}',
    focus text NOT NULL DEFAULT 'schools',
    stages text[] NOT NULL DEFAULT '{}',
    subjects text[] NOT NULL DEFAULT '{}',
    filed_with text,
    version integer NOT NULL
);
CREATE TABLE IF NOT EXISTS inspection.tie_copy (
    inspector_id uuid NOT NULL,
    unit_id text NOT NULL,
    kind text NOT NULL,
    PRIMARY KEY (inspector_id, unit_id)
);
CREATE TABLE IF NOT EXISTS inspection.zone_copy (
    id uuid PRIMARY KEY,
    jurisdiction text NOT NULL,
    name text NOT NULL,
    version integer NOT NULL
);
""" + PROFILE_COPY_SQL.format(schema="inspection")

_STATUS = {
    "Inspector.Appointed": "appointed",
    "Inspector.Filed": "filed",
    "Inspector.Activated": "active",
    "Inspector.Suspended": "suspended",
    "Inspector.Reinstated": "active",
    "Inspector.Exited": "exited",
}


async def _school(conn: asyncpg.Connection, e: InboundEvent) -> None:
    d = e.data
    if e.type == "School.Registered":
        await conn.execute(
            "INSERT INTO inspection.school_copy (id, jurisdiction, name, stage, ownership, enrolment, version)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
            e.aggregate_id,
            d["jurisdiction"],
            d["name"],
            d["stage"],
            d["ownership"],
            d["enrolment"],
            e.version,
        )
        return
    change = {
        "School.DetailsUpdated": ("name = $3, enrolment = $4", (d.get("name"), d.get("enrolment"))),
        "School.ZoneAssigned": ("zone_id = $3::uuid", (d.get("zone_id"),)),
        "School.ResponsibleInspectorAssigned": ("responsible_inspector_id = $3::uuid", (d.get("inspector_id"),)),
    }.get(e.type)
    if change is None:
        clause, args = "", ()
    else:
        clause, args = change[0] + ", ", change[1]
    await conn.execute(
        f"UPDATE inspection.school_copy SET {clause}version = $2 WHERE id = $1 AND version < $2",
        e.aggregate_id,
        e.version,
        *args,
    )


async def _inspector(conn: asyncpg.Connection, e: InboundEvent) -> None:
    d = e.data
    if e.type == "Inspector.Registered":
        await conn.execute(
            "INSERT INTO inspection.inspector_copy (id, jurisdiction, name, employment, roles, focus, stages, subjects, version)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING",
            e.aggregate_id,
            d["jurisdiction"],
            d["name"],
            d["employment"],
            d.get("roles") or [],
            d.get("focus") or "schools",
            d.get("stages") or [],
            d.get("subjects") or [],
            e.version,
        )
        return
    if e.type == "Inspector.DetailsUpdated":
        clause = "name = $3, employment = $4, roles = $5, focus = $6, stages = $7, subjects = $8, "
        args: tuple[Any, ...] = (
            d["name"],
            d["employment"],
            d.get("roles") or [],
            d.get("focus") or "schools",
            d.get("stages") or [],
            d.get("subjects") or [],
        )
    elif e.type == "Inspector.Filed":  # who it is filed with: an upper office it may serve (a team's rule)
        clause, args = "status = $3, filed_with = $4, ", (_STATUS[e.type], d["filed_with"])
    elif e.type in _STATUS:
        clause, args = "status = $3, ", (_STATUS[e.type],)
    else:
        if e.type == "Inspector.TieDeclared":
            await conn.execute(
                "INSERT INTO inspection.tie_copy (inspector_id, unit_id, kind) VALUES ($1, $2, $3)"
                " ON CONFLICT (inspector_id, unit_id) DO UPDATE SET kind = excluded.kind",
                e.aggregate_id,
                d["unit_id"],
                d["kind"],
            )
        elif e.type == "Inspector.TieWithdrawn":
            await conn.execute(
                "DELETE FROM inspection.tie_copy WHERE inspector_id = $1 AND unit_id = $2", e.aggregate_id, d["unit_id"]
            )
        clause, args = "", ()
    await conn.execute(
        f"UPDATE inspection.inspector_copy SET {clause}version = $2 WHERE id = $1 AND version < $2",
        e.aggregate_id,
        e.version,
        *args,
    )


async def _zone(conn: asyncpg.Connection, e: InboundEvent) -> None:
    if e.type == "Zone.Created":
        await conn.execute(
            "INSERT INTO inspection.zone_copy (id, jurisdiction, name, version) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            e.aggregate_id,
            e.data["jurisdiction"],
            e.data["name"],
            e.version,
        )
    elif e.type == "Zone.Renamed":
        await conn.execute(
            "UPDATE inspection.zone_copy SET name = $3, version = $2 WHERE id = $1 AND version < $2",
            e.aggregate_id,
            e.version,
            e.data["name"],
        )


async def copy(conn: asyncpg.Connection, event: InboundEvent) -> None:
    """Keep what inspection needs from one registry event; the rest of the registry is none of its business."""
    if event.aggregate == "PolicyProfile":
        await copy_profile(conn, "inspection", event)
        return
    handler = {"School": _school, "Inspector": _inspector, "Zone": _zone}.get(event.aggregate)
    if handler is not None:
        await handler(conn, event)


# --- reading ------------------------------------------------------------------------------------------


async def inspectors_by_id(conn: asyncpg.Connection, inspector_ids: list[str]) -> dict[str, dict[str, Any]]:
    """What the registry says of each of these inspectors (those it knows), by id."""
    rows = await conn.fetch(
        "SELECT id::text, name, jurisdiction, status, filed_with FROM inspection.inspector_copy WHERE id = ANY($1::uuid[])",
        inspector_ids,
    )
    return {r["id"]: dict(r) for r in rows}


async def ties_of(conn: asyncpg.Connection, inspector_ids: list[str]) -> dict[str, set[str]]:
    rows = await conn.fetch(
        "SELECT inspector_id::text, unit_id FROM inspection.tie_copy WHERE inspector_id = ANY($1::uuid[])",
        inspector_ids,
    )
    ties: dict[str, set[str]] = {i: set() for i in inspector_ids}
    for r in rows:
        ties[r["inspector_id"]].add(r["unit_id"])
    return ties


async def school(conn: asyncpg.Connection, school_id: str) -> dict[str, Any] | None:
    """The school with this id, or None (also for an id that is no UUID, as no school's is)."""
    try:
        uuid.UUID(school_id)
    except ValueError:
        return None
    row = await conn.fetchrow("SELECT * FROM inspection.school_copy WHERE id = $1::uuid", school_id)
    return dict(row) if row else None


async def schools(
    conn: asyncpg.Connection, *, within: str, stages: list[str] | None, ownership: str | None
) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT * FROM inspection.school_copy WHERE jurisdiction LIKE ANY($1::text[])"
        " AND ($2::text[] IS NULL OR stage = ANY($2)) AND ($3::text IS NULL OR ownership = $3) ORDER BY id",
        jurisdiction.patterns(within),
        stages,
        ownership,
    )
    return [dict(r) for r in rows]


async def active_inspectors(conn: asyncpg.Connection, *, within: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT * FROM inspection.inspector_copy WHERE jurisdiction LIKE ANY($1::text[]) AND status = 'active' ORDER BY id",
        jurisdiction.patterns(within),
    )
    return [dict(r) for r in rows]
