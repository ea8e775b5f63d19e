"""Staffing compliance (督学配备达标情况): R1–R4 for a jurisdiction's whole subtree, against its effective profile."""

from __future__ import annotations

from typing import Any

import asyncpg

from dudao import jurisdiction
from dudao.profiles import Effective, effective
from dudao.remembered import Remembered
from dudao.staffing import SERVING, SHORT_OF_SUPERVISORS, StaffingCounts, staffing_verdict
from services.registry.projections.places import profiles_along


async def effective_profile(conn: asyncpg.Connection, code: str) -> Effective:
    path = [*jurisdiction.ancestors(code), code]
    return effective(code, await profiles_along(conn, path))


# Remembered until the directory changes (decision 044): a province's staffing reads all its schools, and the start
# page of every office asks for it far more often than the directory changes.
REMEMBERED = Remembered("registry", "directory")


async def staffing_compliance(conn: asyncpg.Connection, code: str) -> dict[str, Any]:
    """The figures and verdicts for `code` and everything below it in this instance."""
    profile = await effective_profile(conn, code)
    return await REMEMBERED.answer(conn, (code, profile.version), lambda: _staffing(conn, code, profile))


async def _staffing(conn: asyncpg.Connection, code: str, profile: Effective) -> dict[str, Any]:
    # One statement, so every count is from one moment, and one pass over the schools. A large school has an
    # inspector of its own when its responsible inspector answers for no other school.
    figures = await conn.fetchrow(
        "SELECT * FROM"
        " (SELECT count(*) AS schools,"
        "   count(*) FILTER (WHERE $2::int IS NOT NULL AND s.enrolment >= $2) AS large_schools,"
        f"  count(*) FILTER (WHERE {SHORT_OF_SUPERVISORS}) AS short_of_supervisors,"
        "   count(*) FILTER (WHERE $2::int IS NOT NULL AND s.enrolment >= $2 AND (s.responsible_inspector_id IS NULL"
        "     OR EXISTS (SELECT 1 FROM registry.school_directory o"
        "       WHERE o.responsible_inspector_id = s.responsible_inspector_id AND o.id <> s.id))) AS large_without_own"
        "   FROM registry.school_directory s WHERE s.jurisdiction LIKE ANY($1::text[])) AS schools,"
        " (SELECT count(*) FILTER (WHERE status = 'active') AS active,"
        "   count(*) FILTER (WHERE status = 'active' AND employment = 'full_time') AS active_full_time,"
        "   count(*) FILTER (WHERE status = ANY($4::text[]) AND 'government' = ANY(roles)) AS government,"
        "   count(*) FILTER (WHERE status = ANY($4::text[]) AND 'government' = ANY(roles) AND 'subject' = ANY(roles))"
        "     AS subject"
        "   FROM registry.inspector_directory WHERE jurisdiction LIKE ANY($1::text[])) AS inspectors",
        jurisdiction.patterns(code),
        profile.get("large_school_enrolment"),
        profile.get("pupils_per_school_supervisor"),
        list(SERVING),
    )
    counts = StaffingCounts(
        schools=figures["schools"],
        large_schools=figures["large_schools"],
        large_schools_without_own_inspector=figures["large_without_own"],
        schools_short_of_supervisors=figures["short_of_supervisors"],
        active_inspectors=figures["active"],
        active_full_time=figures["active_full_time"],
        government_inspectors=figures["government"],
        subject_inspectors=figures["subject"],
    )
    return {
        "jurisdiction": code,
        "jurisdiction_name": jurisdiction.name_of(code),
        "profile_version": profile.version,
        **staffing_verdict(counts, profile),
    }
