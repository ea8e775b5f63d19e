"""Inspection read models: the registry copy, activities and draws."""

from __future__ import annotations

import asyncpg

from services.inspection.projections import activities, registry_copy

TABLES = ("school_copy", "inspector_copy", "tie_copy", "profile_copy", "activities", "draws")


async def ensure_tables(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute(registry_copy.TABLES_SQL + activities.TABLES_SQL)
