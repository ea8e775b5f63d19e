"""The shipped frameworks computed by hand: a county of six schools, stage splitting, school and county rules,
validation of every field, the preschool and duty-evaluation frameworks."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from dudao.errors import InvalidInput
from services.monitoring.domain.area import (
    area_from,
    area_input,
    area_of,
    area_part,
    area_result,
    cv_figures,
    merge_parts,
    moments,
)
from services.monitoring.domain.compute import UnitData, unit_result, validate
from services.monitoring.domain.definition import Definition
from tests.factories import BALANCED, COUNTY, SHIPPED, school_values, shipped

pytestmark = pytest.mark.unit


def county_units() -> list[UnitData]:
    return [
        UnitData(unit_id=name, unit_name=name, values=validate(BALANCED, values, stage), stage=stage, version=3)
        for name, (stage, values) in COUNTY.items()
    ]


def indicator(result: dict, stage: str, key: str) -> dict:
    part = next(p for p in result["parts"] if p["stage"] == stage)
    return next(i for i in part["indicators"] if i["key"] == key)


def test_a_nine_year_school_is_split_by_weighted_enrolment_before_area_indicators():
    d = unit_result(BALANCED, county_units()[3])
    # floor area 10400 m²: primary part 10400 × 600/1040 = 6000 m² over 600 pupils = 10.0;
    # junior part 10400 × 440/1040 = 4400 m² over 400 pupils = 11.0 (not 10400 / 1000 = 10.4 for both)
    assert indicator(d, "primary", "teaching_floor_area_per_pupil")["value"] == pytest.approx(10.0)
    assert indicator(d, "junior_secondary", "teaching_floor_area_per_pupil")["value"] == pytest.approx(11.0)
    # teachers are counted per stage already: 30 qualified primary teachers per 600 pupils = 5.0 per 100
    assert indicator(d, "primary", "qualified_teachers_per_100")["value"] == pytest.approx(5.0)
    assert [p["stage"] for p in d["parts"]] == ["primary", "junior_secondary"]


def test_a_complete_secondary_school_counts_only_its_junior_part():
    e = unit_result(BALANCED, county_units()[4])
    # 12000 m² × 600/1200 = 6000 m² over 600 junior pupils = 10.0; the senior part is not assessed
    assert [p["stage"] for p in e["parts"]] == ["junior_secondary"]
    assert indicator(e, "junior_secondary", "teaching_floor_area_per_pupil")["value"] == pytest.approx(10.0)
    assert indicator(e, "junior_secondary", "multimedia_classrooms_per_100")["value"] == pytest.approx(
        2.75
    )  # 33 × 0.5 / 600 × 100


def test_a_school_with_pupils_of_one_stage_only_is_a_school_of_that_stage():
    values = dict(
        COUNTY["D"][1],
        pupils={"primary": 600, "junior_secondary": 0},
        fulltime_teachers={"primary": 36, "junior_secondary": 0},
        qualified_teachers={"primary": 30, "junior_secondary": 0},
        key_teachers={"primary": 6, "junior_secondary": 0},
        pe_arts_teachers={"primary": 6, "junior_secondary": 0},
    )
    d = unit_result(BALANCED, UnitData("D", "D", validate(BALANCED, values, "nine_year"), stage="nine_year"))
    assert [p["stage"] for p in d["parts"]] == ["primary"]
    assert indicator(d, "primary", "teaching_floor_area_per_pupil")["value"] == pytest.approx(10400 / 600)


def test_six_of_seven_at_the_bar_and_none_below_85_percent_passes_a_school():
    b = unit_result(BALANCED, county_units()[1])
    # B: 4000 m² / 1000 pupils = 4.0 against 4.5: missed, but 4.0 / 4.5 = 0.889 ≥ 0.85
    area = indicator(b, "primary", "teaching_floor_area_per_pupil")
    assert (area["meets"], area["below_floor"]) == (False, False)
    assert b["parts"][0]["meeting"] == 6 and b["passes"] is True


def test_one_indicator_below_85_percent_of_its_bar_fails_a_school():
    f = unit_result(BALANCED, county_units()[5])
    # F: 800 000 yuan / 400 pupils = 2000 against 2500: 0.8 < 0.85, although 6 of 7 meet their bars
    equipment = indicator(f, "junior_secondary", "equipment_value_per_pupil")
    assert equipment["attainment"] == pytest.approx(0.8) and equipment["below_floor"] is True
    assert f["parts"][0]["meeting"] == 6 and f["passes"] is False


def test_the_county_cvs_match_the_hand_computed_ones():
    area = area_result(BALANCED, county_units())["area"]
    primary, junior = area["stages"]["primary"]["indicators"], area["stages"]["junior_secondary"]["indicators"]
    # floor area, primary: (P, X) = A(400, 6.0) B(1000, 4.0) D(600, 10.0); P = 2000
    #   X̄ = (2400 + 4000 + 6000) / 2000 = 6.2
    #   S² = (400·0.2² + 1000·2.2² + 600·3.8²) / 2000 = (16 + 4840 + 8664) / 2000 = 6.76, S = 2.6
    #   CV = 2.6 / 6.2 = 0.419355
    assert primary["teaching_floor_area_per_pupil"]["mean"] == pytest.approx(6.2)
    assert primary["teaching_floor_area_per_pupil"]["cv"] == pytest.approx(0.419355, abs=1e-6)
    # floor area, junior: C(800, 5.8) D(400, 11.0) E(600, 10.0) F(400, 6.0); P = 2200
    #   X̄ = (4640 + 4400 + 6000 + 2400) / 2200 = 17440 / 2200 = 7.927273
    #   S² = (800·2.127273² + 400·3.072727² + 600·2.072727² + 400·1.927273²) / 2200
    #      = (3620.23 + 3776.66 + 2577.72 + 1485.75) / 2200 = 11460.36 / 2200 = 5.209256, S = 2.282380
    #   CV = 2.282380 / 7.927273 = 0.287915
    assert junior["teaching_floor_area_per_pupil"]["cv"] == pytest.approx(0.287915, abs=1e-6)
    # key teachers per 100, primary: A(400, 2.0) B(1000, 1.0) D(600, 1.0)
    #   X̄ = (800 + 1000 + 600) / 2000 = 1.2;  S² = (400·0.8² + 1000·0.2² + 600·0.2²) / 2000 = 320 / 2000 = 0.16
    #   CV = 0.4 / 1.2 = 0.333333
    assert primary["key_teachers_per_100"]["cv"] == pytest.approx(1 / 3, abs=1e-6)
    # equipment per pupil, junior: C, D, E at 2750, F at 2000; X̄ = (1800·2750 + 400·2000) / 2200 = 2613.636
    #   S² = (1800·136.364² + 400·613.636²) / 2200 = 83677.69, S = 289.271, CV = 0.110678
    assert junior["equipment_value_per_pupil"]["cv"] == pytest.approx(0.110678, abs=1e-6)
    # every school's part is at the same value for the rest, e.g. sports ground 10.0 primary and 11.0 junior: CV 0
    assert primary["sports_ground_area_per_pupil"]["cv"] == 0 and junior["sports_ground_area_per_pupil"]["cv"] == 0
    assert primary["qualified_teachers_per_100"]["cv"] == 0


def test_the_county_fails_when_a_school_fails_although_every_cv_is_within_its_limit():
    area = area_result(BALANCED, county_units())["area"]
    assert area["cv_within"] is True  # 0.419 ≤ 0.50 primary, 0.288 ≤ 0.45 junior
    assert (area["units"], area["units_passing"], area["every_unit_passes"], area["passes"]) == (6, 5, False, False)
    assert area["stages"]["primary"]["pupils"] == 2000 and area["stages"]["junior_secondary"]["pupils"] == 2200
    assert area["submission_versions"] == {name: 3 for name in COUNTY}


def test_a_cv_above_the_junior_limit_fails_the_county():
    units = county_units()
    c = units[2]
    # C's floor area 1600 m² → 2.0 per pupil: still a plain fail for C, and the junior CV rises above 0.45
    units[2] = UnitData("C", "C", {**c.values, "teaching_floor_area": 1600}, stage=c.stage)
    cv = area_result(BALANCED, units)["area"]["stages"]["junior_secondary"]["indicators"][
        "teaching_floor_area_per_pupil"
    ]
    assert cv["cv"] > 0.45 and cv["within"] is False


def cv_of(points: list[tuple[float, float]]) -> dict:
    return cv_figures(moments(points))


def test_coefficient_of_variation_is_enrolment_weighted():
    # equal values: no variation; two schools 1:3 at 1 and 5: X̄ = (1 + 15) / 4 = 4, S² = (9 + 3·1) / 4 = 3
    assert cv_of([(10, 2.0), (30, 2.0)])["cv"] == 0
    assert cv_of([(1, 1.0), (3, 5.0)])["cv"] == pytest.approx(3**0.5 / 4)
    assert cv_of([])["cv"] is None


def test_rural_small_schools_count_visiting_pe_and_arts_teachers():
    values = school_values(
        {"primary": 80}, {"primary": 6}, {"primary": 5}, {"primary": 1}, {"primary": 0}, 600, 800, 200_000, 2
    )
    values["visiting_pe_arts_teachers"] = {"primary": 1}
    rural = unit_result(
        BALANCED, UnitData("G", "G", validate(BALANCED, values, "primary"), stage="primary", locality="rural")
    )
    urban = unit_result(
        BALANCED, UnitData("G", "G", validate(BALANCED, values, "primary"), stage="primary", locality="urban")
    )
    assert indicator(rural, "primary", "pe_arts_teachers_per_100")["value"] == pytest.approx(1.25)  # 1 / 80 × 100
    assert indicator(urban, "primary", "pe_arts_teachers_per_100")["value"] == 0


# --- validation -------------------------------------------------------------------------------------------------


def errors_of(values: dict, stage: str = "primary", definition: Definition = BALANCED) -> dict[str, str]:
    with pytest.raises(InvalidInput) as caught:
        validate(definition, values, stage)
    return {e["field"]: e["rule"] for e in caught.value.extra["errors"]}


def test_every_bad_value_is_named_with_its_rule_at_once():
    values = dict(
        COUNTY["A"][1], teaching_floor_area=-5, multimedia_classrooms=2.5, equipment_value="lots", colour="red"
    )
    del values["sports_ground_area"]
    assert errors_of(values) == {
        "values.teaching_floor_area": "minimum",
        "values.multimedia_classrooms": "whole_number",
        "values.equipment_value": "number",
        "values.sports_ground_area": "required",
        "values.colour": "unknown_input",
    }


def test_more_qualified_teachers_than_full_time_teachers_is_refused_per_stage():
    values = dict(COUNTY["D"][1], qualified_teachers={"primary": 30, "junior_secondary": 31})
    assert errors_of(values, "nine_year") == {"values.qualified_teachers.junior_secondary": "qualified_within_fulltime"}


def test_per_stage_inputs_follow_the_stages_the_school_teaches():
    values = dict(COUNTY["A"][1], pupils={"primary": 400, "junior_secondary": 10})
    assert errors_of(values) == {"values.pupils.junior_secondary": "stage_not_taught"}
    nine_year = dict(COUNTY["D"][1], pupils={"primary": 600})
    assert errors_of(nine_year, "nine_year") == {"values.pupils.junior_secondary": "required"}


def test_a_kindergarten_is_not_assessed_by_the_balanced_development_framework():
    assert errors_of(COUNTY["A"][1], "kindergarten") == {"unit": "framework_not_applicable"}


def test_booleans_and_infinities_are_not_numbers():
    assert errors_of(dict(COUNTY["A"][1], equipment_value=True))["values.equipment_value"] == "number"
    assert errors_of(dict(COUNTY["A"][1], equipment_value=float("inf")))["values.equipment_value"] == "number"


# --- the other shipped frameworks -------------------------------------------------------------------------------

PRESCHOOL = shipped("preschool_inclusive")


def test_preschool_percentages_and_verdict():
    county = validate(
        PRESCHOOL,
        {"resident_children": 10000, "enrolled_children": 9200, "inclusive_children": 8000, "public_children": 4500},
    )
    result = unit_result(PRESCHOOL, UnitData("530113", "东川区", county))
    values = {i["key"]: (i["value"], i["meets"]) for i in result["parts"][0]["indicators"]}
    # 9200 / 10000 = 92 %; 8000 / 9200 = 86.96 %; 4500 / 9200 = 48.91 % (below 50 %: the county fails)
    assert values["gross_enrolment_rate"] == (pytest.approx(92.0), True)
    assert values["inclusive_share"] == (pytest.approx(86.956522, abs=1e-6), True)
    assert values["public_share"] == (pytest.approx(48.913043, abs=1e-6), False)
    assert result["passes"] is False


def two_counties() -> tuple[UnitData, UnitData]:
    """Two counties' kindergarten figures, one at 100 %, one at 88.9 %."""
    a = UnitData(
        "1",
        "a",
        {"resident_children": 1000, "enrolled_children": 1000, "inclusive_children": 1000, "public_children": 1000},
    )
    b = UnitData(
        "2",
        "b",
        {"resident_children": 9000, "enrolled_children": 8000, "inclusive_children": 6000, "public_children": 3000},
    )
    return a, b


def test_preschool_rolls_up_by_summing_inputs_not_averaging_percentages():
    a, b = two_counties()
    area = area_result(PRESCHOOL, [a, b])["area"]
    # (1000 + 8000) / (1000 + 9000) = 90 %, not the mean of 100 % and 88.9 %
    assert area["indicators"][0]["value"] == pytest.approx(90.0)
    assert area["inputs"]["enrolled_children"] == 9000


def test_public_children_cannot_outnumber_those_in_inclusive_kindergartens():
    bad = {"resident_children": 100, "enrolled_children": 90, "inclusive_children": 50, "public_children": 60}
    assert errors_of(bad, None, PRESCHOOL) == {"values.public_children": "public_within_inclusive"}


def test_duty_evaluation_weights_scores_into_a_grade():
    duty = shipped("duty_evaluation_demo")
    scores = {
        "policy_score": 95,
        "funding_score": 90,
        "teachers_score": 85,
        "balance_score": 80,
        "safety_score": 70,
        "supervision_score": 100,
    }
    result = unit_result(duty, UnitData("530113", "东川区", validate(duty, scores)))
    # 0.2·95 + 0.2·90 + 0.2·85 + 0.15·80 + 0.15·70 + 0.1·100 = 19 + 18 + 17 + 12 + 10.5 + 10 = 86.5 → good (良好)
    assert (result["score"], result["grade"], result["grade_zh"], result["passes"]) == (86.5, "good", "良好", True)


def test_an_area_without_counted_units_has_no_verdict_under_any_rule():
    for definition in (BALANCED, PRESCHOOL):
        area = area_result(definition, [])["area"]
        assert (area["passes"], area["cv_within"], area["every_unit_passes"]) == (None, None, None), definition.code
        assert area["units"] == 0 and "no counted units" in area["no_verdict"] and area["provisional"] is False


def test_a_verdict_resting_on_data_not_yet_approved_is_provisional():
    units = county_units()
    approved = area_result(BALANCED, units)["area"]
    pending = area_result(BALANCED, [*units[:-1], replace(units[-1], approved=False)])["area"]
    assert approved["provisional"] is False and approved["unapproved_units"] == []
    assert pending["provisional"] is True and pending["unapproved_units"] == [units[-1].unit_id]
    assert pending["passes"] == approved["passes"]  # the figures are the same; only their standing differs


# --- definitions are checked before anything is kept ------------------------------------------------------------


def test_a_framework_with_a_bad_formula_and_an_unknown_input_names_both():
    raw = json.loads((SHIPPED / "preschool_inclusive.json").read_text(encoding="utf-8"))
    raw["indicators"][0]["formula"] = "enrolled_children / (resident_children"
    raw["indicators"][1]["formula"] = "inclusive_children / kindergartens * 100"
    with pytest.raises(InvalidInput) as caught:
        Definition.parse(raw)
    rules = {e["field"]: e["rule"] for e in caught.value.extra["errors"]}
    assert rules == {"indicators[0].formula": "formula_syntax", "indicators[1].formula": "unknown_input"}


def test_python_is_not_a_formula():
    raw = json.loads((SHIPPED / "preschool_inclusive.json").read_text(encoding="utf-8"))
    raw["indicators"][0]["formula"] = "__import__('os').system('true')"
    with pytest.raises(InvalidInput):
        Definition.parse(raw)


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("split", "weights"), ["nine_year"], "split.weights"),
        (("area_rule", "cv_max", "primary"), "half", "area_rule.cv_max.primary"),
        (("indicators", 0, "bar", "primary", "value"), None, "indicators[0].bar.value"),
        (("unit_rule", "kind"), "vibes", "unit_rule.kind"),
    ],
)
def test_a_malformed_definition_is_refused_naming_the_path_never_crashing(path, value, field):
    raw = json.loads((SHIPPED / "balanced_development.json").read_text(encoding="utf-8"))
    target = raw
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    with pytest.raises(InvalidInput) as caught:
        Definition.parse(raw)
    assert field in {e["field"] for e in caught.value.extra["errors"]}


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (("area_rule", "weighting"), "area_rule.weighting"),  # issue 18: published as version 3 and silently ignored
        (("inputs", 0, "maximum"), "inputs[0].maximum"),
        (("indicators", 1, "bar", "op_"), "indicators[1].bar.op_"),
        (("unit_rule", "min_meetings"), "unit_rule.min_meetings"),
        (("stage",), "stage"),
    ],
)
def test_a_key_the_engine_does_not_read_is_refused_naming_its_path(path, field):
    raw = json.loads((SHIPPED / "balanced_development.json").read_text(encoding="utf-8"))
    target = raw
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = "unweighted"
    with pytest.raises(InvalidInput) as caught:
        Definition.parse(raw)
    assert {"field": field, "rule": "unknown_key"} in [
        {k: e[k] for k in ("field", "rule")} for e in caught.value.extra["errors"]
    ]


def test_every_shipped_framework_uses_only_known_keys():
    for path in SHIPPED.glob("*.json"):
        Definition.parse(json.loads(path.read_text(encoding="utf-8")))


def test_a_what_if_version_that_needs_an_input_never_collected_says_so_per_indicator():
    raw = json.loads((SHIPPED / "balanced_development.json").read_text(encoding="utf-8"))
    raw["inputs"].append({"key": "library_books", "label_zh": "图书册数", "min": 0})
    raw["split"]["shared_inputs"].append("library_books")
    raw["indicators"][0]["formula"] = "library_books / pupils"
    later = Definition.parse(raw)
    result = unit_result(later, county_units()[3])
    first = indicator(result, "primary", "qualified_teachers_per_100")
    assert first["value"] is None and "library_books" in first["problem"] and result["passes"] is False


def test_an_area_from_the_units_recorded_results_is_the_area_recomputed_from_their_inputs():
    """A province's roll-up reads its units' recorded results instead of computing each again (issue 24)."""
    units = county_units()
    recorded = [unit_result(BALANCED, u) for u in units]
    without_inputs = [replace(u, values={}) for u in units]

    assert area_of(BALANCED, without_inputs, [area_input(r) for r in recorded]) == area_result(BALANCED, units)["area"]


def test_an_area_from_the_inputs_kept_beside_each_units_result_is_the_area_recomputed():
    """What a roll-up reads of each unit (`area_input`, stored as JSON beside its result) gives the same area, under
    the CV rule and the mean-score rule, to the last digit."""

    def kept(result: dict) -> dict:
        return json.loads(json.dumps(area_input(result)))

    units = county_units()
    without_inputs = [replace(u, values={}) for u in units]
    assert (
        area_of(BALANCED, without_inputs, [kept(unit_result(BALANCED, u)) for u in units])
        == (area_result(BALANCED, units)["area"])
    )
    duty = shipped("duty_evaluation_demo")
    names = [i.key for i in duty.inputs]
    counties = [
        UnitData(code, code, validate(duty, {k: 60 + (n * 7 + j * 3) % 40 for j, k in enumerate(names)}))
        for n, code in enumerate(("530102", "530103", "530111"))
    ]
    area = area_result(duty, counties)["area"]
    assert area_of(duty, counties, [kept(unit_result(duty, u)) for u in counties]) == area
    assert area["mean_score"] is not None


def varied_schools(count: int) -> list[UnitData]:
    """`count` schools of the county's six kinds, each with its figures moved by its own few per cent."""
    made = []
    for n in range(count):
        name = list(COUNTY)[n % len(COUNTY)]
        stage, values = COUNTY[name]

        def moved(value, k=n):
            if isinstance(value, dict):
                return {s: moved(v, k + 1) for s, v in value.items()}
            return round(value * (100 + (k * 37 + len(str(value)) * 11) % 23) / 100)

        try:
            checked = validate(BALANCED, {key: moved(v) for key, v in values.items()}, stage)
        except InvalidInput:
            checked = validate(BALANCED, values, stage)
        made.append(UnitData(f"s{n:04}", f"s{n:04}", checked, version=n % 5 + 1, stage=stage, approved=n % 7 != 0))
    return made


def close(a, b) -> bool:
    """Equal, figures to within the last digit kept (`DIGITS`): the merge adds in another order."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(close, a, b))
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 1.5e-6
    return a == b


@pytest.mark.parametrize("groups", [1, 3, 40])
def test_an_area_merged_from_its_parts_is_the_area_of_all_its_units(groups):
    """A province's verdict is its counties' parts merged (issue 24, decision 035), not its schools read again: the
    same counts and versions, and the same CVs to the last digit kept, whichever way the schools are grouped. A
    part goes through JSON as it is stored."""
    units = varied_schools(400)
    whole = area_result(BALANCED, units)["area"]
    results = [area_input(unit_result(BALANCED, u)) for u in units]
    parts = [json.loads(json.dumps(area_part(BALANCED, units[g::groups], results[g::groups]))) for g in range(groups)]
    merged = area_from(BALANCED, merge_parts(BALANCED, parts))

    assert close(merged, whole) and merged["units"] == 400 and merged["provisional"]
    assert any(c["cv"] for s in whole["stages"].values() for c in s["indicators"].values())
    if groups == 1:  # one group is summed exactly as the area of its units
        assert merged == whole
    # an empty part changes nothing; no part at all is no verdict
    assert area_from(BALANCED, merge_parts(BALANCED, [*parts, area_part(BALANCED, [], [])])) == merged
    assert area_from(BALANCED, merge_parts(BALANCED, []))["passes"] is None


def test_the_summing_and_mean_score_rules_merge_their_parts_too():
    a, b = two_counties()
    one = [area_part(PRESCHOOL, [u], [area_input(unit_result(PRESCHOOL, u))]) for u in (a, b)]
    assert area_from(PRESCHOOL, merge_parts(PRESCHOOL, one)) == area_result(PRESCHOOL, [a, b])["area"]

    duty = shipped("duty_evaluation_demo")
    names = [i.key for i in duty.inputs]
    counties = [
        UnitData(code, code, validate(duty, {k: 60 + (n * 7 + j * 3) % 40 for j, k in enumerate(names)}))
        for n, code in enumerate(("530102", "530103", "530111"))
    ]
    each = [area_part(duty, [u], [area_input(unit_result(duty, u))]) for u in counties]
    merged = area_from(duty, merge_parts(duty, each))
    assert close(merged, area_result(duty, counties)["area"]) and merged["mean_score"] is not None
