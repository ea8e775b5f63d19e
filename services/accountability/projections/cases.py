"""Cases, their items and the supervision notices, kept from the case events; and what is read from them."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import asyncpg

from dudao import jurisdiction as divisions
from dudao.consumer import InboundEvent
from dudao.privacy import redact
from dudao.remembered import Remembered

CASE_TABLES = ("cases", "items", "notices")
UNACCEPTED = ("awaiting_report", "reported", "rejected", "rebounded")


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


async def project_case(conn: asyncpg.Connection, e: InboundEvent) -> None:
    """Apply one RectificationCase event to the case row, its items and the notices."""
    d, case = e.data, e.aggregate_id
    if e.aggregate != "RectificationCase":
        return
    if e.type == "RectificationCase.Opened":
        await _opened(conn, e)
        return
    applied = await conn.fetchval(
        "UPDATE accountability.cases SET version = $2 WHERE id = $1 AND version < $2 RETURNING id", case, e.version
    )
    if applied is None:  # seen already
        return
    item = d.get("item_id")
    match e.type.split(".")[1]:
        case "FeedbackGiven":
            await conn.execute("UPDATE accountability.cases SET feedback = $2::jsonb WHERE id = $1", case, _json(d))
            for item_id, deadline in d["deadlines"].items():
                await _item(conn, case, item_id, status="awaiting_report", deadline=date.fromisoformat(deadline))
        case "DeadlineChanged":
            await _item(conn, case, item, deadline=date.fromisoformat(d["deadline"]))
        case "ItemReported":
            await conn.execute(
                "UPDATE accountability.items SET status = 'reported', reports = reports + 1 WHERE case_id = $1 AND item_id = $2",
                case,
                item,
            )
        case "ItemAccepted":
            await conn.execute(
                "UPDATE accountability.items SET status = 'accepted', accepted_on = $3, recheck_due = $4,"
                " accepted_on_time = coalesce(accepted_on_time, lapses = 0) WHERE case_id = $1 AND item_id = $2",
                case,
                item,
                date.fromisoformat(d["accepted_on"]),
                date.fromisoformat(d["recheck_due"]),
            )
        case "ItemRejected":
            await _item(conn, case, item, status="rejected")
        case "NoticeIssued":
            await _item(conn, case, item, lapses=d["lapse"], deadline=date.fromisoformat(d["new_deadline"]))
            await conn.execute(
                "INSERT INTO accountability.notices (position, case_id, item_id, lapse, jurisdiction, unit_id, unit_name,"
                " missed_deadline, new_deadline, issued_on, basis) SELECT $1, id, $3, $4, jurisdiction, unit_id, unit_name, $5, $6, $7, $8"
                " FROM accountability.cases WHERE id = $2 ON CONFLICT DO NOTHING",
                e.position,
                case,
                item,
                d["lapse"],
                date.fromisoformat(d["missed_deadline"]),
                date.fromisoformat(d["new_deadline"]),
                date.fromisoformat(d["issued_on"]),
                d["basis"],
            )
        case "Escalated":
            await conn.execute(
                "UPDATE accountability.items SET escalations = escalations || jsonb_build_object($3::text, $4::text)"
                " WHERE case_id = $1 AND item_id = $2",
                case,
                item,
                d["step"],
                d["measure_id"],
            )
        case "ItemRechecked" if not d["passed"]:
            await conn.execute(
                "UPDATE accountability.items SET status = 'rebounded', rebounds = rebounds + 1, deadline = $3, recheck_due = NULL"
                " WHERE case_id = $1 AND item_id = $2",
                case,
                item,
                date.fromisoformat(d["new_deadline"]),
            )
        case "ItemRechecked":
            await conn.execute(
                "UPDATE accountability.items SET recheck_due = NULL WHERE case_id = $1 AND item_id = $2", case, item
            )
        case "StatementPublished":
            public = d | {"text": redact(d["text"])}  # a statement is for the public: through the one redaction
            await conn.execute(
                "UPDATE accountability.cases SET statement = $2::jsonb WHERE id = $1", case, _json(public)
            )
    await conn.execute(
        "UPDATE accountability.cases c SET status = CASE WHEN c.feedback IS NULL THEN 'opened' WHEN EXISTS"
        " (SELECT 1 FROM accountability.items i WHERE i.case_id = c.id AND i.status <> 'accepted') THEN 'in_rectification'"
        " ELSE 'closed' END WHERE id = $1",
        case,
    )


async def _opened(conn: asyncpg.Connection, e: InboundEvent) -> None:
    d = e.data
    inserted = await conn.fetchval(
        "INSERT INTO accountability.cases (id, position, activity_id, jurisdiction, unit_kind, unit_id, unit_name, activity_title,"
        " status, opened_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'opened', $9, $10) ON CONFLICT (id) DO NOTHING RETURNING id",
        e.aggregate_id,
        e.position,
        d["activity_id"],
        d["jurisdiction"],
        d["unit_kind"],
        d["unit_id"],
        d["unit_name"],
        d["activity_title"],
        datetime.fromisoformat(d["opened_at"]),
        e.version,
    )
    if inserted is None:
        return
    await conn.executemany(
        "INSERT INTO accountability.items (case_id, item_id, jurisdiction, unit_id, unit_name, area, severity, description, status)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open')",
        [
            (
                e.aggregate_id,
                i["item_id"],
                d["jurisdiction"],
                d["unit_id"],
                d["unit_name"],
                i["area"],
                i["severity"],
                i["description"],
            )
            for i in d["items"]
        ],
    )


async def _item(conn: asyncpg.Connection, case: Any, item_id: str, **changes: Any) -> None:
    columns = ", ".join(f"{name} = ${i}" for i, name in enumerate(changes, start=3))
    await conn.execute(
        f"UPDATE accountability.items SET {columns} WHERE case_id = $1 AND item_id = $2",
        case,
        item_id,
        *changes.values(),
    )


# --- reads ---------------------------------------------------------------------------------------------------


def _case(row: asyncpg.Record) -> dict[str, Any]:
    out = dict(row)
    for key in ("feedback", "statement"):
        out[key] = json.loads(out[key]) if out[key] else None
    return out


def _item_dict(row: asyncpg.Record) -> dict[str, Any]:
    return dict(row) | {"escalations": json.loads(row["escalations"])}


async def case_page(
    conn: asyncpg.Connection, *, within: str, unit_id: str | None, status: str | None, after: int, limit: int
) -> list[dict]:
    rows = await conn.fetch(
        "SELECT * FROM accountability.cases WHERE jurisdiction LIKE ANY($1::text[]) AND ($2::text IS NULL OR unit_id = $2)"
        " AND ($3::text IS NULL OR status = $3) AND position > $4 ORDER BY position LIMIT $5",
        divisions.patterns(within),
        unit_id,
        status,
        after,
        limit,
    )
    return [_case(r) for r in rows]


async def case_row(conn: asyncpg.Connection, case_id: Any) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM accountability.cases WHERE id = $1", case_id)
    return _case(row) if row else None


async def item_rows(conn: asyncpg.Connection, case_ids: list[Any]) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT * FROM accountability.items WHERE case_id = ANY($1::uuid[]) ORDER BY case_id, item_id", case_ids
    )
    return [_item_dict(r) for r in rows]


async def cases_of(
    conn: asyncpg.Connection,
    *,
    unit_ids: list[str] | None = None,
    activity_ids: list[str] | None = None,
    open_only: bool = False,
) -> list[dict[str, Any]]:
    """Cases of any of `unit_ids`, or opened from any of `activity_ids`, in one query (for the gateway's batching)."""
    rows = await conn.fetch(
        "SELECT * FROM accountability.cases WHERE (unit_id = ANY($1::text[]) OR activity_id = ANY($2::text[]))"
        " AND NOT ($3 AND status = 'closed') ORDER BY position",
        unit_ids or [],
        activity_ids or [],
        open_only,
    )
    return [_case(r) for r in rows]


async def cases_by_id(conn: asyncpg.Connection, case_ids: list[Any]) -> list[dict[str, Any]]:
    rows = await conn.fetch("SELECT * FROM accountability.cases WHERE id = ANY($1::uuid[])", case_ids)
    return [_case(r) for r in rows]


async def notice_rows(conn: asyncpg.Connection, case_ids: list[Any]) -> list[dict[str, Any]]:
    """The supervision notices issued on the items of these cases, oldest lapse first."""
    rows = await conn.fetch(
        "SELECT case_id, item_id, lapse, missed_deadline, new_deadline, issued_on, basis FROM accountability.notices"
        " WHERE case_id = ANY($1::uuid[]) ORDER BY case_id, item_id, lapse",
        case_ids,
    )
    return [dict(r) for r in rows]


async def overdue_items(
    conn: asyncpg.Connection, today: date, within: str = divisions.NATIONAL
) -> list[dict[str, Any]]:
    """Items past their deadline and not accepted in a subtree (what the deadline sweeper notices)."""
    rows = await conn.fetch(
        "SELECT case_id, item_id, lapses, jurisdiction FROM accountability.items"
        " WHERE status = ANY($1::text[]) AND deadline < $2 AND jurisdiction LIKE ANY($3::text[]) ORDER BY deadline, case_id, item_id",
        list(UNACCEPTED),
        today,
        divisions.patterns(within),
    )
    return [dict(r) for r in rows]


async def overdue_page(conn: asyncpg.Connection, *, within: str, today: date, limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT * FROM accountability.items WHERE jurisdiction LIKE ANY($1::text[]) AND status = ANY($2::text[]) AND deadline < $3"
        " ORDER BY deadline, case_id, item_id LIMIT $4",
        divisions.patterns(within),
        list(UNACCEPTED),
        today,
        limit,
    )
    return [_item_dict(r) for r in rows]


async def notice_page(
    conn: asyncpg.Connection, *, within: str, unit_id: str | None, after: int, limit: int
) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT * FROM accountability.notices WHERE jurisdiction LIKE ANY($1::text[]) AND ($2::text IS NULL OR unit_id = $2)"
        " AND position > $3 ORDER BY position LIMIT $4",
        divisions.patterns(within),
        unit_id,
        after,
        limit,
    )
    return [dict(r) for r in rows]


# Remembered until the cases change (decision 044): every office's start page asks for it.
SUMMARY = Remembered("accountability", "cases")


async def summary(conn: asyncpg.Connection, *, within: str, today: date) -> dict[str, Any]:
    """The figures an office watches, over a jurisdiction and everything under it, all from one moment (one
    statement: one snapshot, one round trip).

    Rebound rate: items that came back at a re-check, over items ever accepted.
    On-time rate: items accepted the first time without a supervision notice, over items that were
    accepted or got a notice (items still inside their first deadline are not judged yet).
    """
    return await SUMMARY.answer(conn, (within, today), lambda: _summary_now(conn, within, today))


async def _summary_now(conn: asyncpg.Connection, within: str, today: date) -> dict[str, Any]:
    figures = await conn.fetchrow(
        "SELECT * FROM"
        " (SELECT count(*) FILTER (WHERE status <> 'closed') AS open_cases,"
        "   count(*) FILTER (WHERE status = 'closed') AS closed_cases"
        "   FROM accountability.cases WHERE jurisdiction LIKE ANY($1::text[])) AS cases,"
        " (SELECT count(*) AS items,"
        "   count(*) FILTER (WHERE status = ANY($2::text[]) AND deadline < $3) AS overdue_items,"
        "   count(*) FILTER (WHERE accepted_on_time IS NOT NULL) AS ever_accepted,"
        "   count(*) FILTER (WHERE rebounds > 0) AS rebounded,"
        "   count(*) FILTER (WHERE accepted_on_time) AS on_time,"
        "   count(*) FILTER (WHERE accepted_on_time IS NOT NULL OR lapses > 0) AS judged"
        "   FROM accountability.items WHERE jurisdiction LIKE ANY($1::text[])) AS items,"
        " (SELECT count(*) AS notices FROM accountability.notices WHERE jurisdiction LIKE ANY($1::text[])) AS notices",
        divisions.patterns(within),
        list(UNACCEPTED),
        today,
    )
    return {
        "jurisdiction": within,
        "as_of": today,
        **{name: figures[name] for name in ("open_cases", "closed_cases", "items", "overdue_items")},
        "notices_issued": figures["notices"],
        "rebound_rate": figures["rebounded"] / figures["ever_accepted"] if figures["ever_accepted"] else None,
        "on_time_rate": figures["on_time"] / figures["judged"] if figures["judged"] else None,
    }
