"""Frameworks, periods, submissions, level approvals and agency assignments as read tables; a submission's change
marks its results due, and `areas.settle_results` derives them (each unit's, each jurisdiction's part, each level's
area) at the end of the same transaction.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import asyncpg

from dudao.consumer import InboundEvent
from services.monitoring.domain.collection import home_level

COLLECTION_TABLES = (
    "frameworks",
    "framework_periods",
    "submissions",
    "levels",
    "assignments",
    "unit_results",
    "area_parts",
    "area_results",
    "results_due",
)

TABLES_SQL = """
CREATE TABLE IF NOT EXISTS monitoring.frameworks (
    code text NOT NULL,
    version integer NOT NULL,
    definition jsonb NOT NULL,
    note text NOT NULL,
    published_at timestamptz NOT NULL,
    PRIMARY KEY (code, version)
);
CREATE TABLE IF NOT EXISTS monitoring.framework_periods (
    code text NOT NULL,
    period text NOT NULL,
    version integer NOT NULL,
    opened_at timestamptz NOT NULL,
    PRIMARY KEY (code, period)
);
CREATE TABLE IF NOT EXISTS monitoring.submissions (
    id uuid PRIMARY KEY,
    position bigint NOT NULL UNIQUE,
    framework text NOT NULL,
    period text NOT NULL,
    framework_version integer NOT NULL,
    unit_kind text NOT NULL,
    unit_id text NOT NULL,
    unit_name text NOT NULL,
    jurisdiction text NOT NULL,
    level text NOT NULL,
    unit_stage text,
    locality text,
    status text NOT NULL,
    values jsonb,
    collected_by jsonb NOT NULL,
    reason text,
    version integer NOT NULL,
    updated_at timestamptz NOT NULL,
    UNIQUE (framework, period, unit_id)
);
CREATE INDEX IF NOT EXISTS submissions_level ON monitoring.submissions (framework, period, level);
CREATE TABLE IF NOT EXISTS monitoring.levels (
    id uuid NOT NULL UNIQUE,
    framework text NOT NULL,
    period text NOT NULL,
    jurisdiction text NOT NULL,
    status text NOT NULL,
    reason text,
    covered jsonb NOT NULL DEFAULT '{}',
    version integer NOT NULL,
    PRIMARY KEY (framework, period, jurisdiction)
);
CREATE TABLE IF NOT EXISTS monitoring.assignments (
    id uuid PRIMARY KEY,
    framework text NOT NULL,
    period text NOT NULL,
    jurisdiction text NOT NULL,
    agency_id text NOT NULL,
    agency_name text NOT NULL,
    task text NOT NULL,
    active boolean NOT NULL,
    version integer NOT NULL
);
CREATE TABLE IF NOT EXISTS monitoring.unit_results (
    framework text NOT NULL,
    period text NOT NULL,
    unit_id text NOT NULL,
    jurisdiction text NOT NULL,
    level text NOT NULL,
    framework_version integer NOT NULL,
    submission_version integer NOT NULL,
    status text NOT NULL,
    passes boolean NOT NULL,
    result jsonb NOT NULL,
    unit_name text NOT NULL,
    unit_stage text,
    area_input jsonb NOT NULL,  -- area.area_input(result): what a roll-up reads of it
    PRIMARY KEY (framework, period, unit_id)
);
CREATE INDEX IF NOT EXISTS unit_results_level ON monitoring.unit_results (framework, period, level);
-- What each jurisdiction's own counted units add up to (area.area_part): an area's result merges the parts under it
-- rather than read each of its units again (issue 24, decision 035).
CREATE TABLE IF NOT EXISTS monitoring.area_parts (
    framework text NOT NULL,
    period text NOT NULL,
    jurisdiction text NOT NULL,
    level text NOT NULL,
    framework_version integer NOT NULL,
    part jsonb NOT NULL,
    PRIMARY KEY (framework, period, jurisdiction)
);
CREATE INDEX IF NOT EXISTS area_parts_level ON monitoring.area_parts (framework, period, level);
CREATE TABLE IF NOT EXISTS monitoring.area_results (
    framework text NOT NULL,
    period text NOT NULL,
    jurisdiction text NOT NULL,
    framework_version integer NOT NULL,
    passes boolean,  -- null: no counted unit, no verdict
    result jsonb NOT NULL,
    computed_at timestamptz NOT NULL,
    PRIMARY KEY (framework, period, jurisdiction)
);
-- Submissions whose result, and their level's, are to be derived again: marked by the events, emptied by
-- `settle_results` at the end of the same transaction (once per batch rather than once per event), and by a rebuild
-- once, at its end.
CREATE TABLE IF NOT EXISTS monitoring.results_due (
    submission uuid PRIMARY KEY
);
"""


def as_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


async def project_collection(conn: asyncpg.Connection, e: InboundEvent) -> None:
    """Apply one monitoring event; a submission's change marks its unit's and its county's results due
    (`settle_results` derives them at the end of the transaction)."""
    handler = {
        "Framework": _framework,
        "Submission": _submission,
        "LevelApproval": _level,
        "AgencyAssignment": _assignment,
    }.get(e.aggregate)
    if handler is not None:
        await handler(conn, e)


async def _framework(conn: asyncpg.Connection, e: InboundEvent) -> None:
    d = e.data
    if e.type in ("Framework.Published", "Framework.VersionPublished"):
        await conn.execute(
            "INSERT INTO monitoring.frameworks (code, version, definition, note, published_at) VALUES ($1, $2, $3::jsonb, $4, $5)"
            " ON CONFLICT DO NOTHING",
            d["definition"]["code"],
            d.get("number", 1),
            as_json(d["definition"]),
            d["note"],
            _at(d["published_at"]),
        )
    elif e.type == "Framework.PeriodOpened":
        await conn.execute(
            "INSERT INTO monitoring.framework_periods (code, period, version, opened_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            d["code"],
            d["period"],
            d["version"],
            _at(d["opened_at"]),
        )


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


_STATUS = {
    "Submission.Opened": "draft",
    "Submission.Submitted": "submitted",
    "Submission.Returned": "returned",
    "Submission.Approved": "approved",
    "Submission.Unapproved": "returned",
}


async def _submission(conn: asyncpg.Connection, e: InboundEvent) -> None:
    d = e.data
    if e.type == "Submission.Opened":
        await conn.execute(
            "INSERT INTO monitoring.submissions (id, position, framework, period, framework_version, unit_kind, unit_id, unit_name,"
            " jurisdiction, level, unit_stage, locality, status, collected_by, version, updated_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'draft', $13::jsonb, $14, $15) ON CONFLICT DO NOTHING",
            e.aggregate_id,
            e.position,
            d["framework"],
            d["period"],
            d["framework_version"],
            d["unit_kind"],
            d["unit_id"],
            d["unit_name"],
            d["jurisdiction"],
            home_level(d["jurisdiction"]),
            d["unit_stage"],
            d["locality"],
            as_json(d["opened_by"]),
            e.version,
            _at(d["opened_at"]),
        )
        return
    # One write, no read: the consumer applies a submission's events in version order (`consumer_versions`), so
    # nothing here asks what the row holds, and a batch's submissions go to PostgreSQL together (`own_rows`).
    at = next((_at(v) for k, v in d.items() if k.endswith("_at")), None)
    if e.type == "Submission.ValuesEntered":
        await conn.execute(
            "UPDATE monitoring.submissions SET version = $2, updated_at = coalesce($3, updated_at), values = $4::jsonb,"
            " collected_by = $5::jsonb WHERE id = $1 AND version < $2",
            e.aggregate_id,
            e.version,
            at,
            as_json(d["values"]),
            as_json(d["entered_by"]),
        )
    elif e.type in _STATUS:
        await conn.execute(
            "UPDATE monitoring.submissions SET version = $2, updated_at = coalesce($3, updated_at), status = $4,"
            " reason = $5 WHERE id = $1 AND version < $2",
            e.aggregate_id,
            e.version,
            at,
            _STATUS[e.type],
            d.get("reason"),
        )
    else:
        await conn.execute(
            "UPDATE monitoring.submissions SET version = $2, updated_at = coalesce($3, updated_at) WHERE id = $1"
            " AND version < $2",
            e.aggregate_id,
            e.version,
            at,
        )
    await conn.execute(
        "INSERT INTO monitoring.results_due (submission) VALUES ($1) ON CONFLICT DO NOTHING", e.aggregate_id
    )


_LEVEL_STATUS = {
    "LevelApproval.Approved": "approved",
    "LevelApproval.Unapproved": "open",
    "LevelApproval.Accepted": "accepted",
    "LevelApproval.Unaccepted": "approved",
}


async def _level(conn: asyncpg.Connection, e: InboundEvent) -> None:
    d = e.data
    if e.type == "LevelApproval.Opened":
        await conn.execute(
            "INSERT INTO monitoring.levels (id, framework, period, jurisdiction, status, version) VALUES ($1, $2, $3, $4, 'open', $5)"
            " ON CONFLICT DO NOTHING",
            e.aggregate_id,
            d["framework"],
            d["period"],
            d["jurisdiction"],
            e.version,
        )
        return
    status = _LEVEL_STATUS.get(e.type)
    await conn.execute(
        "UPDATE monitoring.levels SET version = $2, status = coalesce($3, status), reason = coalesce($4, reason),"
        " covered = coalesce($5::jsonb, covered) WHERE id = $1 AND version < $2",
        e.aggregate_id,
        e.version,
        status,
        d.get("reason"),
        as_json(d["covered"]) if "covered" in d else None,
    )


async def _assignment(conn: asyncpg.Connection, e: InboundEvent) -> None:
    d = e.data
    if e.type == "AgencyAssignment.Made":
        await conn.execute(
            "INSERT INTO monitoring.assignments (id, framework, period, jurisdiction, agency_id, agency_name, task, active, version)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, true, $8) ON CONFLICT DO NOTHING",
            e.aggregate_id,
            d["framework"],
            d["period"],
            d["jurisdiction"],
            d["agency_id"],
            d["agency_name"],
            d["task"],
            e.version,
        )
    elif e.type == "AgencyAssignment.Ended":
        await conn.execute(
            "UPDATE monitoring.assignments SET active = false, version = $2 WHERE id = $1 AND version < $2",
            e.aggregate_id,
            e.version,
        )
