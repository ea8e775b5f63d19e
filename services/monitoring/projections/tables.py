"""The monitoring read tables (schema `monitoring`)."""

from __future__ import annotations

import asyncpg

from services.monitoring.projections import collection, operations


async def ensure_tables(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        for sql in (collection.TABLES_SQL, operations.TABLES_SQL):
            await conn.execute(sql)
