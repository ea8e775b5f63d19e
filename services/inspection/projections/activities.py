"""Activities and draws as read models: by school, inspector, jurisdiction; and the visit count for frequency control."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from dudao import jurisdiction
from dudao.consumer import InboundEvent
from dudao.privacy import redact

TABLES_SQL = """
CREATE TABLE IF NOT EXISTS inspection.activities (
    id uuid PRIMARY KEY,
    position bigint NOT NULL UNIQUE,
    jurisdiction text NOT NULL,
    kind text NOT NULL,
    topic text,
    title text NOT NULL,
    target_kind text NOT NULL,
    target_id text NOT NULL,
    target_name text NOT NULL,
    period text NOT NULL,
    planned_month text NOT NULL,
    source text NOT NULL,
    status text NOT NULL,
    leader_id uuid,
    member_ids uuid[] NOT NULL DEFAULT '{}',
    findings jsonb NOT NULL DEFAULT '[]',
    report_summary text,
    grade text,
    public_summary text,
    version integer NOT NULL
);
CREATE INDEX IF NOT EXISTS activities_target ON inspection.activities (target_id, period);
CREATE TABLE IF NOT EXISTS inspection.public_reports (
    activity_id uuid PRIMARY KEY,
    position bigint NOT NULL UNIQUE,
    jurisdiction text NOT NULL,
    kind text NOT NULL,
    title text NOT NULL,
    target_name text NOT NULL,
    period text NOT NULL,
    grade text,
    summary text NOT NULL,
    findings jsonb NOT NULL,
    published_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS inspection.draws (
    id uuid PRIMARY KEY,
    jurisdiction text NOT NULL,
    purpose text NOT NULL,
    seed_hash text NOT NULL,
    seed text,
    targets text[],
    teams jsonb,
    status text NOT NULL,
    version integer NOT NULL
);
"""

_STATUS = {
    "Activity.TeamAssigned": "team_assigned",
    "Activity.Notified": "notified",
    "Activity.SelfEvaluationSubmitted": "self_evaluation_submitted",
    "Activity.OnSiteStarted": "on_site",
    "Activity.FindingsRecorded": "findings_recorded",
    "Activity.ReportDrafted": "report_drafted",
    "Activity.ReportApproved": "report_approved",
    "Activity.ReportIssued": "report_issued",
    "Activity.Published": "published",
}


async def _activity(conn: asyncpg.Connection, e: InboundEvent) -> None:
    d = e.data
    if e.type == "Activity.Planned":
        await conn.execute(
            "INSERT INTO inspection.activities (id, position, jurisdiction, kind, topic, title, target_kind, target_id,"
            " target_name, period, planned_month, source, status, version)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'planned', $13) ON CONFLICT (id) DO NOTHING",
            e.aggregate_id,
            e.position,
            d["jurisdiction"],
            d["kind"],
            d.get("topic"),
            d["title"],
            d["target_kind"],
            d["target_id"],
            d["target_name"],
            d["period"],
            d["planned_month"],
            d["source"],
            e.version,
        )
        return
    # (SET fragment with {} for its parameter, value)
    changes: list[tuple[str, Any]] = [("status = {}", _STATUS[e.type])] if e.type in _STATUS else []
    if e.type == "Activity.TeamAssigned":
        changes += [("leader_id = {}::uuid", d["leader_id"]), ("member_ids = {}::uuid[]", d["member_ids"])]
    elif e.type == "Activity.FindingsRecorded":
        changes.append(("findings = findings || {}::jsonb", json.dumps(d["findings"], ensure_ascii=False, default=str)))
    elif e.type == "Activity.ReportDrafted":
        changes += [("report_summary = {}", d["summary"]), ("grade = {}", d.get("grade"))]
    elif e.type == "Activity.Published":
        changes.append(("public_summary = {}", d["public_summary"]))
        await _publish(conn, e)
    sets = [fragment.format(f"${i + 3}") for i, (fragment, _) in enumerate(changes)] + ["version = $2"]
    await conn.execute(
        f"UPDATE inspection.activities SET {', '.join(sets)} WHERE id = $1 AND version < $2",
        e.aggregate_id,
        e.version,
        *[value for _, value in changes],
    )


async def _publish(conn: asyncpg.Connection, e: InboundEvent) -> None:
    """The public copy of an issued report (报告公开): personal data of pupils, teachers and complainants removed."""
    row = await conn.fetchrow("SELECT * FROM inspection.activities WHERE id = $1", e.aggregate_id)
    if row is None:
        return
    findings = json.loads(row["findings"]) if isinstance(row["findings"], str) else row["findings"]
    public_findings = [
        {
            "area": f["area"],
            "severity": f["severity"],
            "description": redact(f["description"]),
            "needs_rectification": f["needs_rectification"],
        }
        for f in findings
    ]
    await conn.execute(
        "INSERT INTO inspection.public_reports (activity_id, position, jurisdiction, kind, title, target_name, period, grade,"
        " summary, findings, published_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11::text::timestamptz)"
        " ON CONFLICT DO NOTHING",
        e.aggregate_id,
        e.position,
        row["jurisdiction"],
        row["kind"],
        redact(row["title"]),
        redact(row["target_name"]),
        row["period"],
        row["grade"],
        redact(e.data["public_summary"]),
        json.dumps(public_findings, ensure_ascii=False),
        e.data["published_at"],
    )


async def public_report_page(conn: asyncpg.Connection, *, within: str, after: int, limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT * FROM inspection.public_reports WHERE jurisdiction LIKE ANY($1::text[]) AND position > $2 ORDER BY position LIMIT $3",
        jurisdiction.patterns(within),
        after,
        limit,
    )
    out = []
    for r in rows:
        row = dict(r)
        row["findings"] = json.loads(row["findings"])
        out.append(row)
    return out


async def _draw(conn: asyncpg.Connection, e: InboundEvent) -> None:
    d = e.data
    if e.type == "Draw.Announced":
        await conn.execute(
            "INSERT INTO inspection.draws (id, jurisdiction, purpose, seed_hash, status, version)"
            " VALUES ($1, $2, $3, $4, 'announced', $5) ON CONFLICT (id) DO NOTHING",
            e.aggregate_id,
            d["jurisdiction"],
            d["purpose"],
            d["seed_hash"],
            e.version,
        )
    elif e.type == "Draw.Performed":
        await conn.execute(
            "UPDATE inspection.draws SET seed = $3, targets = $4, teams = $5::jsonb, status = 'performed', version = $2"
            " WHERE id = $1 AND version < $2",
            e.aggregate_id,
            e.version,
            d["seed"],
            d["targets"],
            json.dumps(d["teams"]),
        )


async def project(conn: asyncpg.Connection, event: InboundEvent) -> None:
    handler = {"Activity": _activity, "Draw": _draw}.get(event.aggregate)
    if handler is not None:
        await handler(conn, event)


# --- reading ---------------------------------------------------------------------------------------------

COLUMNS = (
    "id, position, jurisdiction, kind, topic, title, target_kind, target_id, target_name, period, planned_month, source,"
    " status, leader_id, member_ids, findings, report_summary, grade, public_summary, version"
)


def _row(record: asyncpg.Record) -> dict[str, Any]:
    row = dict(record)
    row["findings"] = json.loads(row["findings"]) if isinstance(row["findings"], str) else row["findings"]
    return row


REPORTED = ("report_issued", "published")  # the statuses of an activity whose report was issued (印发)


async def activity_page(
    conn: asyncpg.Connection,
    *,
    within: str,
    school_id: str | None,
    inspector_id: str | None,
    status: str | None,
    after: int,
    limit: int,
    report_issued: bool = False,
) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM inspection.activities WHERE jurisdiction LIKE ANY($1::text[]) AND position > $2"
        " AND ($3::text IS NULL OR target_id = $3) AND ($4::uuid IS NULL OR $4 = ANY(member_ids) OR leader_id = $4)"
        " AND ($5::text IS NULL OR status = $5) AND ($7::text[] IS NULL OR status = ANY($7)) ORDER BY position LIMIT $6",
        jurisdiction.patterns(within),
        after,
        school_id,
        inspector_id,
        status,
        limit,
        list(REPORTED) if report_issued else None,
    )
    return [_row(r) for r in rows]


async def activities_by_id(conn: asyncpg.Connection, ids: list[str]) -> list[dict[str, Any]]:
    rows = await conn.fetch(f"SELECT {COLUMNS} FROM inspection.activities WHERE id = ANY($1::uuid[])", ids)
    return [_row(r) for r in rows]


async def visits_in_period(conn: asyncpg.Connection, *, target_id: str, period: str) -> int:
    """How many supervision activities a school already has in a semester (frequency control)."""
    return await conn.fetchval(
        "SELECT count(*) FROM inspection.activities WHERE target_id = $1 AND period = $2", target_id, period
    )


async def draw(conn: asyncpg.Connection, draw_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM inspection.draws WHERE id = $1::uuid", draw_id)
    return dict(row) if row else None


def _draw_row(record: asyncpg.Record) -> dict[str, Any]:
    row = dict(record)
    row["teams"] = json.loads(row["teams"]) if isinstance(row["teams"], str) else row["teams"]
    return row


async def draws_by_id(conn: asyncpg.Connection, ids: list[str]) -> list[dict[str, Any]]:
    rows = await conn.fetch("SELECT * FROM inspection.draws WHERE id = ANY($1::uuid[])", ids)
    return [_draw_row(r) for r in rows]


async def draws_of(conn: asyncpg.Connection, *, inspector_ids: list[str]) -> list[dict[str, Any]]:
    """Performed draws that put any of `inspector_ids` on a team, each with those of them it drew (`drawn`), in one query.

    Draws keep no stream position, so they come in id order: stable, not chronological.
    """
    rows = await conn.fetch(
        "SELECT d.*, array_agg(DISTINCT m.inspector_id) AS drawn FROM inspection.draws d"
        " CROSS JOIN LATERAL jsonb_each(d.teams) AS t(target, members)"
        " CROSS JOIN LATERAL jsonb_array_elements_text(t.members) AS m(inspector_id)"
        " WHERE m.inspector_id = ANY($1::text[]) GROUP BY d.id ORDER BY d.id",
        inspector_ids,
    )
    return [_draw_row(r) for r in rows]


async def load_of(conn: asyncpg.Connection, *, inspector_id: str, period: str) -> int:
    """How many activities an inspector already serves on in a period (for the draw's load limit)."""
    return await conn.fetchval(
        "SELECT count(*) FROM inspection.activities WHERE $1::uuid = ANY(member_ids) AND period = $2",
        inspector_id,
        period,
    )


async def activities_of(
    conn: asyncpg.Connection, *, target_ids: list[str] | None = None, member_ids: list[str] | None = None
) -> list[dict[str, Any]]:
    """Activities whose target is one of `target_ids`, or whose team (leader or member) has one of `member_ids`, in one query."""
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM inspection.activities"
        " WHERE target_id = ANY($1::text[]) OR member_ids && $2::uuid[] OR leader_id = ANY($2::uuid[]) ORDER BY position",
        target_ids or [],
        member_ids or [],
    )
    return [_row(r) for r in rows]
