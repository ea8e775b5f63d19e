"""The school and inspector directories: one row per school and inspector, plus trainings, assessments, ties."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import asyncpg

from dudao import jurisdiction
from dudao.consumer import InboundEvent

TABLES_SQL = """
CREATE TABLE IF NOT EXISTS registry.school_directory (
    id uuid PRIMARY KEY,
    position bigint NOT NULL UNIQUE,
    jurisdiction text NOT NULL,
    code text UNIQUE,
    name text NOT NULL,
    stage text NOT NULL,
    ownership text NOT NULL,
    locality text,
    enrolment integer NOT NULL,
    enrolment_by_year jsonb NOT NULL DEFAULT '{}',
    principal_name text,
    principal_term_start date,
    principal_term_end date,
    licence text NOT NULL DEFAULT 'valid',
    enrolment_status text NOT NULL DEFAULT 'normal',
    zone_id uuid,
    responsible_inspector_id uuid,
    internal_supervisors integer NOT NULL DEFAULT 0,
    version integer NOT NULL,
    registered_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS school_directory_jurisdiction ON registry.school_directory (jurisdiction text_pattern_ops, position);
-- Staffing's R1 asks whether a large school's inspector answers for any other school: one lookup per large school.
CREATE INDEX IF NOT EXISTS school_directory_responsible ON registry.school_directory (responsible_inspector_id);
CREATE TABLE IF NOT EXISTS registry.inspector_directory (
    id uuid PRIMARY KEY,
    position bigint NOT NULL UNIQUE,
    jurisdiction text NOT NULL,
    name text NOT NULL,
    employment text NOT NULL,
    status text NOT NULL DEFAULT 'nominated',
    roles text[] NOT NULL DEFAULT '{}',
    focus text NOT NULL DEFAULT 'schools',
    stages text[] NOT NULL DEFAULT '{}',
    subjects text[] NOT NULL DEFAULT '{}',
    public_contact text,
    term_no integer,
    term_start date,
    term_end date,
    filed_with text,
    exit_reason text,
    exit_review_open boolean NOT NULL DEFAULT false,
    version integer NOT NULL,
    registered_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS inspector_directory_jurisdiction
    ON registry.inspector_directory (jurisdiction text_pattern_ops, position);
CREATE TABLE IF NOT EXISTS registry.inspector_trainings (
    inspector_id uuid NOT NULL,
    version integer NOT NULL,
    kind text NOT NULL,
    title text NOT NULL,
    hours numeric NOT NULL,
    completed_on date NOT NULL,
    term_no integer,
    PRIMARY KEY (inspector_id, version)
);
CREATE TABLE IF NOT EXISTS registry.inspector_assessments (
    inspector_id uuid NOT NULL,
    year integer NOT NULL,
    grade text NOT NULL,
    PRIMARY KEY (inspector_id, year)
);
CREATE TABLE IF NOT EXISTS registry.inspector_ties (
    inspector_id uuid NOT NULL,
    unit_id text NOT NULL,
    kind text NOT NULL,
    PRIMARY KEY (inspector_id, unit_id)
);
"""

# --- writing ----------------------------------------------------------------------------------------

_SCHOOL_CHANGES: dict[str, tuple[str, Callable[[dict], tuple]]] = {
    # event type -> (SET clause over $3.., arguments taken from the event)
    "School.DetailsUpdated": (
        "name = $3, enrolment = $4, locality = $5",
        lambda d: (d["name"], d["enrolment"], d.get("locality")),
    ),
    "School.EnrolmentRecorded": (
        "enrolment_by_year = enrolment_by_year || jsonb_build_object($3::text, $4::jsonb),"
        " enrolment = CASE WHEN $3 >= ALL (SELECT jsonb_object_keys(enrolment_by_year)) THEN $5 ELSE enrolment END",
        # `total` since v2; a message relayed before v2 (still in the stream) lacks it (decision 014).
        lambda d: (d["school_year"], json.dumps(d["by_stage"]), d.get("total", sum(d["by_stage"].values()))),
    ),
    "School.PrincipalAppointed": (
        "principal_name = $3, principal_term_start = $4::text::date, principal_term_end = $5::text::date",
        lambda d: (d["name"], d["term_start"], d["term_end"]),
    ),
    "School.PrincipalTermEnded": (
        "principal_name = NULL, principal_term_start = NULL, principal_term_end = NULL",
        lambda d: (),
    ),
    "School.EnrolmentStatusChanged": ("enrolment_status = $3", lambda d: (d["status"],)),
    "School.LicenceRevoked": ("licence = 'revoked', enrolment_status = 'stopped'", lambda d: ()),
    "School.ZoneAssigned": ("zone_id = $3::uuid", lambda d: (d["zone_id"],)),
    "School.ResponsibleInspectorAssigned": ("responsible_inspector_id = $3::uuid", lambda d: (d["inspector_id"],)),
    "School.InternalSupervisorsRecorded": ("internal_supervisors = $3", lambda d: (len(d["names"]),)),
    "School.HeadReplacementOrdered": (
        "",
        lambda d: (),
    ),  # the order is the accountability decision's; here, the version
}

_INSPECTOR_CHANGES: dict[str, tuple[str, Callable[[dict], tuple]]] = {
    "Inspector.DetailsUpdated": (
        "name = $3, employment = $4, roles = $5, focus = $6, stages = $7, subjects = $8, public_contact = $9",
        lambda d: (
            d["name"],
            d["employment"],
            d.get("roles") or [],
            d.get("focus") or "schools",
            d.get("stages") or [],
            d.get("subjects") or [],
            d.get("public_contact"),
        ),
    ),
    "Inspector.Appointed": (
        "status = 'appointed', term_no = $3, term_start = $4::text::date, term_end = $5::text::date",
        lambda d: (d["term_no"], d["term_start"], d["term_end"]),
    ),
    "Inspector.TermRenewed": (
        "term_no = $3, term_start = $4::text::date, term_end = $5::text::date",
        lambda d: (d["term_no"], d["term_start"], d["term_end"]),
    ),
    "Inspector.Filed": ("status = 'filed', filed_with = $3", lambda d: (d["filed_with"],)),
    "Inspector.Activated": ("status = 'active'", lambda d: ()),
    "Inspector.Suspended": ("status = 'suspended'", lambda d: ()),
    "Inspector.Reinstated": ("status = 'active'", lambda d: ()),
    "Inspector.Exited": ("status = 'exited', exit_reason = $3, exit_review_open = false", lambda d: (d["reason"],)),
    "Inspector.ExitReviewOpened": ("exit_review_open = true", lambda d: ()),
}


async def _school_registered(conn: asyncpg.Connection, e: InboundEvent) -> None:
    d = e.data
    await conn.execute(
        "INSERT INTO registry.school_directory"
        " (id, position, jurisdiction, code, name, stage, ownership, locality, enrolment, version, registered_at, updated_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::text::timestamptz, $11::text::timestamptz)"
        " ON CONFLICT (id) DO NOTHING",
        e.aggregate_id,
        e.position,
        d["jurisdiction"],
        d.get("code"),
        d["name"],
        d["stage"],
        d["ownership"],
        d.get("locality"),
        d["enrolment"],
        e.version,
        d["registered_at"],
    )


async def _inspector_registered(conn: asyncpg.Connection, e: InboundEvent) -> None:
    d = e.data
    await conn.execute(
        "INSERT INTO registry.inspector_directory (id, position, jurisdiction, name, employment, roles, focus, stages,"
        " subjects, public_contact, version, registered_at, updated_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::text::timestamptz, $12::text::timestamptz)"
        " ON CONFLICT (id) DO NOTHING",
        e.aggregate_id,
        e.position,
        d["jurisdiction"],
        d["name"],
        d["employment"],
        d.get("roles") or [],
        d.get("focus") or "schools",
        d.get("stages") or [],
        d.get("subjects") or [],
        d.get("public_contact"),
        e.version,
        d["registered_at"],
    )


def _changer(table: str, changes: dict[str, tuple[str, Callable[[dict], tuple]]]):
    async def apply(conn: asyncpg.Connection, e: InboundEvent) -> None:
        clause, args = changes[e.type]
        await conn.execute(
            f"UPDATE registry.{table} SET {clause}{', ' if clause else ''}version = $2, updated_at = now()"
            " WHERE id = $1 AND version < $2",
            e.aggregate_id,
            e.version,
            *args(e.data),
        )

    return apply


async def _training_recorded(conn: asyncpg.Connection, e: InboundEvent) -> None:
    d = e.data
    await conn.execute(
        "INSERT INTO registry.inspector_trainings (inspector_id, version, kind, title, hours, completed_on, term_no)"
        " VALUES ($1, $2, $3, $4, $5, $6::text::date, $7) ON CONFLICT DO NOTHING",
        e.aggregate_id,
        e.version,
        d["kind"],
        d["title"],
        d["hours"],
        d["completed_on"],
        d.get("term_no"),
    )
    await _bump(conn, "inspector_directory", e)


async def _assessed(conn: asyncpg.Connection, e: InboundEvent) -> None:
    await conn.execute(
        "INSERT INTO registry.inspector_assessments (inspector_id, year, grade) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        e.aggregate_id,
        e.data["year"],
        e.data["grade"],
    )
    await _bump(conn, "inspector_directory", e)


async def _tie_declared(conn: asyncpg.Connection, e: InboundEvent) -> None:
    await conn.execute(
        "INSERT INTO registry.inspector_ties (inspector_id, unit_id, kind) VALUES ($1, $2, $3)"
        " ON CONFLICT (inspector_id, unit_id) DO UPDATE SET kind = excluded.kind",
        e.aggregate_id,
        e.data["unit_id"],
        e.data["kind"],
    )
    await _bump(conn, "inspector_directory", e)


async def _tie_withdrawn(conn: asyncpg.Connection, e: InboundEvent) -> None:
    await conn.execute(
        "DELETE FROM registry.inspector_ties WHERE inspector_id = $1 AND unit_id = $2",
        e.aggregate_id,
        e.data["unit_id"],
    )
    await _bump(conn, "inspector_directory", e)


async def _personal_recorded(conn: asyncpg.Connection, e: InboundEvent) -> None:
    """The directory holds no personal details (they are read sealed, through their owner), only the new version."""
    await _bump(conn, "inspector_directory", e)


async def _bump(conn: asyncpg.Connection, table: str, e: InboundEvent) -> None:
    await conn.execute(
        f"UPDATE registry.{table} SET version = $2, updated_at = now() WHERE id = $1 AND version < $2",
        e.aggregate_id,
        e.version,
    )


HANDLERS = (
    {
        "School.Registered": _school_registered,
        "Inspector.Registered": _inspector_registered,
        "Inspector.TrainingRecorded": _training_recorded,
        "Inspector.Assessed": _assessed,
        "Inspector.TieDeclared": _tie_declared,
        "Inspector.TieWithdrawn": _tie_withdrawn,
        "Inspector.PersonalDetailsRecorded": _personal_recorded,
    }
    | dict.fromkeys(_SCHOOL_CHANGES, _changer("school_directory", _SCHOOL_CHANGES))
    | dict.fromkeys(_INSPECTOR_CHANGES, _changer("inspector_directory", _INSPECTOR_CHANGES))
)

# --- reading -------------------------------------------------------------------------------------------


async def answerers(conn: asyncpg.Connection, school: dict[str, Any]) -> frozenset[str]:
    """The inspectors who answer for a school: its responsible inspector and those listed for its zone."""
    listed = (
        await conn.fetchval("SELECT listed_inspectors FROM registry.zones WHERE id = $1", school["zone_id"])
        if school["zone_id"]
        else None
    )
    return frozenset(str(i) for i in [school["responsible_inspector_id"], *(listed or [])] if i)


SCHOOL_COLUMNS = (
    "id, position, jurisdiction, code, name, stage, ownership, locality, enrolment, enrolment_by_year, principal_name,"
    " principal_term_start, principal_term_end, licence, enrolment_status, zone_id, responsible_inspector_id,"
    " internal_supervisors, version, registered_at, updated_at,"
    " (SELECT t.name FROM registry.townships t WHERE t.code = jurisdiction) AS township_name"  # a township's name, where named
)
INSPECTOR_COLUMNS = (
    "id, position, jurisdiction, name, employment, status, roles, focus, stages, subjects, public_contact, term_no,"
    " term_start, term_end, filed_with, exit_reason, exit_review_open, version, registered_at, updated_at"
)


async def _page(
    conn: asyncpg.Connection, table: str, columns: str, within: str, filters: dict[str, Any], after: int, limit: int
) -> list[dict[str, Any]]:
    clauses, args = ["jurisdiction LIKE ANY($1::text[])", "position > $2"], [jurisdiction.patterns(within), after]
    for column, value in filters.items():
        if value is None:
            continue
        args.append(value)
        if column == "answered_by":  # the schools an inspector answers for: responsible for it, or listed for its zone
            clauses.append(
                f"(responsible_inspector_id::text = ${len(args)} OR zone_id IN"
                f" (SELECT id FROM registry.zones WHERE ${len(args)} = ANY(listed_inspectors::text[])))"
            )
        else:
            clauses.append(
                f"${len(args)} = ANY({column[:-2]})" if column.endswith("[]") else f"{column} = ${len(args)}"
            )
    args.append(limit)
    rows = await conn.fetch(
        f"SELECT {columns} FROM registry.{table} WHERE {' AND '.join(clauses)} ORDER BY position LIMIT ${len(args)}",
        *args,
    )
    return [_row(r) for r in rows]


def _row(record: asyncpg.Record) -> dict[str, Any]:
    row = dict(record)
    if isinstance(row.get("enrolment_by_year"), str):
        row["enrolment_by_year"] = json.loads(row["enrolment_by_year"])
    return row


async def school_page(
    conn: asyncpg.Connection,
    *,
    within: str,
    stage: str | None,
    ownership: str | None,
    after: int,
    limit: int,
    zone_id: str | None = None,
    school_id: str | None = None,
    answered_by: str | None = None,
) -> list[dict[str, Any]]:
    """Schools in the subtree of `within`, in registration order, after position `after`; only `school_id`, or only
    those `answered_by` an inspector, when given."""
    filters = {
        "stage": stage,
        "ownership": ownership,
        "zone_id": zone_id,
        "id::text": school_id,
        "answered_by": answered_by,
    }
    return await _page(conn, "school_directory", SCHOOL_COLUMNS, within, filters, after, limit)


async def inspector_page(
    conn: asyncpg.Connection,
    *,
    within: str,
    employment: str | None,
    after: int,
    limit: int,
    status: str | None = None,
    role: str | None = None,
) -> list[dict[str, Any]]:
    filters = {"employment": employment, "status": status, "roles[]": role}
    return await _page(conn, "inspector_directory", INSPECTOR_COLUMNS, within, filters, after, limit)


async def schools_by_id(conn: asyncpg.Connection, ids: list[str]) -> list[dict[str, Any]]:
    rows = await conn.fetch(f"SELECT {SCHOOL_COLUMNS} FROM registry.school_directory WHERE id = ANY($1::uuid[])", ids)
    return [_row(r) for r in rows]


async def inspectors_by_id(conn: asyncpg.Connection, ids: list[str]) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT {INSPECTOR_COLUMNS} FROM registry.inspector_directory WHERE id = ANY($1::uuid[])", ids
    )
    return [_row(r) for r in rows]


async def inspector_records(conn: asyncpg.Connection, ids: list[str]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Trainings, assessments and ties of the given inspectors, keyed by inspector id."""
    out: dict[str, dict[str, list[dict[str, Any]]]] = {i: {"trainings": [], "assessments": [], "ties": []} for i in ids}
    queries = {
        "trainings": "SELECT inspector_id, kind, title, hours, completed_on, term_no FROM registry.inspector_trainings"
        " WHERE inspector_id = ANY($1::uuid[]) ORDER BY completed_on, version",
        "assessments": "SELECT inspector_id, year, grade FROM registry.inspector_assessments"
        " WHERE inspector_id = ANY($1::uuid[]) ORDER BY year",
        "ties": "SELECT inspector_id, unit_id, kind FROM registry.inspector_ties WHERE inspector_id = ANY($1::uuid[]) ORDER BY unit_id",
    }
    for key, sql in queries.items():
        for record in await conn.fetch(sql, ids):
            row = dict(record)
            out.setdefault(str(row.pop("inspector_id")), {"trainings": [], "assessments": [], "ties": []})[key].append(
                row
            )
    return out


async def inspectors_missing_training(conn: asyncpg.Connection, *, within: str) -> list[dict[str, Any]]:
    """Serving inspectors without a pre-service training, or without an in-service one in their current term."""
    rows = await conn.fetch(
        f"SELECT {INSPECTOR_COLUMNS},"
        " NOT EXISTS (SELECT 1 FROM registry.inspector_trainings t WHERE t.inspector_id = d.id AND t.kind = 'pre_service')"
        "   AS missing_pre_service,"
        " (d.term_no IS NOT NULL AND NOT EXISTS (SELECT 1 FROM registry.inspector_trainings t"
        "   WHERE t.inspector_id = d.id AND t.kind = 'in_service' AND t.term_no = d.term_no)) AS missing_in_service"
        " FROM registry.inspector_directory d"
        " WHERE jurisdiction LIKE ANY($1::text[]) AND status IN ('appointed', 'filed', 'active', 'suspended')"
        " ORDER BY position",
        jurisdiction.patterns(within),
    )
    return [_row(r) for r in rows if r["missing_pre_service"] or r["missing_in_service"]]
