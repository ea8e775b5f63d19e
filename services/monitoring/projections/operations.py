"""Operational monitoring (运行监测): routine-visit coverage, rectification, staffing compliance, interviews and
circulars per jurisdiction, rolled up the hierarchy inside this instance (counted in `operations_figures`).

Monitoring never reads another service's tables. Each other service's stream feeds one `Source`, whose handler
keeps what the figures need in tables that source alone owns, so a source whose version changes drops and
rebuilds only its own tables. No rule is restated here: coverage counts the compulsory-education stages that
inspection counts, staffing is judged by the registry's `staffing_verdict`, and "on time" means what
accountability's summary means.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

from contracts import accountability, inspection, registry
from contracts.base import Contract
from dudao.consumer import InboundEvent
from dudao.profiles import PROFILE_COPY_SQL, copy_profile

SCHEMA = "monitoring"

TABLES_SQL = """
CREATE TABLE IF NOT EXISTS monitoring.school_copy (
    id uuid PRIMARY KEY,
    jurisdiction text NOT NULL,
    name text NOT NULL,
    code text,
    locality text,
    stage text NOT NULL,
    enrolment integer NOT NULL,
    enrolment_year text,
    responsible_inspector_id uuid,
    internal_supervisors integer NOT NULL DEFAULT 0,
    version integer NOT NULL
);
CREATE INDEX IF NOT EXISTS school_copy_jurisdiction ON monitoring.school_copy (jurisdiction text_pattern_ops);
CREATE TABLE IF NOT EXISTS monitoring.ops_inspectors (
    id uuid PRIMARY KEY,
    jurisdiction text NOT NULL,
    employment text NOT NULL,
    status text NOT NULL DEFAULT 'nominated',
    roles text[] NOT NULL DEFAULT '{}',
    version integer NOT NULL
);
CREATE INDEX IF NOT EXISTS ops_inspectors_jurisdiction ON monitoring.ops_inspectors (jurisdiction text_pattern_ops);
CREATE TABLE IF NOT EXISTS monitoring.ops_visits (
    id uuid PRIMARY KEY,
    school_id uuid NOT NULL,
    month text NOT NULL
);
CREATE INDEX IF NOT EXISTS ops_visits_school_month ON monitoring.ops_visits (school_id, month);
CREATE TABLE IF NOT EXISTS monitoring.ops_cases (
    id uuid PRIMARY KEY,
    jurisdiction text NOT NULL,
    version integer NOT NULL
);
CREATE TABLE IF NOT EXISTS monitoring.ops_items (
    case_id uuid NOT NULL,
    item_id text NOT NULL,
    jurisdiction text NOT NULL,
    status text NOT NULL,
    deadline date NOT NULL,
    lapses integer NOT NULL DEFAULT 0,
    accepted_on_time boolean,
    PRIMARY KEY (case_id, item_id)
);
CREATE INDEX IF NOT EXISTS ops_items_jurisdiction ON monitoring.ops_items (jurisdiction text_pattern_ops);
CREATE TABLE IF NOT EXISTS monitoring.ops_measures (
    id uuid PRIMARY KEY,
    kind text NOT NULL,
    jurisdiction text NOT NULL,
    status text NOT NULL,
    version integer NOT NULL
);
CREATE INDEX IF NOT EXISTS ops_measures_jurisdiction ON monitoring.ops_measures (jurisdiction text_pattern_ops);
""" + PROFILE_COPY_SQL.format(schema=SCHEMA)


@dataclass(frozen=True)
class Source:
    """One other service's stream and the handler that keeps its figures in its own tables."""

    service: str
    handler: Callable[[asyncpg.Connection, InboundEvent], Awaitable[None]]
    tables: tuple[str, ...]
    version: int = 1


# --- from the registry: schools, inspectors, policy profiles ---------------------------------------------------


async def follow_registry(conn: asyncpg.Connection, event: InboundEvent) -> None:
    """Keep the schools, inspectors and policy profiles the figures are counted and judged on."""
    if event.aggregate == "PolicyProfile":
        await copy_profile(conn, SCHEMA, event)
        return
    match registry.PUBLISHED.decode(event):
        case registry.SchoolRegistered() as e:
            await conn.execute(
                "INSERT INTO monitoring.school_copy (id, jurisdiction, name, code, locality, stage, enrolment, version)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING",
                e.aggregate_id,
                e.jurisdiction,
                e.name,
                e.code,
                e.locality,
                e.stage,
                e.enrolment,
                e.version,
            )
        case registry.SchoolDetailsUpdated() as e:
            await _change(
                conn,
                "school_copy",
                e,
                "enrolment = $3, name = $4, locality = coalesce($5, locality)",
                e.enrolment,
                e.name,
                e.locality,
            )
        case registry.SchoolEnrolmentRecorded() as e:  # the latest school year's pupils are the school's enrolment
            await _change(
                conn,
                "school_copy",
                e,
                "enrolment = CASE WHEN enrolment_year IS NULL OR $3 >= enrolment_year THEN $4 ELSE enrolment END,"
                " enrolment_year = greatest(enrolment_year, $3)",
                e.school_year,
                e.pupils,
            )
        case registry.SchoolResponsibleInspectorAssigned() as e:
            await _change(conn, "school_copy", e, "responsible_inspector_id = $3::uuid", e.inspector_id)
        case registry.SchoolInternalSupervisorsRecorded() as e:
            await _change(conn, "school_copy", e, "internal_supervisors = $3", len(e.names))
        case registry.InspectorRegistered() as e:
            await conn.execute(
                "INSERT INTO monitoring.ops_inspectors (id, jurisdiction, employment, roles, version)"
                " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
                e.aggregate_id,
                e.jurisdiction,
                e.employment,
                e.roles or [],
                e.version,
            )
        case registry.InspectorDetailsUpdated() as e:
            await _change(conn, "ops_inspectors", e, "employment = $3, roles = $4", e.employment, e.roles or [])
        case contract if type(contract) in registry.INSPECTOR_STATUS:
            await _change(conn, "ops_inspectors", contract, "status = $3", registry.INSPECTOR_STATUS[type(contract)])


async def _change(conn: asyncpg.Connection, table: str, e: Contract, clause: str, *args: Any) -> None:
    """Set `clause` (over $3 …) and the version on a copied row, unless this version is old news."""
    await conn.execute(
        f"UPDATE monitoring.{table} SET {clause}, version = $2 WHERE id = $1 AND version < $2",
        e.aggregate_id,
        e.version,
        *args,
    )


# --- from inspection: routine visits ------------------------------------------------------------------------------


async def follow_inspection(conn: asyncpg.Connection, event: InboundEvent) -> None:
    """Keep which school had a routine visit (经常性督导) in which month."""
    if isinstance(visit := inspection.PUBLISHED.decode(event), inspection.RoutineVisitRecorded):
        await conn.execute(
            "INSERT INTO monitoring.ops_visits (id, school_id, month) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
            visit.aggregate_id,
            visit.school_id,
            visit.visited_on.strftime("%Y-%m"),
        )


# --- from accountability: rectification items, interviews, circulars ----------------------------------------------

MEASURE_KINDS = {"Interview": "interview", "Circular": "circular"}
MEASURE_STATUSES = {"interview": ("proposed", "recorded", "filed"), "circular": ("proposed", "issued", "published")}
_STATUS_AFTER: dict[type[Contract], str] = {
    accountability.InterviewRecorded: "recorded",
    accountability.InterviewFiled: "filed",
    accountability.CircularIssued: "issued",
    accountability.CircularPublished: "published",
}


async def follow_accountability(conn: asyncpg.Connection, event: InboundEvent) -> None:
    """Keep each rectification item's status, deadline and lapses, and each interview's and circular's status."""
    contract = accountability.PUBLISHED.decode(event)
    if event.aggregate == "RectificationCase":
        await _case(conn, event, contract)
    elif isinstance(contract, accountability.InterviewProposed | accountability.CircularProposed):
        await conn.execute(
            "INSERT INTO monitoring.ops_measures (id, kind, jurisdiction, status, version)"
            " VALUES ($1, $2, $3, 'proposed', $4) ON CONFLICT (id) DO NOTHING",
            contract.aggregate_id,
            MEASURE_KINDS[event.aggregate],
            contract.unit["jurisdiction"],
            contract.version,
        )
    elif type(contract) in _STATUS_AFTER:
        await conn.execute(
            "UPDATE monitoring.ops_measures SET status = $3, version = $2 WHERE id = $1 AND version < $2",
            contract.aggregate_id,
            contract.version,
            _STATUS_AFTER[type(contract)],
        )


async def _case(conn: asyncpg.Connection, event: InboundEvent, contract: Contract | None) -> None:
    case = event.aggregate_id
    if isinstance(contract, accountability.CaseOpened):
        await conn.execute(
            "INSERT INTO monitoring.ops_cases (id, jurisdiction, version) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
            case,
            contract.jurisdiction,
            contract.version,
        )
        return
    jurisdiction = await conn.fetchval(
        "UPDATE monitoring.ops_cases SET version = $2 WHERE id = $1 AND version < $2 RETURNING jurisdiction",
        case,
        event.version,
    )
    if jurisdiction is None:  # seen already
        return
    match contract:
        case accountability.FeedbackGiven() as e:  # every item is under rectification from now, with its deadline
            await conn.executemany(
                "INSERT INTO monitoring.ops_items (case_id, item_id, jurisdiction, status, deadline)"
                " VALUES ($1, $2, $3, 'awaiting_report', $4) ON CONFLICT DO NOTHING",
                [(case, item_id, jurisdiction, day) for item_id, day in e.deadlines.items()],
            )
        case accountability.DeadlineChanged() as e:
            await _item(conn, case, e.item_id, deadline=e.deadline)
        case accountability.ItemReported() as e:
            await _item(conn, case, e.item_id, status="reported")
        case accountability.ItemRejected() as e:
            await _item(conn, case, e.item_id, status="rejected")
        case accountability.ItemAccepted() as e:
            # On time: accepted the first time, with no supervision notice (accountability's summary, same rule).
            await conn.execute(
                "UPDATE monitoring.ops_items SET status = 'accepted', accepted_on_time = coalesce(accepted_on_time, lapses = 0)"
                " WHERE case_id = $1 AND item_id = $2",
                case,
                e.item_id,
            )
        case accountability.NoticeIssued() as e:
            await _item(conn, case, e.item_id, lapses=e.lapse, deadline=e.new_deadline)
        case accountability.ItemRechecked(passed=False) as e:
            await _item(conn, case, e.item_id, status="rebounded", deadline=e.new_deadline)


async def _item(conn: asyncpg.Connection, case: Any, item_id: str, **changes: Any) -> None:
    columns = ", ".join(f"{name} = ${i}" for i, name in enumerate(changes, start=3))
    await conn.execute(
        f"UPDATE monitoring.ops_items SET {columns} WHERE case_id = $1 AND item_id = $2",
        case,
        item_id,
        *changes.values(),
    )


SOURCES: list[Source] = [
    Source(
        "registry", follow_registry, ("school_copy", "ops_inspectors", "profile_copy"), version=3
    ),  # v2: profile origins; v3: in version order (issue 18)
    Source("inspection", follow_inspection, ("ops_visits",), version=2),  # v2: in version order
    Source("accountability", follow_accountability, ("ops_cases", "ops_items", "ops_measures"), version=2),
]
