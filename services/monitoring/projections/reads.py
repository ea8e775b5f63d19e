"""What the monitoring read tables answer: frameworks, who is expected to submit, where collection stands,
and results — a county's as recorded, a wider area's rolled up, any of them recomputed under another version."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from dudao import jurisdiction as divisions
from dudao.errors import NotFound
from dudao.remembered import Remembered
from services.monitoring.domain.area import area_result
from services.monitoring.domain.collection import home_level
from services.monitoring.domain.compute import UnitData, applies
from services.monitoring.domain.definition import Definition
from services.monitoring.projections.areas import area_over, counted_units, definition_at, unit_data


async def frameworks(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT code, version, definition, note, published_at FROM monitoring.frameworks ORDER BY code, version"
    )
    periods = await conn.fetch("SELECT code, period, version FROM monitoring.framework_periods ORDER BY code, period")
    found: dict[str, dict[str, Any]] = {}
    for r in rows:
        d = json.loads(r["definition"])
        entry = found.setdefault(r["code"], {"code": r["code"], "versions": [], "periods": {}})
        entry.update(name=d["name"], name_zh=d["name_zh"], level=d["level"], current_version=r["version"], definition=d)
        entry["versions"].append({"version": r["version"], "note": r["note"], "published_at": r["published_at"]})
    for p in periods:
        found[p["code"]]["periods"][p["period"]] = p["version"]
    return list(found.values())


async def framework(conn: asyncpg.Connection, code: str, version: int | None = None) -> dict[str, Any]:
    """One framework with the definition of `version` (the current one by default)."""
    entry = next((f for f in await frameworks(conn) if f["code"] == code), None)
    if entry is None:
        raise NotFound(f"no framework {code!r}; GET /v1/frameworks lists them", field="framework")
    if version is not None and version != entry["current_version"]:
        raw = await conn.fetchval(
            "SELECT definition FROM monitoring.frameworks WHERE code = $1 AND version = $2", code, version
        )
        if raw is None:
            raise NotFound(
                f"{code} has versions 1 to {entry['current_version']}, not {version}",
                field="version",
                rule="no_such_version",
            )
        entry["definition"] = json.loads(raw)
    return entry | {"version": version or entry["current_version"]}


async def period_version(conn: asyncpg.Connection, code: str, period: str) -> int | None:
    return await conn.fetchval(
        "SELECT version FROM monitoring.framework_periods WHERE code = $1 AND period = $2", code, period
    )


async def school(conn: asyncpg.Connection, school_id: str) -> dict[str, Any] | None:
    """A school from the copy of the registry's schools kept by the registry source (see operations.py)."""
    try:
        row = await conn.fetchrow("SELECT * FROM monitoring.school_copy WHERE id = $1::uuid", school_id)
    except (asyncpg.DataError, asyncpg.InvalidTextRepresentationError):
        return None
    return dict(row) if row else None


# --- who is expected ------------------------------------------------------------------------------------------


async def expected_units(
    conn: asyncpg.Connection, definition: Definition, code: str, *, whole_subtree: bool = False
) -> list[dict[str, Any]]:
    """The units a level approves directly — its schools (townships' included), or itself for a county framework —
    or, with `whole_subtree`, every unit anywhere under `code`; each with the level that approves it."""
    if definition.level != "school":
        counties = [code] if divisions.level_of(code) == "county" else []
        if whole_subtree:
            counties = [
                j.code
                for j in divisions.all_jurisdictions()
                if j.level == "county" and divisions.contains(code, j.code)
            ]
        return [{"id": c, "name": divisions.name_of(c), "kind": "jurisdiction", "level": c} for c in counties]
    rows = await conn.fetch(
        "SELECT id::text, name, stage, jurisdiction FROM monitoring.school_copy WHERE jurisdiction LIKE ANY($1::text[]) ORDER BY name",
        divisions.patterns(code),
    )
    units = [
        {
            "id": r["id"],
            "name": r["name"],
            "kind": "school",
            "stage": r["stage"],
            "level": home_level(r["jurisdiction"]),
        }
        for r in rows
        if applies(definition, r["stage"])
    ]
    return units if whole_subtree else [u for u in units if u["level"] == code]


async def levels_below(conn: asyncpg.Connection, definition: Definition, code: str) -> list[str]:
    """The levels directly below `code` that have anything to collect (a city's counties, a province's cities)."""
    below = [c.code for c in divisions.children(code) if len(c.code) == 6 and c.code != code]
    if definition.level != "school":
        return below
    rows = await conn.fetch(
        "SELECT DISTINCT jurisdiction, stage FROM monitoring.school_copy WHERE jurisdiction LIKE ANY($1::text[])",
        divisions.patterns(code),
    )
    return [
        c
        for c in below
        if any(divisions.contains(c, r["jurisdiction"]) and applies(definition, r["stage"]) for r in rows)
    ]


async def levels_heard(
    conn: asyncpg.Connection, framework: str, period: str, codes: list[str]
) -> dict[str, dict[str, Any]]:
    """Each level's status and version as its events reached this instance (levels without any are left out)."""
    rows = await conn.fetch(
        "SELECT jurisdiction, status, version FROM monitoring.levels WHERE framework = $1 AND period = $2 AND jurisdiction = ANY($3)",
        framework,
        period,
        codes,
    )
    return {r["jurisdiction"]: {"status": r["status"], "version": r["version"]} for r in rows}


async def collection_status(conn: asyncpg.Connection, code: str, period: str, jurisdiction: str) -> dict[str, Any]:
    """Where collection stands under a level: each expected unit's status (not_started when nothing came in) and the levels."""
    version = await period_version(conn, code, period)
    if version is None:
        raise NotFound(f"{code} has no collection open for {period}", field="period", rule="period_not_open")
    definition = await definition_at(conn, code, version)
    like = divisions.patterns(jurisdiction)
    rows = {
        r["unit_id"]: r
        for r in await conn.fetch(
            "SELECT unit_id, unit_name, jurisdiction, level, status, reason, version, collected_by, updated_at FROM monitoring.submissions"
            " WHERE framework = $1 AND period = $2 AND jurisdiction LIKE ANY($3::text[])",
            code,
            period,
            like,
        )
    }
    levels = {
        r["jurisdiction"]: r
        for r in await conn.fetch(
            "SELECT jurisdiction, status, reason FROM monitoring.levels WHERE framework = $1 AND period = $2 AND jurisdiction LIKE ANY($3::text[])",
            code,
            period,
            like,
        )
    }
    units = []
    for unit in await expected_units(conn, definition, jurisdiction, whole_subtree=True):
        units.append(_unit_status(unit["id"], unit["name"], unit["level"], rows.pop(unit["id"], None), levels))
    units += [
        _unit_status(r["unit_id"], r["unit_name"], r["level"], r, levels) for r in rows.values()
    ]  # no longer expected
    counts: dict[str, int] = {}
    for u in units:
        counts[u["status"]] = counts.get(u["status"], 0) + 1
    return {
        "framework": code,
        "period": period,
        "framework_version": version,
        "jurisdiction": jurisdiction,
        "counts": counts,
        "units": units,
        "levels": [
            {"jurisdiction": j, "name": divisions.name_of(j), "status": r["status"], "reason": r["reason"]}
            for j, r in sorted(levels.items())
        ],
    }


def _unit_status(
    unit_id: str, name: str, level: str, row: asyncpg.Record | None, levels: dict[str, asyncpg.Record]
) -> dict[str, Any]:
    status = row["status"] if row else "not_started"
    if status == "approved" and levels.get(level) is not None and levels[level]["status"] == "accepted":
        status = "accepted"  # accepted by the level above the approving county
    return {
        "unit_id": unit_id,
        "unit_name": name,
        "level": level,
        "status": status,
        "reason": row["reason"] if row else None,
        "version": row["version"] if row else None,
        "collected_by": json.loads(row["collected_by"]) if row else None,
        "updated_at": row["updated_at"] if row else None,
    }


# --- results --------------------------------------------------------------------------------------------------


UNIT_COLUMNS = "framework, period, unit_id, jurisdiction, framework_version, submission_version, status, result"


def _unit(row: asyncpg.Record) -> dict[str, Any]:
    """A recorded unit result: what was computed, with what it was for and the versions it was computed under."""
    return {
        **json.loads(row["result"]),
        "framework": row["framework"],
        "period": row["period"],
        "jurisdiction": row["jurisdiction"],
        "status": row["status"],
        "framework_version": row["framework_version"],
        "submission_version": row["submission_version"],
        "provisional": row["status"] != "approved",  # computed from data its level has not approved yet
    }


async def results(
    conn: asyncpg.Connection, code: str, period: str, jurisdiction: str, *, units: bool = True
) -> dict[str, Any]:
    """The results under a jurisdiction: its own area result when it is an approving level, the areas below it,
    every unit's result (unless `units` is False: the verdicts alone), and (above a county) the whole area rolled up
    from the units' recorded results."""
    version = await period_version(conn, code, period)
    if version is None:
        raise NotFound(f"{code} has no collection open for {period}", field="period", rule="period_not_open")
    like = divisions.patterns(jurisdiction)
    areas = await conn.fetch(
        "SELECT jurisdiction, framework_version, passes, result, computed_at FROM monitoring.area_results"
        " WHERE framework = $1 AND period = $2 AND jurisdiction LIKE ANY($3::text[]) ORDER BY jurisdiction",
        code,
        period,
        like,
    )
    own = next((a for a in areas if a["jurisdiction"] == jurisdiction), None)
    if own is not None:
        area = json.loads(own["result"])
    else:  # a wider area, from the counted units under the period's version, like the county's
        area = await area_over(conn, await definition_at(conn, code, version), code, period, like=like)
    found = {
        "framework": code,
        "period": period,
        "framework_version": version,
        "jurisdiction": jurisdiction,
        "jurisdiction_name": divisions.name_of(jurisdiction),
        "area": area,
        "areas": [
            {
                "jurisdiction": a["jurisdiction"],
                "name": divisions.name_of(a["jurisdiction"]),
                "passes": a["passes"],
                "framework_version": a["framework_version"],
                "computed_at": a["computed_at"],
                "result": json.loads(a["result"]),
            }
            for a in areas
        ],
        "units": [],
    }
    if units:
        rows = await conn.fetch(
            f"SELECT {UNIT_COLUMNS} FROM monitoring.unit_results"
            " WHERE framework = $1 AND period = $2 AND jurisdiction LIKE ANY($3::text[])"
            " ORDER BY unit_name, unit_id",
            code,
            period,
            like,
        )
        found["units"] = sorted(map(_unit, rows), key=lambda u: (u["jurisdiction"], u["unit_name"]))
    return found


async def unit_results_of(
    conn: asyncpg.Connection, unit_ids: list[str], framework: str | None = None, period: str | None = None
) -> list[dict[str, Any]]:
    """The recorded results of many units in one query, of one framework or period if given, newest period first."""
    rows = await conn.fetch(
        f"SELECT {UNIT_COLUMNS} FROM monitoring.unit_results WHERE unit_id = ANY($1::text[])"
        " AND ($2::text IS NULL OR framework = $2) AND ($3::text IS NULL OR period = $3) ORDER BY period DESC, framework, unit_id",
        unit_ids,
        framework,
        period,
    )
    return [_unit(r) for r in rows]


async def unit_results_at(conn: asyncpg.Connection, keys: list[tuple[str, str, str]]) -> list[dict[str, Any]]:
    """The recorded results for (framework, period, unit id) keys, in one query."""
    frameworks, periods, unit_ids = ([k[n] for k in keys] for n in range(3))
    rows = await conn.fetch(
        f"SELECT {UNIT_COLUMNS} FROM monitoring.unit_results"
        " WHERE (framework, period, unit_id) IN (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]))",
        frameworks,
        periods,
        unit_ids,
    )
    return [_unit(r) for r in rows]


# Each framework's area results of its newest period that has any at or under the jurisdiction patterns $1, as
# `newest_areas`: the areas in scope read once, not once more for each (a province has hundreds).
NEWEST_AREAS = (
    "WITH scoped AS (SELECT * FROM monitoring.area_results WHERE jurisdiction LIKE ANY($1::text[])),"
    " newest AS (SELECT framework, max(period) AS period FROM scoped GROUP BY framework),"
    " newest_areas AS (SELECT scoped.* FROM scoped JOIN newest USING (framework, period))"
)


async def latest_area_results(conn: asyncpg.Connection, jurisdiction: str) -> list[dict[str, Any]]:
    """For each framework, the area results of its newest period that has any at or under `jurisdiction`: their
    verdicts and, where the rule compares units by CV, their stages' CVs (`result` holds just those)."""
    rows = await conn.fetch(
        f"{NEWEST_AREAS} SELECT a.framework, f.definition->>'name' AS framework_name, a.period, a.jurisdiction,"
        # not the whole result: it names every unit counted (submission_versions), which a province's verdicts would
        # otherwise decode for all its schools
        " a.framework_version, a.passes,"
        " jsonb_build_object('provisional', a.result->'provisional', 'stages', a.result->'stages') AS result,"
        " a.computed_at FROM newest_areas a"
        " JOIN monitoring.frameworks f ON f.code = a.framework AND f.version = a.framework_version"
        " ORDER BY a.framework, a.jurisdiction",
        divisions.patterns(jurisdiction),
    )
    return [dict(r) | {"result": json.loads(r["result"])} for r in rows]


# Remembered until the collection changes (decision 044): every office's start page asks for them.
TALLIES = Remembered("monitoring", "collection")


async def latest_verdict_tallies(conn: asyncpg.Connection, jurisdiction: str) -> list[dict[str, Any]]:
    """For each framework, its newest period's area verdicts at or under `jurisdiction` counted (decision 037): how
    many areas, how many pass, which fail, how many have no verdict yet and how many rest on unapproved data. One row
    per framework however many counties a province has."""
    return await TALLIES.answer(conn, jurisdiction, lambda: _tallies_now(conn, jurisdiction))


async def _tallies_now(conn: asyncpg.Connection, jurisdiction: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"{NEWEST_AREAS}, tallied AS (SELECT framework, period, max(framework_version) AS framework_version,"
        " count(*) AS areas, count(*) FILTER (WHERE passes) AS passing,"
        " coalesce(array_agg(jurisdiction ORDER BY jurisdiction) FILTER (WHERE NOT passes), '{}') AS failing,"
        " count(*) FILTER (WHERE passes IS NULL) AS no_verdict,"
        " count(*) FILTER (WHERE (result->>'provisional')::boolean) AS provisional"
        " FROM newest_areas GROUP BY framework, period)"
        " SELECT t.*, f.definition->>'name' AS framework_name FROM tallied t"
        " JOIN monitoring.frameworks f ON f.code = t.framework AND f.version = t.framework_version"
        " ORDER BY t.framework",
        divisions.patterns(jurisdiction),
    )
    return [dict(r) | {"failing": list(r["failing"])} for r in rows]


async def what_if(conn: asyncpg.Connection, code: str, period: str, jurisdiction: str, version: int) -> dict[str, Any]:
    """The recorded results beside the same data computed under another framework version; nothing is stored."""
    recorded = await results(conn, code, period, jurisdiction)
    raw = await conn.fetchval(
        "SELECT definition FROM monitoring.frameworks WHERE code = $1 AND version = $2", code, version
    )
    if raw is None:
        raise NotFound(f"{code} has no version {version}", field="version", rule="no_such_version")
    definition = Definition.parse(json.loads(raw))
    data: list[UnitData] = [
        unit_data(r) for r in await counted_units(conn, code, period, like=divisions.patterns(jurisdiction))
    ]
    computed = area_result(definition, data)
    return {
        "framework": code,
        "period": period,
        "jurisdiction": jurisdiction,
        "recorded": {
            "framework_version": recorded["framework_version"],
            "area": recorded["area"],
            "units": recorded["units"],
        },
        "what_if": {"framework_version": version, "area": computed["area"], "units": computed["units"]},
    }
