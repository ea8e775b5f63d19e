"""Accountability read models: cases and their items, and the copy of the policy profiles."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from dudao import jurisdiction
from dudao.consumer import InboundEvent
from dudao.profiles import PROFILE_COPY_SQL, copy_profile

TABLES_SQL = """
CREATE TABLE IF NOT EXISTS accountability.cases (
    id uuid PRIMARY KEY,
    position bigint NOT NULL UNIQUE,
    activity_id text NOT NULL,
    jurisdiction text NOT NULL,
    unit_kind text NOT NULL,
    unit_id text NOT NULL,
    unit_name text NOT NULL,
    activity_title text NOT NULL,
    status text NOT NULL,
    items jsonb NOT NULL,
    version integer NOT NULL
);
""" + PROFILE_COPY_SQL.format(schema="accountability")
CASE_TABLES = ("cases",)
COPY_TABLES = ("profile_copy",)


async def ensure_tables(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute(TABLES_SQL)


async def copy_registry(conn: asyncpg.Connection, event: InboundEvent) -> None:
    if event.aggregate == "PolicyProfile":
        await copy_profile(conn, "accountability", event)


async def project(conn: asyncpg.Connection, e: InboundEvent) -> None:
    """Keep each case's row: opened with its items, then every item change as the aggregate recorded it."""
    d = e.data
    if e.type == "RectificationCase.Opened":
        await conn.execute(
            "INSERT INTO accountability.cases (id, position, activity_id, jurisdiction, unit_kind, unit_id, unit_name,"
            " activity_title, status, items, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'opened', $9::jsonb, $10)"
            " ON CONFLICT (id) DO NOTHING",
            e.aggregate_id, e.notification_id, d["activity_id"], d["jurisdiction"], d["unit_kind"], d["unit_id"],
            d["unit_name"], d["activity_title"], json.dumps(d["items"], ensure_ascii=False, default=str), e.version,
        )  # fmt: skip
        return
    status = "in_rectification" if e.type == "RectificationCase.FeedbackGiven" else None
    await conn.execute(
        "UPDATE accountability.cases SET status = coalesce($3, status), version = $2 WHERE id = $1 AND version < $2",
        e.aggregate_id, e.version, status,
    )  # fmt: skip


async def case_page(conn: asyncpg.Connection, *, within: str, unit_id: str | None, after: int, limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT * FROM accountability.cases WHERE jurisdiction LIKE $1 AND ($2::text IS NULL OR unit_id = $2)"
        " AND position > $3 ORDER BY position LIMIT $4",
        jurisdiction.prefix(within) + "%", unit_id, after, limit,
    )  # fmt: skip
    return [dict(r) | {"items": json.loads(r["items"])} for r in rows]
