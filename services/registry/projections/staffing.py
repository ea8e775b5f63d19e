"""Staffing compliance (督学配备达标情况): R1–R4 for a jurisdiction's whole subtree, against its effective profile."""

from __future__ import annotations

import math
from typing import Any

import asyncpg

from dudao import jurisdiction
from dudao.profiles import Effective, effective
from services.registry.projections.places import profiles_along

SERVING = "('appointed', 'filed', 'active', 'suspended')"


async def effective_profile(conn: asyncpg.Connection, code: str) -> Effective:
    path = [*jurisdiction.ancestors(code), code]
    return effective(code, await profiles_along(conn, path))


async def staffing_compliance(conn: asyncpg.Connection, code: str) -> dict[str, Any]:
    """The figures and verdicts for `code` and everything below it in this instance."""
    profile = await effective_profile(conn, code)
    like = jurisdiction.prefix(code) + "%"
    ratio = profile.get("inspector_school_ratio")
    large_at = profile.get("large_school_enrolment")
    per_supervisor = profile.get("pupils_per_school_supervisor")

    schools = await conn.fetchrow(
        "SELECT count(*) AS schools,"
        " count(*) FILTER (WHERE $2::int IS NOT NULL AND enrolment >= $2) AS large_schools,"
        " count(*) FILTER (WHERE $3::int IS NOT NULL AND internal_supervisors < ceil(enrolment::numeric / $3))"
        "   AS short_of_supervisors"
        " FROM registry.school_directory WHERE jurisdiction LIKE $1",
        like, large_at, per_supervisor,
    )  # fmt: skip
    inspectors = await conn.fetchrow(
        "SELECT count(*) FILTER (WHERE status = 'active') AS active,"
        " count(*) FILTER (WHERE status = 'active' AND employment = 'full_time') AS active_full_time,"
        f" count(*) FILTER (WHERE status IN {SERVING} AND 'government' = ANY(roles)) AS government,"
        f" count(*) FILTER (WHERE status IN {SERVING} AND 'government' = ANY(roles) AND 'subject' = ANY(roles)) AS subject"
        " FROM registry.inspector_directory WHERE jurisdiction LIKE $1",
        like,
    )
    # A large school has an inspector of its own when its responsible inspector answers for no other school.
    large_without_own = await conn.fetchval(
        "SELECT count(*) FROM registry.school_directory s WHERE s.jurisdiction LIKE $1 AND $2::int IS NOT NULL"
        " AND s.enrolment >= $2 AND (s.responsible_inspector_id IS NULL OR EXISTS ("
        "   SELECT 1 FROM registry.school_directory o WHERE o.responsible_inspector_id = s.responsible_inspector_id"
        "   AND o.id <> s.id))",
        like, large_at,
    )  # fmt: skip

    n_schools, n_large = schools["schools"], schools["large_schools"]
    required = math.ceil((n_schools - n_large) / ratio) + n_large if ratio else None
    active = inspectors["active"]
    share = inspectors["active_full_time"] / active if active else 0.0
    share_min = profile.get("full_time_share_min")
    gov_min, subject_min = profile.get("government_inspectors_per_term_min"), profile.get("subject_inspectors_per_term_min")
    return {
        "jurisdiction": code,
        "jurisdiction_name": jurisdiction.name_of(code),
        "profile_version": profile.version,
        "schools": n_schools,
        "inspectors": active,
        "r1": {
            "schools_per_inspector": ratio,
            "large_school_enrolment": large_at,
            "large_schools": n_large,
            "required_inspectors": required,
            "met": required is None or active >= required,
            "large_schools_without_own_inspector": large_without_own,
        },
        "r2": {
            "full_time_inspectors": inspectors["active_full_time"],
            "full_time_share": round(share, 4),
            "minimum": share_min,
            "met": share_min is None or share >= share_min,
        },
        "r3": {
            "government_inspectors": inspectors["government"],
            "government_minimum": gov_min,
            "subject_inspectors": inspectors["subject"],
            "subject_minimum": subject_min,
            "met": (gov_min is None or inspectors["government"] >= gov_min)
            and (subject_min is None or inspectors["subject"] >= subject_min),
        },
        "r4": {
            "pupils_per_supervisor": per_supervisor,
            "schools_short_of_supervisors": schools["short_of_supervisors"],
            "met": per_supervisor is None or schools["short_of_supervisors"] == 0,
        },
    }
