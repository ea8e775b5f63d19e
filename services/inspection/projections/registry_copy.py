"""Inspection's own copy of the registry data it needs (schools, inspectors, ties, profiles), fed by registry events.

Inspection never reads the registry's tables: draws, recusal, coverage and frequency limits are
decided from this copy, which any replay of the registry's stream rebuilds.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from contracts import registry
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


async def copy(conn: asyncpg.Connection, event: InboundEvent) -> None:
    """Keep what inspection needs from one registry event; the rest of the registry is none of its business."""
    if event.aggregate == "PolicyProfile":
        await copy_profile(conn, "inspection", event)
        return
    table = {"School": "school_copy", "Inspector": "inspector_copy"}.get(event.aggregate)
    match registry.PUBLISHED.decode(event):
        case registry.SchoolRegistered() as e:
            await conn.execute(
                "INSERT INTO inspection.school_copy (id, jurisdiction, name, stage, ownership, enrolment, version)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
                e.aggregate_id,
                e.jurisdiction,
                e.name,
                e.stage,
                e.ownership,
                e.enrolment,
                e.version,
            )
        case registry.SchoolDetailsUpdated() as e:
            await _update(conn, event, "name = $3, enrolment = $4", e.name, e.enrolment)
        case registry.SchoolZoneAssigned() as e:
            await _update(conn, event, "zone_id = $3::uuid", e.zone_id)
        case registry.SchoolResponsibleInspectorAssigned() as e:
            await _update(conn, event, "responsible_inspector_id = $3::uuid", e.inspector_id)
        case registry.InspectorRegistered() as e:
            await conn.execute(
                "INSERT INTO inspection.inspector_copy (id, jurisdiction, name, employment, roles, focus, stages,"
                " subjects, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING",
                e.aggregate_id,
                e.jurisdiction,
                e.name,
                e.employment,
                e.roles or [],
                e.focus or "schools",
                e.stages or [],
                e.subjects or [],
                e.version,
            )
        case registry.InspectorDetailsUpdated() as e:
            await _update(
                conn,
                event,
                "name = $3, employment = $4, roles = $5, focus = $6, stages = $7, subjects = $8",
                e.name,
                e.employment,
                e.roles or [],
                e.focus or "schools",
                e.stages or [],
                e.subjects or [],
            )
        case registry.InspectorFiled() as e:  # who it is filed with: an upper office it may serve (a team's rule)
            await _update(conn, event, "status = $3, filed_with = $4", "filed", e.filed_with)
        case registry.InspectorTieDeclared() as e:
            await conn.execute(
                "INSERT INTO inspection.tie_copy (inspector_id, unit_id, kind) VALUES ($1, $2, $3)"
                " ON CONFLICT (inspector_id, unit_id) DO UPDATE SET kind = excluded.kind",
                e.aggregate_id,
                e.unit_id,
                e.kind,
            )
            await _update(conn, event)
        case registry.InspectorTieWithdrawn() as e:
            await conn.execute(
                "DELETE FROM inspection.tie_copy WHERE inspector_id = $1 AND unit_id = $2", e.aggregate_id, e.unit_id
            )
            await _update(conn, event)
        case registry.ZoneCreated() as e:
            await conn.execute(
                "INSERT INTO inspection.zone_copy (id, jurisdiction, name, version) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT DO NOTHING",
                e.aggregate_id,
                e.jurisdiction,
                e.name,
                e.version,
            )
        case registry.ZoneRenamed() as e:
            await conn.execute(
                "UPDATE inspection.zone_copy SET name = $3, version = $2 WHERE id = $1 AND version < $2",
                e.aggregate_id,
                e.version,
                e.name,
            )
        case contract if type(contract) in registry.INSPECTOR_STATUS:
            await _update(conn, event, "status = $3", registry.INSPECTOR_STATUS[type(contract)])
        case _ if table is not None:  # any other event of a school or inspector: its version moves on
            await _update(conn, event)


async def _update(conn: asyncpg.Connection, event: InboundEvent, clause: str = "", *args: Any) -> None:
    """Set `clause` (over $3 …) and the version on the copied school or inspector, unless this version is old news."""
    table = {"School": "school_copy", "Inspector": "inspector_copy"}[event.aggregate]
    await conn.execute(
        f"UPDATE inspection.{table} SET {clause + ', ' if clause else ''}version = $2 WHERE id = $1 AND version < $2",
        event.aggregate_id,
        event.version,
        *args,
    )


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
