"""Frameworks, periods, submissions, level approvals and agency assignments as read tables, and the results
computed from them: each unit's, and each county's (CVs and verdict), recomputed whenever a submission changes.

A result is computed under the framework version its period opened with and records the submission
versions it used; a later framework version never touches it (what-if results are computed on request).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import asyncpg

from dudao.consumer import InboundEvent
from services.monitoring.domain.collection import home_level
from services.monitoring.domain.compute import UnitData, area_from, area_input, area_part, merge_parts, unit_result
from services.monitoring.domain.definition import Definition

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
COUNTED = ("submitted", "approved")  # a draft or returned form is the unit's work in progress, not yet data

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
    area_input jsonb NOT NULL,  -- compute.area_input(result): what a roll-up reads of it
    PRIMARY KEY (framework, period, unit_id)
);
CREATE INDEX IF NOT EXISTS unit_results_level ON monitoring.unit_results (framework, period, level);
-- What each jurisdiction's own counted units add up to (compute.area_part): an area's result merges the parts under it
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
-- `settle_results` at the end of the same transaction (once per rebuild batch rather than once per event).
CREATE TABLE IF NOT EXISTS monitoring.results_due (
    submission uuid PRIMARY KEY
);
"""


def _json(value: Any) -> str:
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
            _json(d["definition"]),
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
            _json(d["opened_by"]),
            e.version,
            _at(d["opened_at"]),
        )
        return
    at = next((_at(v) for k, v in d.items() if k.endswith("_at")), None)
    row = await conn.fetchrow(
        "UPDATE monitoring.submissions SET version = $2, updated_at = coalesce($3, updated_at) WHERE id = $1 AND version < $2"
        " RETURNING framework, period, level",
        e.aggregate_id,
        e.version,
        at,
    )
    if row is None:  # seen already
        return
    if e.type == "Submission.ValuesEntered":
        await conn.execute(
            "UPDATE monitoring.submissions SET values = $2::jsonb, collected_by = $3::jsonb WHERE id = $1",
            e.aggregate_id,
            _json(d["values"]),
            _json(d["entered_by"]),
        )
    elif e.type in _STATUS:
        await conn.execute(
            "UPDATE monitoring.submissions SET status = $2, reason = $3 WHERE id = $1",
            e.aggregate_id,
            _STATUS[e.type],
            d.get("reason"),
        )
    await conn.execute(
        "INSERT INTO monitoring.results_due (submission) VALUES ($1) ON CONFLICT DO NOTHING", e.aggregate_id
    )


async def definition_at(conn: asyncpg.Connection, code: str, version: int) -> Definition:
    raw = await conn.fetchval(
        "SELECT definition FROM monitoring.frameworks WHERE code = $1 AND version = $2", code, version
    )
    return Definition.parse(json.loads(raw))


def unit_data(row: asyncpg.Record) -> UnitData:
    return UnitData(
        unit_id=row["unit_id"],
        unit_name=row["unit_name"],
        values=json.loads(row["values"]),
        version=row["version"],
        stage=row["unit_stage"],
        locality=row["locality"],
        approved=row["status"] == "approved",
    )


async def counted_units(
    conn: asyncpg.Connection, framework: str, period: str, *, like: list[str] | None = None, level: str | None = None
) -> list[asyncpg.Record]:
    """The submissions whose data count toward results: under `like` (jurisdiction patterns, `divisions.patterns`), or
    approved by `level`."""
    return await conn.fetch(
        "SELECT * FROM monitoring.submissions WHERE framework = $1 AND period = $2 AND jurisdiction LIKE ANY($3::text[])"
        " AND ($4::text IS NULL OR level = $4) AND status = ANY($5::text[]) AND values IS NOT NULL ORDER BY unit_name, unit_id",
        framework,
        period,
        like or ["%"],
        level,
        list(COUNTED),
    )


async def area_over(
    conn: asyncpg.Connection,
    definition: Definition,
    framework: str,
    period: str,
    *,
    like: list[str] | None = None,
    level: str | None = None,
) -> dict[str, Any]:
    """The area over the counted units under `like` or approved by `level`: the parts of the jurisdictions there,
    merged in the jurisdictions' order. A jurisdiction's part is derived again whenever one of its submissions changes
    (settle), so the parts are the counted units' own; a province reads its counties' parts, not its schools."""
    parts = await conn.fetch(
        "SELECT part FROM monitoring.area_parts WHERE framework = $1 AND period = $2"
        " AND jurisdiction LIKE ANY($3::text[]) AND ($4::text IS NULL OR level = $4) ORDER BY jurisdiction",
        framework,
        period,
        like or ["%"],
        level,
    )
    return area_from(definition, merge_parts(definition, (json.loads(r["part"]) for r in parts)))


async def part_of(
    conn: asyncpg.Connection, definition: Definition, framework: str, period: str, jurisdiction: str, level: str
) -> dict[str, Any]:
    """A jurisdiction's own counted units added up. The `sum_inputs` rule sums their inputs themselves; the others
    read what they need of each unit's recorded result, kept beside it (`area_input`), in the units' order."""
    if definition.area_rule["kind"] == "sum_inputs":
        counted = [unit_data(r) for r in await counted_units(conn, framework, period, like=[jurisdiction], level=level)]
        return area_part(definition, counted, [area_input(unit_result(definition, u)) for u in counted])
    rows = await conn.fetch(
        "SELECT unit_id, status, submission_version, unit_name, unit_stage, area_input FROM monitoring.unit_results"
        " WHERE framework = $1 AND period = $2 AND level = $3 AND jurisdiction = $4 AND status = ANY($5::text[])"
        " ORDER BY unit_name, unit_id",  # as counted_units orders them: one order of sums
        framework,
        period,
        level,
        jurisdiction,
        list(COUNTED),
    )
    units = [
        UnitData(
            unit_id=r["unit_id"],
            unit_name=r["unit_name"],
            values={},
            version=r["submission_version"],
            stage=r["unit_stage"],
            approved=r["status"] == "approved",
        )
        for r in rows
    ]
    return area_part(definition, units, [json.loads(r["area_input"]) for r in rows])


async def settle_results(conn: asyncpg.Connection) -> None:
    """The results of the submissions marked due: each one's own, then each of their jurisdictions' parts once, then
    each of their levels' areas once, under the version its period opened with."""
    due = await conn.fetch(
        "DELETE FROM monitoring.results_due d USING monitoring.submissions s WHERE s.id = d.submission RETURNING s.*"
    )
    definitions: dict[tuple[str, int], Definition] = {}
    levels: dict[tuple[str, str, str], int] = {}
    jurisdictions: dict[tuple[str, str, str, str], int] = {}
    for row in due:
        key = (row["framework"], row["framework_version"])
        definition = definitions.get(key) or definitions.setdefault(key, await definition_at(conn, *key))
        levels[(row["framework"], row["period"], row["level"])] = row["framework_version"]
        jurisdictions[(row["framework"], row["period"], row["jurisdiction"], row["level"])] = row["framework_version"]
        if row["values"] is None:
            continue
        result = unit_result(definition, unit_data(row))
        await conn.execute(
            "INSERT INTO monitoring.unit_results (framework, period, unit_id, jurisdiction, level, framework_version, submission_version,"
            " status, passes, result, unit_name, unit_stage, area_input)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12, $13::jsonb)"
            " ON CONFLICT (framework, period, unit_id) DO UPDATE SET framework_version = excluded.framework_version,"
            " submission_version = excluded.submission_version, status = excluded.status, passes = excluded.passes,"
            " result = excluded.result, unit_name = excluded.unit_name, unit_stage = excluded.unit_stage,"
            " area_input = excluded.area_input",
            row["framework"],
            row["period"],
            row["unit_id"],
            row["jurisdiction"],
            row["level"],
            row["framework_version"],
            row["version"],
            row["status"],
            result["passes"],
            _json(result),
            result["unit_name"],
            result["unit_stage"],
            _json(area_input(result)),
        )
    for (framework, period, jurisdiction, level), version in jurisdictions.items():
        part = await part_of(conn, definitions[(framework, version)], framework, period, jurisdiction, level)
        await conn.execute(
            "INSERT INTO monitoring.area_parts (framework, period, jurisdiction, level, framework_version, part)"
            " VALUES ($1, $2, $3, $4, $5, $6::jsonb) ON CONFLICT (framework, period, jurisdiction) DO UPDATE SET"
            " level = excluded.level, framework_version = excluded.framework_version, part = excluded.part",
            framework,
            period,
            jurisdiction,
            level,
            version,
            _json(part),
        )
    for (framework, period, level), version in levels.items():
        area = await area_over(conn, definitions[(framework, version)], framework, period, level=level)
        await conn.execute(
            "INSERT INTO monitoring.area_results (framework, period, jurisdiction, framework_version, passes, result, computed_at)"
            " VALUES ($1, $2, $3, $4, $5, $6::jsonb, now()) ON CONFLICT (framework, period, jurisdiction) DO UPDATE SET"
            " framework_version = excluded.framework_version, passes = excluded.passes, result = excluded.result, computed_at = now()",
            framework,
            period,
            level,
            version,
            area["passes"],
            _json(area),
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
        _json(d["covered"]) if "covered" in d else None,
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
