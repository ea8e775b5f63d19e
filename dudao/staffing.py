"""Staffing compliance (督学配备达标情况): the R1–R4 verdicts from counts over a jurisdiction and its effective profile.

Pure arithmetic, no I/O: the registry's read model and the monitoring service's operational figures
count from their own tables and judge here, so the two can never disagree on a rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from dudao.profiles import Effective

# Inspectors appointed and not exited count towards a term's government and subject inspectors (R3): the registry's
# inspector statuses by value (a test there holds them to its `Status`), so each service counts alike from its copy.
SERVING = ("appointed", "filed", "active", "suspended")

# R4 in SQL over a school row `s`, with `pupils_per_school_supervisor` as $3 (at least 1; NULL: the rule is unset):
# fewer internal supervisors than ceil(enrolment / $3), which for whole numbers is supervisors × $3 < enrolment.
# Over a province's 20,000 schools the integer product costs about 1 ms, where `ceil(numeric division)` cost 4.
SHORT_OF_SUPERVISORS = "s.internal_supervisors::bigint * $3::int < s.enrolment"


@dataclass(frozen=True)
class StaffingCounts:
    """What the verdicts are judged on, counted over a jurisdiction's whole subtree."""

    schools: int
    large_schools: int  # enrolment at or above the profile's `large_school_enrolment` (0 when it has none)
    large_schools_without_own_inspector: int
    schools_short_of_supervisors: int  # fewer internal supervisors than one per `pupils_per_school_supervisor`
    active_inspectors: int
    active_full_time: int
    government_inspectors: int  # serving, with the government role
    subject_inspectors: int  # serving, with both the government and the subject role


def required_inspectors(schools: int, large_schools: int, ratio: int | None) -> int | None:
    """R1: one inspector per `ratio` schools, and one of its own for each large school; None when no ratio is set."""
    return math.ceil((schools - large_schools) / ratio) + large_schools if ratio else None


def staffing_verdict(counts: StaffingCounts, profile: Effective) -> dict[str, Any]:
    """The figures and the R1–R4 verdicts; a rule whose profile key is unset is met."""
    ratio = profile.get("inspector_school_ratio")
    required = required_inspectors(counts.schools, counts.large_schools, ratio)
    active = counts.active_inspectors
    share = counts.active_full_time / active if active else 0.0
    share_min = profile.get("full_time_share_min")
    gov_min, subject_min = (
        profile.get("government_inspectors_per_term_min"),
        profile.get("subject_inspectors_per_term_min"),
    )
    per_supervisor = profile.get("pupils_per_school_supervisor")
    return {
        "schools": counts.schools,
        "inspectors": active,
        "r1": {
            "schools_per_inspector": ratio,
            "large_school_enrolment": profile.get("large_school_enrolment"),
            "large_schools": counts.large_schools,
            "required_inspectors": required,
            # Both halves: enough inspectors, and each large school with one of its own (1:1).
            "met": (required is None or active >= required) and counts.large_schools_without_own_inspector == 0,
            "large_schools_without_own_inspector": counts.large_schools_without_own_inspector,
        },
        "r2": {
            "full_time_inspectors": counts.active_full_time,
            "full_time_share": round(share, 4),
            "minimum": share_min,
            "met": share_min is None or share >= share_min,
        },
        "r3": {
            "government_inspectors": counts.government_inspectors,
            "government_minimum": gov_min,
            "subject_inspectors": counts.subject_inspectors,
            "subject_minimum": subject_min,
            "met": (gov_min is None or counts.government_inspectors >= gov_min)
            and (subject_min is None or counts.subject_inspectors >= subject_min),
        },
        "r4": {
            "pupils_per_supervisor": per_supervisor,
            "schools_short_of_supervisors": counts.schools_short_of_supervisors,
            "met": per_supervisor is None or counts.schools_short_of_supervisors == 0,
        },
    }
