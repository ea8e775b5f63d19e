"""What the registry shows without a token: listed inspectors and the schools of their zones."""

from __future__ import annotations

from typing import Any

import asyncpg

from dudao import jurisdiction


async def listed_inspectors(conn: asyncpg.Connection, *, within: str) -> list[dict[str, Any]]:
    """Serving listed inspectors per zone, with the zone's school names: no ids, no other personal data."""
    rows = await conn.fetch(
        "SELECT i.name, z.name AS zone, i.public_contact,"
        " coalesce((SELECT array_agg(s.name ORDER BY s.name) FROM registry.school_directory s WHERE s.zone_id = z.id), '{}')"
        "   AS schools"
        " FROM registry.zones z JOIN registry.inspector_directory i ON i.id = ANY(z.listed_inspectors)"
        " WHERE z.jurisdiction LIKE ANY($1::text[]) AND i.status IN ('appointed', 'filed', 'active', 'suspended')"
        "   AND 'listed' = ANY(i.roles)"
        " ORDER BY z.name, i.name",
        jurisdiction.patterns(within),
    )
    return [dict(r) for r in rows]
