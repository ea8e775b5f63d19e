"""Inspection read models: the registry copy, activities and draws, routine visits."""

from __future__ import annotations

import asyncpg

from dudao.consumer import InboundEvent
from services.inspection.projections import activities, plans, registry_copy, visits

COPY_TABLES = ("school_copy", "inspector_copy", "tie_copy", "zone_copy", "profile_copy")
OWN_TABLES = ("activities", "draws", "routine_visits", "plans", "public_reports")


async def ensure_tables(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute(registry_copy.TABLES_SQL + activities.TABLES_SQL + visits.TABLES_SQL + plans.TABLES_SQL)


async def project_own(conn: asyncpg.Connection, event: InboundEvent) -> None:
    """Apply one of inspection's own events to its read models."""
    if event.aggregate in ("Activity", "Draw"):
        await activities.project(conn, event)
    elif event.aggregate == "RoutineVisit":
        await visits.project(conn, event)
    elif event.aggregate == "WorkPlan":
        await plans.project(conn, event)
