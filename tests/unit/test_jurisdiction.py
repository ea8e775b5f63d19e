"""Administrative division codes: validity, containment, levels and the reference data."""

import pytest

from dudao import jurisdiction as j
from dudao.jurisdiction import NATIONAL, Level

pytestmark = pytest.mark.unit

CHONGQING, BISHAN, NAN_AN = "500000", "500120", "500108"
YUNNAN, KUNMING, DONGCHUAN = "530000", "530100", "530113"
HAINAN, HAIKOU, WUZHISHAN = "460000", "460100", "469001"
JIANGXI, NANCHANG = "360000", "360100"
DONGCHUAN_TOWNSHIP = "530113001"


# --- containment -------------------------------------------------------------


def test_a_municipality_contains_its_districts_directly():
    assert j.contains(CHONGQING, BISHAN)
    assert j.get(BISHAN).parent == CHONGQING


def test_a_municipality_contains_its_counties():
    assert j.contains(CHONGQING, "500243")


def test_a_district_does_not_contain_its_neighbour():
    assert not j.contains(BISHAN, NAN_AN)
    assert not j.contains("500110", "500120")


def test_a_province_contains_its_cities_and_their_counties():
    assert j.contains(YUNNAN, KUNMING)
    assert j.contains(YUNNAN, DONGCHUAN)


def test_a_city_contains_its_counties():
    assert j.contains(KUNMING, DONGCHUAN)
    assert j.contains(HAINAN, HAIKOU)
    assert j.contains(HAIKOU, "460105")


def test_a_province_contains_its_province_administered_county_cities():
    assert j.contains(HAINAN, WUZHISHAN)
    assert j.get(WUZHISHAN).parent == HAINAN


def test_a_city_does_not_contain_a_province_administered_county_city():
    assert not j.contains(HAIKOU, WUZHISHAN)


def test_a_county_does_not_contain_its_city():
    assert not j.contains(DONGCHUAN, KUNMING)


def test_a_city_does_not_contain_its_province():
    assert not j.contains(KUNMING, YUNNAN)


def test_a_province_does_not_contain_another_provinces_places():
    assert not j.contains(CHONGQING, DONGCHUAN)
    assert not j.contains(YUNNAN, BISHAN)


def test_a_code_contains_itself():
    for code in (NATIONAL, CHONGQING, KUNMING, BISHAN, DONGCHUAN_TOWNSHIP):
        assert j.contains(code, code)


def test_national_contains_everything():
    for code in (CHONGQING, HAINAN, WUZHISHAN, DONGCHUAN, DONGCHUAN_TOWNSHIP):
        assert j.contains(NATIONAL, code)


def test_nothing_below_national_contains_national():
    assert not j.contains(CHONGQING, NATIONAL)


def test_containment_rejects_invalid_codes():
    with pytest.raises(ValueError):
        j.contains(CHONGQING, "5001")
    with pytest.raises(ValueError):
        j.contains("50", BISHAN)


# --- prefixes ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (KUNMING, "5301"),
        (HAINAN, "46"),
        (BISHAN, "500120"),
        ("500110", "500110"),
        (WUZHISHAN, "469001"),
        (DONGCHUAN_TOWNSHIP, DONGCHUAN_TOWNSHIP),
        (NATIONAL, ""),
    ],
)
def test_the_prefix_drops_trailing_zero_pairs_only(code, expected):
    assert j.prefix(code) == expected


# --- townships ---------------------------------------------------------------


def test_a_county_contains_its_townships():
    assert j.contains(DONGCHUAN, DONGCHUAN_TOWNSHIP)
    assert j.contains(KUNMING, DONGCHUAN_TOWNSHIP)
    assert j.contains(BISHAN, "500120002")


def test_a_township_does_not_contain_its_county():
    assert not j.contains(DONGCHUAN_TOWNSHIP, DONGCHUAN)


def test_a_township_of_a_known_county_is_known():
    assert j.is_known(DONGCHUAN_TOWNSHIP)
    assert j.get(DONGCHUAN_TOWNSHIP) is None


def test_a_township_of_an_unknown_county_is_not_known():
    assert j.is_valid_code("110199001")
    assert not j.is_known("110199001")


def test_a_township_sits_at_township_level_below_its_county():
    assert j.level_of(DONGCHUAN_TOWNSHIP) is Level.TOWNSHIP
    assert j.ancestors(DONGCHUAN_TOWNSHIP) == [DONGCHUAN, KUNMING, YUNNAN, NATIONAL]


def test_a_city_without_counties_holds_townships_directly():
    danzhou_township = "460400100"
    assert j.is_known(danzhou_township)
    assert j.ancestors(danzhou_township) == ["460400", HAINAN, NATIONAL]


# --- validity ----------------------------------------------------------------


@pytest.mark.parametrize("code", [NATIONAL, CHONGQING, BISHAN, WUZHISHAN, DONGCHUAN_TOWNSHIP])
def test_valid_codes_are_accepted(code):
    assert j.is_valid_code(code)


@pytest.mark.parametrize(
    "code",
    [
        "50012",  # 5 digits
        "5001200",  # 7 digits
        "50012a",
        "abcdef",
        "",
        "５００１２０",  # full-width digits
        " 500120",
        "000120",  # no province
        "530113000",  # township part all zeros
        "530000001",  # township directly under a province
    ],
)
def test_invalid_codes_are_rejected(code):
    assert not j.is_valid_code(code)
    assert not j.is_known(code)


def test_functions_that_need_a_code_reject_an_invalid_one():
    for function in (j.prefix, j.level_of, j.ancestors, j.children):
        with pytest.raises(ValueError):
            function("5001")


def test_a_valid_code_missing_from_the_data_is_not_known():
    assert j.is_valid_code("530199")
    assert not j.is_known("530199")
    assert j.get("530199") is None


# --- national ----------------------------------------------------------------


def test_national_is_known_but_not_a_row():
    assert j.is_known(NATIONAL)
    assert j.get(NATIONAL) is None
    assert NATIONAL not in {row.code for row in j.all_jurisdictions()}


def test_national_has_no_ancestors_and_the_provinces_as_children():
    assert j.ancestors(NATIONAL) == []
    assert j.level_of(NATIONAL) is Level.NATIONAL
    assert j.name_of(NATIONAL) == "全国"
    provinces = {row.code for row in j.children(NATIONAL)}
    assert {CHONGQING, YUNNAN, HAINAN, JIANGXI, "110000", "650000"} <= provinces


# --- levels, names and hierarchy ---------------------------------------------


@pytest.mark.parametrize(
    ("code", "level"),
    [
        (CHONGQING, Level.PROVINCE),
        (BISHAN, Level.COUNTY),
        (YUNNAN, Level.PROVINCE),
        (KUNMING, Level.CITY),
        (DONGCHUAN, Level.COUNTY),
        (WUZHISHAN, Level.COUNTY),
        ("530199", Level.COUNTY),
        ("990100", Level.CITY),
    ],
)
def test_each_code_has_a_level(code, level):
    assert j.level_of(code) is level


def test_levels_have_chinese_labels():
    labels = {level: level.label_zh for level in Level}
    assert labels == {
        Level.NATIONAL: "国家",
        Level.PROVINCE: "省级",
        Level.CITY: "市级",
        Level.COUNTY: "县级",
        Level.TOWNSHIP: "乡镇",
    }


def test_levels_are_english_snake_case_strings():
    assert Level.COUNTY == "county"


def test_a_district_of_a_municipality_has_the_municipality_as_its_only_ancestor_below_national():
    assert j.ancestors(BISHAN) == [CHONGQING, NATIONAL]


def test_a_county_of_a_province_goes_up_through_its_city():
    assert j.ancestors(DONGCHUAN) == [KUNMING, YUNNAN, NATIONAL]


def test_a_province_administered_county_city_goes_straight_to_its_province():
    assert j.ancestors(WUZHISHAN) == [HAINAN, NATIONAL]


def test_an_unknown_code_goes_up_by_its_shape():
    assert j.ancestors("530199") == [KUNMING, YUNNAN, NATIONAL]
    assert j.ancestors("500199") == [CHONGQING, NATIONAL]


def test_names_come_from_the_reference_data():
    assert j.name_of(BISHAN) == "璧山区"
    assert j.get(BISHAN).name_en == "Bishan District"
    assert j.name_of(DONGCHUAN) == "东川区"


def test_a_code_without_a_stored_name_names_itself():
    assert j.name_of(DONGCHUAN_TOWNSHIP) == DONGCHUAN_TOWNSHIP


def test_children_are_the_direct_ones_only():
    codes = {row.code for row in j.children(YUNNAN)}
    assert KUNMING in codes
    assert DONGCHUAN not in codes


# --- the places named in the policy documents --------------------------------


@pytest.mark.parametrize("code", [BISHAN, DONGCHUAN, KUNMING, YUNNAN, HAINAN, JIANGXI, CHONGQING, NAN_AN])
def test_every_place_in_the_policy_documents_is_known(code):
    assert j.is_known(code)
    assert j.get(code) is not None


# --- consistency of the reference data ---------------------------------------


def test_codes_are_unique_and_valid():
    codes = [row.code for row in j.all_jurisdictions()]
    assert len(codes) == len(set(codes))
    assert all(len(code) == 6 and j.is_valid_code(code) for code in codes)


def test_every_parent_exists():
    for row in j.all_jurisdictions():
        assert row.parent is None or j.get(row.parent) is not None, row.code


def test_every_row_is_contained_by_its_parent_and_not_the_reverse():
    for row in j.all_jurisdictions():
        if row.parent:
            assert j.contains(row.parent, row.code), row.code
            assert not j.contains(row.code, row.parent), row.code


def test_every_row_has_a_level_that_fits_its_parent():
    allowed_parent_levels = {
        Level.PROVINCE: {None},
        Level.CITY: {Level.PROVINCE},
        Level.COUNTY: {Level.PROVINCE, Level.CITY},
    }
    for row in j.all_jurisdictions():
        parent_level = j.get(row.parent).level if row.parent else None
        assert parent_level in allowed_parent_levels[Level(row.level)], row.code


def test_every_row_has_a_chinese_name_and_a_listed_parent_one_level_up():
    for row in j.all_jurisdictions():
        assert row.name_zh, row.code
        parent = j.get(row.parent) if row.parent else None
        assert (row.level == Level.PROVINCE) == (parent is None), row
        assert parent is None or (parent.level, row.level) in {
            (Level.PROVINCE, Level.CITY),
            (Level.PROVINCE, Level.COUNTY),
            (Level.CITY, Level.COUNTY),
        }, row


def test_all_provincial_level_units_are_present():
    assert len(j.children(NATIONAL)) == 34  # 31 on the mainland, Taiwan, Hong Kong and Macao


def test_the_whole_national_list_is_there():
    """Issue 21: 128 typed-in codes served only a few places. The list now comes whole from its source (decision 028)."""
    levels = [row.level for row in j.all_jurisdictions()]
    assert (levels.count(Level.PROVINCE), levels.count(Level.CITY)) == (34, 333) and levels.count(Level.COUNTY) > 2800
    assert j.name_of("210102") == "和平区" and j.ancestors("210102") == ["210100", "210000", NATIONAL]
    assert [j.name_of(c) for c in j.ancestors("210103")[:2]] == ["沈阳市", "辽宁省"]
    assert j.ancestors("429004") == ["420000", NATIONAL]  # 仙桃: a county-level city the province governs directly
    assert j.ancestors("110101") == ["110000", NATIONAL]  # a district of Beijing


def test_chongqing_has_38_districts_and_counties():
    assert len(j.children(CHONGQING)) == 38
    assert {"500154", "500155", "500156", "500243"} <= {row.code for row in j.children(CHONGQING)}


def test_jiangxi_has_11_cities():
    cities = j.children(JIANGXI)
    assert len(cities) == 11
    assert all(row.level == Level.CITY for row in cities)


def test_kunming_has_14_districts_and_counties():
    assert len(j.children(KUNMING)) == 14


def test_hainan_has_4_cities_and_15_province_administered_counties():
    levels = [row.level for row in j.children(HAINAN)]
    assert levels.count(Level.CITY) == 4
    assert levels.count(Level.COUNTY) == 15


def test_a_retired_division_stays_known_under_its_old_name_and_lies_where_its_successor_lies():
    """Issue 21 (decision 028): 公主岭市 220381 of 四平 became 220184 of 长春 in the list of 2020-09-29."""
    from datetime import date

    assert j.is_known("220381") and j.name_of("220381") == "公主岭市" and j.current("220381") == "220184"
    assert j.ancestors("220381") == ["220184", "220100", "220000", NATIONAL]
    assert j.contains("220100", "220381") and j.contains("220184", "220381") and j.contains("220381", "220381")
    assert not j.contains("220300", "220381")  # 四平 no longer holds it
    assert j.patterns("220100") == ["2201%", "220381%"] and j.patterns("220381") == ["220381%"]
    assert set(j.patterns("370614")) == {"370614%", "370634%", "370684%"}  # 蓬莱区: 蓬莱市 and 长岛县 merged
    siping = j.patterns("220300")  # 四平 reads its own, without 公主岭 and what lies below it
    assert not [c for c in ("220381", "220381001") if any(c.startswith(p.rstrip("%")) for p in siping)]
    assert all(
        any(c.startswith(p.rstrip("%")) for p in siping) for c in ("220300", "220302", "220322", "220382", "220302001")
    )
    assert j.retired("340208").kind == "retired" and j.current("340208") == "340208"  # no successor: stays itself
    j.check_current("220381", date(2020, 9, 28))  # the day before the list without it: still current
    with pytest.raises(ValueError, match="220184"):
        j.check_current("220381", date(2020, 9, 29))


def test_every_object_of_a_read_that_shows_a_code_shows_its_name_unless_it_named_it():
    """Issue 21: the REST renderer (decision 029) names each `jurisdiction` wherever it sits in a read."""
    from dudao.routes import with_names

    read = {
        "items": [
            {"jurisdiction": "210102", "by": {"jurisdiction": "000000"}},
            {"jurisdiction": "500120001", "jurisdiction_name": "璧城街道"},
        ],
        "jurisdiction": None,
        "note": "210102",
    }
    assert with_names(read) == {
        "items": [
            {
                "jurisdiction": "210102",
                "jurisdiction_name": "和平区",
                "by": {"jurisdiction": "000000", "jurisdiction_name": "全国"},
            },
            {"jurisdiction": "500120001", "jurisdiction_name": "璧城街道"},
        ],
        "jurisdiction": None,
        "note": "210102",
    }
