"""What accountability keeps of the registry: policy profiles (deadlines, ladder) and schools' ownership."""

from __future__ import annotations

from typing import Any

import asyncpg

from contracts import registry
from dudao.consumer import InboundEvent
from dudao.profiles import copy_profile

COPY_TABLES = ("profile_copy", "school_copy")


async def copy_registry(conn: asyncpg.Connection, e: InboundEvent) -> None:
    if e.aggregate == "PolicyProfile":
        await copy_profile(conn, "accountability", e)
    elif isinstance(school := registry.PUBLISHED.decode(e), registry.SchoolRegistered):
        await conn.execute(
            "INSERT INTO accountability.school_copy (id, jurisdiction, name, ownership) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            school.aggregate_id,
            school.jurisdiction,
            school.name,
            school.ownership,
        )


async def school_copy(conn: asyncpg.Connection, school_id: str) -> dict[str, Any] | None:
    try:
        row = await conn.fetchrow("SELECT * FROM accountability.school_copy WHERE id = $1::uuid", school_id)
    except (asyncpg.DataError, asyncpg.InvalidTextRepresentationError):
        return None
    return dict(row) if row else None
