"""Interviews, circulars, accountability decisions and commendations as rows; the restrictions circulars impose;
and what the public sees once an outcome is published."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import asyncpg

from dudao import jurisdiction as divisions
from dudao.consumer import InboundEvent
from dudao.privacy import redact
from dudao.remembered import Remembered
from services.accountability.domain.terms import AccountabilityTrigger, CircularTrigger, Sanction

MEASURE_TABLES = ("measures", "restrictions")
KINDS = {
    "Interview": "interview",
    "Circular": "circular",
    "AccountabilityDecision": "decision",
    "Commendation": "commendation",
}
# The event that creates each kind of measure, and the status it starts in.
CREATED = {"Proposed": "proposed", "Decided": "decided", "Awarded": "awarded"}
# What each later event sets the status to (None: status unchanged; details still grow).
STATUS_AFTER = {"Recorded": "recorded", "Filed": "filed", "Issued": "issued", "Published": "published"}


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


async def project_measure(conn: asyncpg.Connection, e: InboundEvent) -> None:
    """Apply one measure event: the row's status and details, and a circular's restrictions."""
    d, name = e.data, e.type.split(".")[1]
    kind = KINDS.get(e.aggregate)
    if kind is None:
        return
    if name in CREATED:
        unit = d["unit"]
        await conn.execute(
            "INSERT INTO accountability.measures (id, position, kind, jurisdiction, unit_kind, unit_id, unit_name, status, trigger,"
            " case_id, details, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12) ON CONFLICT (id) DO NOTHING",
            e.aggregate_id,
            e.position,
            kind,
            unit["jurisdiction"],
            unit["unit_kind"],
            unit["unit_id"],
            unit["unit_name"],
            CREATED[name],
            d.get("trigger"),
            d.get("case_id"),
            _json({k: v for k, v in d.items() if k not in ("unit", "timestamp")}),
            e.version,
        )
        return
    applied = await conn.fetchval(
        "UPDATE accountability.measures SET version = $2, status = coalesce($3, status),"
        " details = details || jsonb_build_object($4::text, $5::jsonb) WHERE id = $1 AND version < $2 RETURNING jurisdiction",
        e.aggregate_id,
        e.version,
        STATUS_AFTER.get(name),
        _key(name, e.version),
        _json({k: v for k, v in d.items() if k != "timestamp"}),
    )
    if applied is None:
        return
    if name == "Published":
        await conn.execute(
            "UPDATE accountability.measures SET public_text = $2, published_on = $3, public_version = $4 WHERE id = $1",
            e.aggregate_id,
            redact(d["public_text"]),
            date.fromisoformat(d["published_on"]),
            d.get("public_version", 1),  # the one redaction
        )
    if e.aggregate == "Circular" and name == "Issued":
        await conn.executemany(
            "INSERT INTO accountability.restrictions (circular_id, jurisdiction, unit_id, unit_name, name, post, issued_on, restricted_until)"
            " SELECT id, jurisdiction, unit_id, unit_name, $2, $3, $4, $5 FROM accountability.measures WHERE id = $1 ON CONFLICT DO NOTHING",
            [
                (
                    e.aggregate_id,
                    p["name"],
                    p["post"],
                    date.fromisoformat(d["issued_on"]),
                    date.fromisoformat(d["restricted_until"]),
                )
                for p in d["leaders"]
            ],
        )


def _key(name: str, version: int) -> str:
    """Details keep each later event under its own name; repeatable ones (transfers, sanctions) by version."""
    return name if name in STATUS_AFTER else f"{name}@{version}"


# --- reads ---------------------------------------------------------------------------------------------------


def _measure(row: asyncpg.Record) -> dict[str, Any]:
    return dict(row) | {"details": json.loads(row["details"])}


async def measure_row(conn: asyncpg.Connection, measure_id: Any) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM accountability.measures WHERE id = $1", measure_id)
    return _measure(row) if row else None


async def measure_page(
    conn: asyncpg.Connection, *, kind: str | None, within: str, unit_id: str | None, after: int, limit: int
) -> list[dict[str, Any]]:
    """Measures of one kind (or of every kind) in a jurisdiction's subtree, in the order they were first recorded."""
    rows = await conn.fetch(
        "SELECT * FROM accountability.measures WHERE ($1::text IS NULL OR kind = $1) AND jurisdiction LIKE ANY($2::text[])"
        " AND ($3::text IS NULL OR unit_id = $3)"
        " AND position > $4 ORDER BY position LIMIT $5",
        kind,
        divisions.patterns(within),
        unit_id,
        after,
        limit,
    )
    return [_measure(r) for r in rows]


async def measures_by_id(conn: asyncpg.Connection, measure_ids: list[Any]) -> list[dict[str, Any]]:
    rows = await conn.fetch("SELECT * FROM accountability.measures WHERE id = ANY($1::uuid[])", measure_ids)
    return [_measure(r) for r in rows]


# Remembered until the measures change (decision 044): every office's start page asks for them.
COUNTS = Remembered("accountability", "measures")


async def measure_counts(conn: asyncpg.Connection, *, within: str) -> list[dict[str, Any]]:
    """How many measures of each kind stand in each status, over a jurisdiction and everything under it."""
    return await COUNTS.answer(conn, within, lambda: _measure_counts_now(conn, within))


async def _measure_counts_now(conn: asyncpg.Connection, within: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT kind, status, count(*) AS count FROM accountability.measures WHERE jurisdiction LIKE ANY($1::text[])"
        " GROUP BY kind, status ORDER BY kind, status",
        divisions.patterns(within),
    )
    return [dict(r) for r in rows]


async def restrictions(
    conn: asyncpg.Connection, *, within: str, today: date, unit_id: str | None = None
) -> list[dict[str, Any]]:
    """Leaders who may not be commended, promoted or moved to key posts today, and until when (of one unit, or all)."""
    rows = await conn.fetch(
        "SELECT * FROM accountability.restrictions WHERE jurisdiction LIKE ANY($1::text[]) AND restricted_until >= $2"
        " AND ($3::text IS NULL OR unit_id = $3) ORDER BY restricted_until, unit_name, name",
        divisions.patterns(within),
        today,
        unit_id,
    )
    return [dict(r) for r in rows]


async def restricted_names(conn: asyncpg.Connection, *, unit_id: str, today: date) -> set[str]:
    rows = await conn.fetch(
        "SELECT DISTINCT name FROM accountability.restrictions WHERE unit_id = $1 AND restricted_until >= $2",
        unit_id,
        today,
    )
    return {r["name"] for r in rows}


# What the public reads instead of codes (issue 19): each published kind, and the closed list its trigger comes from.
PUBLIC_KINDS_ZH = {"circular": "通报", "decision": "问责决定", "commendation": "表彰"}
TRIGGERS = {"circular": CircularTrigger, "decision": AccountabilityTrigger}


def trigger_label(kind: str, trigger: str | None) -> str | None:
    labels = TRIGGERS.get(kind)
    return labels(trigger).label_zh if labels and trigger in labels._value2member_map_ else None


async def public_outcomes(conn: asyncpg.Connection, *, within: str, after: int, limit: int) -> list[dict[str, Any]]:
    """Published circulars, accountability decisions and commendations: what the public may see, in Chinese."""
    rows = await conn.fetch(
        "SELECT id, position, kind, jurisdiction, unit_name, trigger, public_text, published_on, public_version,"
        " coalesce(details->'sanctions', '[]') AS sanctions FROM accountability.measures"
        " WHERE published_on IS NOT NULL AND jurisdiction LIKE ANY($1::text[]) AND position > $2 ORDER BY position LIMIT $3",
        divisions.patterns(within),
        after,
        limit,
    )
    return [_public_outcome(dict(r)) for r in rows]


def _public_outcome(row: dict[str, Any]) -> dict[str, Any]:
    """A decision's sanctions on a private school are public (they are the school's, not a person's); the people
    it names and what is done to them are not."""
    sanctions = json.loads(row["sanctions"])
    return row | {
        "kind_label_zh": PUBLIC_KINDS_ZH.get(row["kind"], row["kind"]),
        "trigger_label_zh": trigger_label(row["kind"], row["trigger"]),
        "sanctions": sanctions,
        "sanctions_label_zh": [Sanction(s).label_zh for s in sanctions],
    }
