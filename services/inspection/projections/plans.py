"""Annual work plans as a read model."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from dudao.consumer import InboundEvent

TABLES_SQL = """
CREATE TABLE IF NOT EXISTS inspection.plans (
    id uuid PRIMARY KEY,
    jurisdiction text NOT NULL,
    year integer NOT NULL,
    title text NOT NULL,
    status text NOT NULL,
    items jsonb NOT NULL DEFAULT '[]',
    report_to text,
    version integer NOT NULL
);
"""

_STATUS = {"WorkPlan.Approved": "approved", "WorkPlan.Revised": "revised"}


async def project(conn: asyncpg.Connection, e: InboundEvent) -> None:
    d = e.data
    if e.type == "WorkPlan.Drafted":
        await conn.execute(
            "INSERT INTO inspection.plans (id, jurisdiction, year, title, status, version) VALUES ($1, $2, $3, $4, 'draft', $5)"
            " ON CONFLICT DO NOTHING",
            e.aggregate_id,
            d["jurisdiction"],
            d["year"],
            d["title"],
            e.version,
        )
        return
    if e.type in ("WorkPlan.ItemAdded", "WorkPlan.ItemAddedAutomatically"):
        change, args = "items = items || $3::jsonb", [json.dumps([d["item"]], ensure_ascii=False, default=str)]
    elif e.type == "WorkPlan.ItemRemoved":
        change = (
            "items = (SELECT coalesce(jsonb_agg(i), '[]') FROM jsonb_array_elements(items) i WHERE i->>'item_id' <> $3)"
        )
        args = [d["item_id"]]
    elif e.type == "WorkPlan.Approved":
        change, args = "status = 'approved', report_to = $3", [d["report_to"]]
    else:
        change, args = "status = $3", [_STATUS.get(e.type, "draft")]
    await conn.execute(
        f"UPDATE inspection.plans SET {change}, version = $2 WHERE id = $1 AND version < $2",
        e.aggregate_id,
        e.version,
        *args,
    )


async def plan(conn: asyncpg.Connection, plan_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        "SELECT jurisdiction, year, title, status, items, report_to, version FROM inspection.plans WHERE id = $1::uuid",
        plan_id,
    )
    if row is None:
        return None
    out = dict(row)
    out["items"] = json.loads(out["items"])
    return out
