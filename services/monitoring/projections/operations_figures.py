"""Operational monitoring's figures (运行监测): routine-visit coverage, rectification, staffing compliance, interviews
and circulars for a jurisdiction and each one directly below it, counted from the tables `operations` keeps."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

import asyncpg

from dudao import jurisdiction as divisions
from dudao.profiles import Effective, effective_from_copy
from dudao.staffing import SERVING, SHORT_OF_SUPERVISORS, StaffingCounts, staffing_verdict
from dudao.stages import COMPULSORY_STAGES
from services.monitoring.projections.operations import MEASURE_STATUSES, SCHEMA


async def operations_rollup(conn: asyncpg.Connection, code: str, today: date) -> dict[str, Any]:
    """The figures for `code` and everything inside it, and the same for each jurisdiction directly below with any data.

    Each table is read once, counted per jurisdiction, and the counts summed for `code` and for each child over the
    jurisdictions its patterns match (as `jurisdiction LIKE ANY(patterns)` would): a province's roll-up is a handful of
    statements, not seven for each of its cities (issue 24)."""
    children = await _children_with_data(conn, code)
    places = Places([code, *children])
    like = divisions.patterns(code)
    month = f"{today:%Y-%m}"
    coverage = places.sum(await conn.fetch(COVERAGE_SQL, like, month, COMPULSORY_STAGES))
    rectification = places.sum(await conn.fetch(RECTIFICATION_SQL, like, today))
    measures = places.sum(
        {"jurisdiction": r["jurisdiction"], f"{r['kind']}.{r['status']}": r["n"]}
        for r in await conn.fetch(MEASURES_SQL, like)
    )
    inspectors = places.sum(await conn.fetch(INSPECTORS_SQL, like, list(SERVING)))
    profiles = {place: await effective_from_copy(conn, SCHEMA, place) for place in places.codes}
    schools: dict[tuple[int | None, int | None], dict[str, Counter]] = {}  # per profile's thresholds: mostly one
    for profile in profiles.values():
        if (thresholds := _thresholds(profile)) not in schools:
            schools[thresholds] = places.sum(await conn.fetch(SCHOOLS_SQL, like, *thresholds))

    def figures(place: str) -> dict[str, Any]:
        profile = profiles[place]
        counted = schools[_thresholds(profile)][place]
        staffing = StaffingCounts(
            schools=counted["schools"],
            large_schools=counted["large_schools"],
            large_schools_without_own_inspector=counted["large_without_own"],
            schools_short_of_supervisors=counted["short_of_supervisors"],
            active_inspectors=inspectors[place]["active"],
            active_full_time=inspectors[place]["active_full_time"],
            government_inspectors=inspectors[place]["government"],
            subject_inspectors=inspectors[place]["subject"],
        )
        return {
            "jurisdiction": place,
            "jurisdiction_name": divisions.name_of(place),
            "as_of": today.isoformat(),
            "routine_visits": _coverage(coverage[place], month),
            "rectification": _rectification(rectification[place]),
            "staffing": {"profile_version": profile.version, **staffing_verdict(staffing, profile)},
            "interviews": _by_status(measures[place], "interview"),
            "circulars": _by_status(measures[place], "circular"),
        }

    return figures(code) | {"children": [figures(child) for child in children]}


def _thresholds(profile: Effective) -> tuple[int | None, int | None]:
    """What the schools' staffing counts depend on in a profile: the large-school enrolment, pupils per supervisor."""
    return profile.get("large_school_enrolment"), profile.get("pupils_per_school_supervisor")


class Places:
    """A jurisdiction and those directly below it, each with the prefixes of its LIKE patterns (`divisions.patterns`)."""

    def __init__(self, codes: list[str]):
        self.codes = codes
        self._prefixes = {code: tuple(p.removesuffix("%") for p in divisions.patterns(code)) for code in codes}

    def sum(self, rows: Iterable[Mapping[str, Any]]) -> dict[str, Counter]:
        """Rows counted per jurisdiction (`jurisdiction` and counts), summed for each place whose patterns match."""
        totals: dict[str, Counter] = {code: Counter() for code in self.codes}
        for row in rows:
            counts = {k: v for k, v in dict(row).items() if k != "jurisdiction"}
            for code, prefixes in self._prefixes.items():
                if row["jurisdiction"].startswith(prefixes):
                    totals[code].update(counts)
        return totals


# Routine supervision (S1): compulsory-education schools, and those visited at least once in the month ($2).
COVERAGE_SQL = (
    "SELECT s.jurisdiction, count(*) AS schools, count(*) FILTER (WHERE EXISTS"
    " (SELECT 1 FROM monitoring.ops_visits v WHERE v.school_id = s.id AND v.month = $2)) AS visited"
    " FROM monitoring.school_copy s WHERE s.jurisdiction LIKE ANY($1::text[]) AND s.stage = ANY($3::text[])"
    " GROUP BY s.jurisdiction"
)

# Items under rectification (given a deadline at feedback). The on-time rate is accountability's: items accepted the
# first time without a supervision notice, over items accepted or noticed (`judged`). Each lapse got one notice.
RECTIFICATION_SQL = (
    "SELECT jurisdiction, count(*) AS items, count(*) FILTER (WHERE status = 'accepted') AS accepted,"
    " count(*) FILTER (WHERE accepted_on_time) AS accepted_on_time,"
    " count(*) FILTER (WHERE accepted_on_time IS NOT NULL OR lapses > 0) AS judged,"
    " count(*) FILTER (WHERE status <> 'accepted' AND deadline < $2) AS overdue,"
    " coalesce(sum(lapses), 0) AS notices_issued"
    " FROM monitoring.ops_items WHERE jurisdiction LIKE ANY($1::text[]) GROUP BY jurisdiction"
)

# Interviews (约谈) and circulars (通报) by status.
MEASURES_SQL = (
    "SELECT jurisdiction, kind, status, count(*) AS n FROM monitoring.ops_measures"
    " WHERE jurisdiction LIKE ANY($1::text[]) GROUP BY jurisdiction, kind, status"
)

# Staffing compliance (R1–R4) counted from this service's copy and judged by the registry's rule: the inspectors ($2:
# the statuses still serving), and the schools under one profile's thresholds ($2 large school, $3 pupils per
# supervisor). A large school has an inspector of its own when its responsible inspector answers for no other school.
INSPECTORS_SQL = (
    "SELECT jurisdiction, count(*) FILTER (WHERE status = 'active') AS active,"
    " count(*) FILTER (WHERE status = 'active' AND employment = 'full_time') AS active_full_time,"
    " count(*) FILTER (WHERE status = ANY($2::text[]) AND 'government' = ANY(roles)) AS government,"
    " count(*) FILTER (WHERE status = ANY($2::text[]) AND 'government' = ANY(roles) AND 'subject' = ANY(roles)) AS subject"
    " FROM monitoring.ops_inspectors WHERE jurisdiction LIKE ANY($1::text[]) GROUP BY jurisdiction"
)
SCHOOLS_SQL = (
    "SELECT s.jurisdiction, count(*) AS schools,"
    " count(*) FILTER (WHERE $2::int IS NOT NULL AND s.enrolment >= $2) AS large_schools,"
    f" count(*) FILTER (WHERE {SHORT_OF_SUPERVISORS}) AS short_of_supervisors,"
    " count(*) FILTER (WHERE $2::int IS NOT NULL AND s.enrolment >= $2 AND (s.responsible_inspector_id IS NULL OR EXISTS ("
    "   SELECT 1 FROM monitoring.school_copy o WHERE o.responsible_inspector_id = s.responsible_inspector_id AND o.id <> s.id)))"
    " AS large_without_own"
    " FROM monitoring.school_copy s WHERE s.jurisdiction LIKE ANY($1::text[]) GROUP BY s.jurisdiction"
)


def _coverage(counted: Counter, month: str) -> dict[str, Any]:
    return {
        "month": month,
        "schools": counted["schools"],
        "visited": counted["visited"],
        "coverage": _rate(counted["visited"], counted["schools"]),
    }


def _rectification(counted: Counter) -> dict[str, Any]:
    return {
        "items": counted["items"],
        "accepted": counted["accepted"],
        "accepted_on_time": counted["accepted_on_time"],
        "judged": counted["judged"],
        "on_time_rate": _rate(counted["accepted_on_time"], counted["judged"]),
        "overdue": counted["overdue"],
        "notices_issued": counted["notices_issued"],
    }


def _by_status(counted: Counter, kind: str) -> dict[str, int]:
    by_status = {status: counted[f"{kind}.{status}"] for status in MEASURE_STATUSES[kind]}
    return by_status | {"total": sum(by_status.values())}


async def _children_with_data(conn: asyncpg.Connection, code: str) -> list[str]:
    """The jurisdictions directly below `code` (townships below a county included) where anything is counted."""
    rows = await conn.fetch(
        "SELECT jurisdiction FROM monitoring.school_copy WHERE jurisdiction LIKE ANY($1::text[])"
        " UNION SELECT jurisdiction FROM monitoring.ops_inspectors WHERE jurisdiction LIKE ANY($1::text[])"
        " UNION SELECT jurisdiction FROM monitoring.ops_items WHERE jurisdiction LIKE ANY($1::text[])"
        " UNION SELECT jurisdiction FROM monitoring.ops_measures WHERE jurisdiction LIKE ANY($1::text[])",
        divisions.patterns(code),
    )
    return sorted({child for r in rows if (child := _child_towards(code, r["jurisdiction"])) is not None})


def _child_towards(code: str, place: str) -> str | None:
    """The jurisdiction directly below `code` on the way down to `place`; None when `place` is `code` itself."""
    if place == code or not divisions.is_valid_code(place):
        return None
    path = [place, *divisions.ancestors(place)]
    return path[path.index(code) - 1] if code in path else None


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
