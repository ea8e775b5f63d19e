"""Staffing compliance verdicts (R1–R4) from counts and an effective profile: the arithmetic both services share."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dudao.profiles import effective
from dudao.staffing import SERVING, StaffingCounts, required_inspectors, staffing_verdict

pytestmark = pytest.mark.unit

BISHAN_LIKE = {
    "inspector_school_ratio": 5,
    "large_school_enrolment": 2000,
    "government_inspectors_per_term_min": 100,
    "subject_inspectors_per_term_min": 50,
    "pupils_per_school_supervisor": 500,
}


def profile(**values):
    return effective("500120", {"000000": (1, values)})


def counts(**overrides) -> StaffingCounts:
    """Eleven schools, one of them large; three active inspectors, one full-time; nothing else counted."""
    base = StaffingCounts(
        schools=11,
        large_schools=1,
        large_schools_without_own_inspector=0,
        schools_short_of_supervisors=0,
        active_inspectors=3,
        active_full_time=1,
        government_inspectors=0,
        subject_inspectors=0,
    )
    return replace(base, **overrides)


def test_r1_needs_one_inspector_per_ratio_of_ordinary_schools_and_one_per_large_school():
    assert required_inspectors(schools=11, large_schools=1, ratio=5) == 3  # 10 / 5 + 1
    assert required_inspectors(schools=12, large_schools=1, ratio=5) == 4  # a part of five schools still needs one
    assert required_inspectors(schools=0, large_schools=0, ratio=5) == 0
    verdict = staffing_verdict(counts(active_inspectors=2), profile(**BISHAN_LIKE))
    assert verdict["r1"] == {
        "schools_per_inspector": 5,
        "large_school_enrolment": 2000,
        "large_schools": 1,
        "required_inspectors": 3,
        "met": False,
        "large_schools_without_own_inspector": 0,
    }
    assert staffing_verdict(counts(), profile(**BISHAN_LIKE))["r1"]["met"] is True


def test_r1_is_not_met_while_a_large_school_has_no_inspector_of_its_own_however_many_there_are():
    """Issue 18: `met: true` beside `large_schools_without_own_inspector: 1`."""
    verdict = staffing_verdict(
        counts(active_inspectors=30, large_schools_without_own_inspector=1), profile(**BISHAN_LIKE)
    )
    assert verdict["r1"]["met"] is False and verdict["r1"]["large_schools_without_own_inspector"] == 1


def test_a_rule_whose_profile_key_is_unset_is_met():
    verdict = staffing_verdict(
        counts(active_inspectors=0, active_full_time=0, schools_short_of_supervisors=4), profile()
    )
    assert verdict["r1"]["required_inspectors"] is None and verdict["r1"]["met"] is True
    assert verdict["r2"]["met"] is True and verdict["r3"]["met"] is True and verdict["r4"]["met"] is True


def test_r2_compares_the_full_time_share_of_active_inspectors_with_the_minimum():
    hainan = profile(full_time_share_min=0.2)
    assert staffing_verdict(counts(active_inspectors=5, active_full_time=1), hainan)["r2"] == {
        "full_time_inspectors": 1,
        "full_time_share": 0.2,
        "minimum": 0.2,
        "met": True,
    }
    assert staffing_verdict(counts(active_inspectors=3, active_full_time=1), hainan)["r2"]["full_time_share"] == 0.3333
    below = staffing_verdict(counts(active_inspectors=6, active_full_time=1), hainan)["r2"]
    assert below["full_time_share"] == 0.1667 and below["met"] is False


def test_no_active_inspector_is_a_zero_share_and_fails_a_set_minimum():
    r2 = staffing_verdict(counts(active_inspectors=0, active_full_time=0), profile(full_time_share_min=0.2))["r2"]
    assert r2["full_time_share"] == 0.0 and r2["met"] is False


def test_r3_needs_both_the_government_and_the_subject_minimum():
    bishan = profile(**BISHAN_LIKE)
    assert staffing_verdict(counts(government_inspectors=100, subject_inspectors=50), bishan)["r3"]["met"] is True
    assert staffing_verdict(counts(government_inspectors=100, subject_inspectors=49), bishan)["r3"]["met"] is False
    assert staffing_verdict(counts(government_inspectors=99, subject_inspectors=50), bishan)["r3"]["met"] is False


def test_r4_fails_while_any_school_is_short_of_internal_supervisors():
    bishan = profile(**BISHAN_LIKE)
    assert staffing_verdict(counts(schools_short_of_supervisors=1), bishan)["r4"] == {
        "pupils_per_supervisor": 500,
        "schools_short_of_supervisors": 1,
        "met": False,
    }
    assert staffing_verdict(counts(), bishan)["r4"]["met"] is True


def test_the_verdict_reports_the_counts_it_judged():
    verdict = staffing_verdict(counts(), profile(**BISHAN_LIKE))
    assert (verdict["schools"], verdict["inspectors"]) == (11, 3)
    assert set(verdict) == {"schools", "inspectors", "r1", "r2", "r3", "r4"}


def test_the_statuses_counted_as_serving_are_the_registrys_inspector_statuses_before_exit():
    from services.registry.domain.inspector_terms import Status

    assert set(SERVING) == {s.value for s in Status} - {"nominated", "exited"}
