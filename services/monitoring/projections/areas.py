"""The results derived from the submissions: each unit's, each jurisdiction's part (what its counted units add up
to), and each approving level's area, settled at the end of the transaction that marked them due; and any area's
result read from the parts under it (decision 035).

A result is computed under the framework version its period opened with and records the submission
versions it used; a later framework version never touches it (what-if results are computed on request).
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from services.monitoring.domain.area import area_from, area_input, area_part, merge_parts
from services.monitoring.domain.compute import UnitData, unit_result
from services.monitoring.domain.definition import Definition
from services.monitoring.projections.collection import as_json

COUNTED = ("submitted", "approved")  # a draft or returned form is the unit's work in progress, not yet data


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
    results = []
    for row in due:
        key = (row["framework"], row["framework_version"])
        definition = definitions.get(key) or definitions.setdefault(key, await definition_at(conn, *key))
        levels[(row["framework"], row["period"], row["level"])] = row["framework_version"]
        jurisdictions[(row["framework"], row["period"], row["jurisdiction"], row["level"])] = row["framework_version"]
        if row["values"] is None:
            continue
        result = unit_result(definition, unit_data(row))
        results.append(
            (
                row["framework"],
                row["period"],
                row["unit_id"],
                row["jurisdiction"],
                row["level"],
                row["framework_version"],
                row["version"],
                row["status"],
                result["passes"],
                as_json(result),
                result["unit_name"],
                result["unit_stage"],
                as_json(area_input(result)),
            )
        )
    # a batch's units in one round trip (a backlog settles hundreds at a time), before the parts read them
    await conn.executemany(
        "INSERT INTO monitoring.unit_results (framework, period, unit_id, jurisdiction, level, framework_version, submission_version,"
        " status, passes, result, unit_name, unit_stage, area_input)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12, $13::jsonb)"
        " ON CONFLICT (framework, period, unit_id) DO UPDATE SET framework_version = excluded.framework_version,"
        " submission_version = excluded.submission_version, status = excluded.status, passes = excluded.passes,"
        " result = excluded.result, unit_name = excluded.unit_name, unit_stage = excluded.unit_stage,"
        " area_input = excluded.area_input",
        results,
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
            as_json(part),
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
            as_json(area),
        )
