"""The scope model as pure rules: each role against a target, the instance boundary, and profiles that only tighten."""

from __future__ import annotations

import pytest

from dudao.auth import Principal
from dudao.errors import Conflict, Forbidden
from dudao.profiles import effective
from dudao.scope import Target, authorize, check_scope, listed_unit, sees
from services.registry.domain.policy import check_only_tightens

pytestmark = pytest.mark.unit

CASE = Target("500120", unit="school-a", team=frozenset({"insp-1"}), agencies=frozenset({"ag-1"}))


def caller(
    role: str, jur: str = "500120", unit: str | None = None, sub: str = "someone", writing: bool = False
) -> Principal:
    return Principal(sub=sub, roles=frozenset({role}), jur=jur, unit=unit, instance="500120", writing=writing)


def refusal(principal: Principal, target: Target = CASE, roles: tuple[str, ...] = (), write: bool = False) -> str:
    with pytest.raises(Forbidden) as refused:
        authorize(principal, target, roles, write=write)
    assert refused.value.extra["target"] == target.describe()
    return refused.value.rule


@pytest.mark.parametrize("role", ["admin", "committee", "ops", "national"])
def test_offices_are_admitted_from_their_subtree_and_refused_from_beside_or_below(role):
    for jur in ("500120", "500000", "000000"):
        assert authorize(caller(role, jur), CASE, (), write=False) == role
    for jur in ("500151", "500120001", "360123"):
        assert refusal(caller(role, jur)) == "out_of_scope"


def test_national_reads_but_never_writes():
    assert refusal(caller("national", "000000", writing=True), write=True) == "out_of_scope"


def test_a_unit_reaches_its_own_records_only():
    assert authorize(caller("unit", unit="school-a"), CASE, (), write=True) == "unit"
    assert refusal(caller("unit", unit="school-b")) == "own_unit_only"
    assert refusal(caller("unit")) == "own_unit_only"  # a unit token naming no unit


def test_an_inspector_reaches_the_activities_whose_team_includes_them():
    assert authorize(caller("inspector", sub="insp-1"), CASE, (), write=True) == "inspector"
    assert refusal(caller("inspector", sub="insp-2")) == "not_on_team"


def test_an_agency_reaches_what_its_assignment_covers():
    assert authorize(caller("agency", unit="ag-1"), CASE, (), write=True) == "agency"
    assert refusal(caller("agency", unit="ag-2")) == "assignment_scope"


def test_only_the_roles_the_route_allows_count():
    both = Principal(sub="x", roles=frozenset({"unit", "admin"}), jur="500120", unit="school-b")
    assert authorize(both, CASE, ("admin",), write=False) == "admin"
    assert refusal(both, roles=("unit",)) == "own_unit_only"


def test_a_write_outside_the_instance_is_refused_whoever_asks_and_a_read_is_not():
    nation = caller("admin", "000000", writing=True)
    with pytest.raises(Forbidden) as refused:
        check_scope(nation, "500110")
    assert (
        refused.value.rule == "instance_boundary"
        and "500120" in refused.value.detail
        and "500110" in refused.value.detail
    )
    check_scope(caller("admin", "000000"), "500110")  # reading what a lower instance sent up is fine


def test_lists_narrow_a_unit_to_itself():
    assert listed_unit(caller("admin"), None) is None and listed_unit(caller("admin"), "x") == "x"
    assert listed_unit(caller("unit", unit="school-a"), None) == "school-a"
    with pytest.raises(Forbidden):
        listed_unit(caller("unit", unit="school-a"), "school-b")
    assert sees(caller("unit", unit="school-a"), "500120", "school-a")
    assert not sees(caller("unit", unit="school-a"), "500120", "school-b")
    assert sees(caller("admin"), "500120", "school-b") and not sees(caller("admin", "500151"), "500120", "school-b")


UPPER = effective(
    "500120", {"000000": (1, {"inspector_school_ratio": 5, "full_time_share_min": 0.2, "interview_at_lapse": 2})}
)


@pytest.mark.parametrize(
    "values",
    [
        {"inspector_school_ratio": 3},
        {"inspector_school_ratio": 5},
        {"full_time_share_min": 0.3},
        {"interview_at_lapse": 1},
        {"rectification_days": 90},
    ],  # the last: no level above sets it
)
def test_a_lower_level_may_tighten(values):
    check_only_tightens(values, UPPER)


@pytest.mark.parametrize(
    "key, value",
    [
        ("inspector_school_ratio", 50),
        ("full_time_share_min", 0.1),
        ("interview_at_lapse", 3),
        ("interview_at_lapse", 0),
    ],
)
def test_a_lower_level_may_not_loosen_and_is_told_by_whom(key, value):
    with pytest.raises(Conflict) as refused:
        check_only_tightens({key: value}, UPPER)
    assert refused.value.rule == "policy_loosened" and refused.value.field == f"set.{key}"
    assert refused.value.extra["set_by"] == "000000" and refused.value.extra["upper_value"] == UPPER.get(key)
