"""Registry read models: the school and inspector directories, fed by the registry's own events."""

from __future__ import annotations

from typing import Any

import asyncpg

from dudao import jurisdiction
from dudao.consumer import InboundEvent, Undeliverable

SCHEMA = "registry"

TABLES_SQL = """
CREATE TABLE IF NOT EXISTS registry.school_directory (
    id uuid PRIMARY KEY,
    position bigint NOT NULL UNIQUE,
    jurisdiction text NOT NULL,
    name text NOT NULL,
    stage text NOT NULL,
    ownership text NOT NULL,
    enrolment integer NOT NULL,
    version integer NOT NULL,
    registered_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS school_directory_jurisdiction ON registry.school_directory (jurisdiction text_pattern_ops, position);
CREATE TABLE IF NOT EXISTS registry.inspector_directory (
    id uuid PRIMARY KEY,
    position bigint NOT NULL UNIQUE,
    jurisdiction text NOT NULL,
    name text NOT NULL,
    employment text NOT NULL,
    version integer NOT NULL,
    registered_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS inspector_directory_jurisdiction
    ON registry.inspector_directory (jurisdiction text_pattern_ops, position);
"""


async def ensure_tables(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute(TABLES_SQL)


# --- writing: one function per event ------------------------------------------------------------


async def _school_registered(conn: asyncpg.Connection, e: InboundEvent) -> None:
    d = e.data
    await conn.execute(
        "INSERT INTO registry.school_directory"
        " (id, position, jurisdiction, name, stage, ownership, enrolment, version, registered_at, updated_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::text::timestamptz, $9::text::timestamptz)"
        " ON CONFLICT (id) DO NOTHING",
        e.aggregate_id, e.notification_id, d["jurisdiction"], d["name"], d["stage"], d["ownership"],
        d["enrolment"], e.version, d["registered_at"],
    )  # fmt: skip


async def _school_details_updated(conn: asyncpg.Connection, e: InboundEvent) -> None:
    d = e.data
    await conn.execute(
        "UPDATE registry.school_directory SET name = $2, enrolment = $3, version = $4, updated_at = $5::text::timestamptz"
        " WHERE id = $1 AND version < $4",
        e.aggregate_id, d["name"], d["enrolment"], e.version, d["updated_at"],
    )  # fmt: skip


async def _inspector_registered(conn: asyncpg.Connection, e: InboundEvent) -> None:
    d = e.data
    await conn.execute(
        "INSERT INTO registry.inspector_directory"
        " (id, position, jurisdiction, name, employment, version, registered_at, updated_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7::text::timestamptz, $7::text::timestamptz)"
        " ON CONFLICT (id) DO NOTHING",
        e.aggregate_id, e.notification_id, d["jurisdiction"], d["name"], d["employment"], e.version, d["registered_at"],
    )  # fmt: skip


async def _inspector_details_updated(conn: asyncpg.Connection, e: InboundEvent) -> None:
    d = e.data
    await conn.execute(
        "UPDATE registry.inspector_directory SET name = $2, employment = $3, version = $4, updated_at = $5::text::timestamptz"
        " WHERE id = $1 AND version < $4",
        e.aggregate_id, d["name"], d["employment"], e.version, d["updated_at"],
    )  # fmt: skip


HANDLERS = {
    "School.Registered": _school_registered,
    "School.DetailsUpdated": _school_details_updated,
    "Inspector.Registered": _inspector_registered,
    "Inspector.DetailsUpdated": _inspector_details_updated,
}


async def project(conn: asyncpg.Connection, event: InboundEvent) -> None:
    """Apply one registry event to the directories."""
    handler = HANDLERS.get(event.type)
    if handler is None:
        raise Undeliverable(f"the registry directories do not know the event type {event.type!r}")
    try:
        await handler(conn, event)
    except (KeyError, TypeError, ValueError, asyncpg.DataError) as e:
        raise Undeliverable(f"{event.type} has an unusable body: {e!r}") from e


# --- reading ---------------------------------------------------------------------------------------

SCHOOL_COLUMNS = "id, position, jurisdiction, name, stage, ownership, enrolment, version, registered_at, updated_at"
INSPECTOR_COLUMNS = "id, position, jurisdiction, name, employment, version, registered_at, updated_at"


async def _page(
    conn: asyncpg.Connection, table: str, columns: str, within: str, filters: dict[str, str | None], after: int, limit: int
) -> list[dict[str, Any]]:
    clauses, args = ["jurisdiction LIKE $1", "position > $2"], [jurisdiction.prefix(within) + "%", after]
    for column, value in filters.items():
        if value is not None:
            args.append(value)
            clauses.append(f"{column} = ${len(args)}")
    args.append(limit)
    rows = await conn.fetch(
        f"SELECT {columns} FROM registry.{table} WHERE {' AND '.join(clauses)} ORDER BY position LIMIT ${len(args)}", *args
    )
    return [dict(r) for r in rows]


async def school_page(
    conn: asyncpg.Connection, *, within: str, stage: str | None, ownership: str | None, after: int, limit: int
) -> list[dict[str, Any]]:
    """Schools in the subtree of `within`, in registration order, after position `after`."""
    return await _page(
        conn, "school_directory", SCHOOL_COLUMNS, within, {"stage": stage, "ownership": ownership}, after, limit
    )


async def inspector_page(
    conn: asyncpg.Connection, *, within: str, employment: str | None, after: int, limit: int
) -> list[dict[str, Any]]:
    return await _page(conn, "inspector_directory", INSPECTOR_COLUMNS, within, {"employment": employment}, after, limit)


async def schools_by_id(conn: asyncpg.Connection, ids: list[str]) -> list[dict[str, Any]]:
    rows = await conn.fetch(f"SELECT {SCHOOL_COLUMNS} FROM registry.school_directory WHERE id = ANY($1::uuid[])", ids)
    return [dict(r) for r in rows]


async def inspectors_by_id(conn: asyncpg.Connection, ids: list[str]) -> list[dict[str, Any]]:
    rows = await conn.fetch(f"SELECT {INSPECTOR_COLUMNS} FROM registry.inspector_directory WHERE id = ANY($1::uuid[])", ids)
    return [dict(r) for r in rows]
