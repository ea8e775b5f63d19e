"""The list importer's reading and checking: encodings, workbooks, headers, rules, rows as the office counts them."""

from __future__ import annotations

import csv

import pytest
from openpyxl import Workbook

from dudao.errors import InvalidInput
from dudao.sheets import Row, read_rows
from dudao_cli.send_lists import common_jurisdiction
from services.registry.importer import (
    SCHOOL_COLUMNS,
    RowError,
    validate_inspectors,
    validate_schools,
)

pytestmark = pytest.mark.unit

INSPECTOR_HEADER = ("督学编号", "姓名", "区县代码", "专兼职", "督学类别", "督导类型", "学段", "学科", "公开联系方式")


def school(**overrides: str) -> dict[str, str]:
    cells = {
        "学校代码": "5001200001",
        "学校名称": "璧山区青岚小学",
        "区县代码": "500120",
        "学校类型": "小学",
        "办学性质": "公办",
        "城乡类型": "城区",
        "学生数": "900",
    }
    return cells | overrides


def inspector(**overrides: str) -> dict[str, str]:
    cells = dict.fromkeys(INSPECTOR_HEADER, "") | {
        "督学编号": "BS-001",
        "姓名": "李明远",
        "区县代码": "500120",
        "专兼职": "专职",
    }
    return cells | overrides


def rows(*cells: dict[str, str]) -> list[Row]:
    """Data rows as they would come from a sheet with the header in row 1."""
    return [Row(number, c) for number, c in enumerate(cells, 2)]


def write_csv(path, records, encoding="utf-8"):
    with path.open("w", encoding=encoding, newline="") as f:
        csv.writer(f).writerows(records)
    return path


def school_errors(**overrides: str) -> list[str]:
    return [e.english for e in validate_schools(rows(school(**overrides)))[1]]


def inspector_errors(**overrides: str) -> list[str]:
    return [e.english for e in validate_inspectors(rows(inspector(**overrides)))[1]]


def school_body(**overrides: str) -> dict:
    good, errors = validate_schools(rows(school(**overrides)))
    assert errors == []
    return good[0][2]


def inspector_body(**overrides: str) -> dict:
    good, errors = validate_inspectors(rows(inspector(**overrides)))
    assert errors == []
    return good[0][2]


# --- reading -------------------------------------------------------------------------------------


def test_a_csv_with_a_bom_reads_its_first_header(tmp_path):
    path = write_csv(tmp_path / "s.csv", [SCHOOL_COLUMNS, school().values()], encoding="utf-8-sig")
    assert read_rows(path) == [Row(2, school())]


def test_a_gb18030_csv_is_read_when_it_is_not_utf8(tmp_path):
    path = write_csv(tmp_path / "s.csv", [SCHOOL_COLUMNS, school().values()], encoding="gb18030")
    assert read_rows(path)[0].cells["学校名称"] == "璧山区青岚小学"


def test_a_file_that_is_no_known_text_says_how_to_save_it(tmp_path):
    path = tmp_path / "s.csv"
    path.write_bytes(b"\xff\xfe\x80\x80")
    with pytest.raises(InvalidInput, match="save it as CSV UTF-8"):
        read_rows(path)


def test_headers_and_cells_are_matched_without_surrounding_whitespace(tmp_path):
    padded = [[f" {h}\u3000" for h in SCHOOL_COLUMNS], [f" {v} " for v in school().values()]]
    path = write_csv(tmp_path / "s.csv", padded)
    assert read_rows(path) == [Row(2, school())]


def test_blank_rows_are_skipped_but_rows_keep_the_numbers_the_office_sees(tmp_path):
    blank = [""] * len(SCHOOL_COLUMNS)
    records = [SCHOOL_COLUMNS, school().values(), blank, blank, school(学校代码="X0002").values()]
    path = write_csv(tmp_path / "s.csv", records)
    assert [r.number for r in read_rows(path)] == [2, 5]


def test_the_first_sheet_of_a_workbook_is_read_with_numbers_as_the_office_typed_them(tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(SCHOOL_COLUMNS)
    sheet.append([5001200001, "璧山区青岚小学", 500120, "小学", "公办", "城区", 860.0])
    sheet.append([None] * 7)
    sheet.append([5001200002.0, "璧山区来凤中学", "500120", "初中", "公办", "镇区", 1200])
    book.create_sheet("说明").append(["not read"])
    book.save(tmp_path / "s.xlsx")

    read = read_rows(tmp_path / "s.xlsx")

    assert [r.number for r in read] == [2, 4]
    assert read[0].cells == school(学生数="860")
    assert read[1].cells["学校代码"] == "5001200002"
    assert validate_schools(read)[1] == []


def test_a_missing_file_says_so(tmp_path):
    with pytest.raises(InvalidInput, match="does not exist"):
        read_rows(tmp_path / "nope.csv")


def test_an_old_excel_file_is_told_to_use_xlsx_or_csv(tmp_path):
    (tmp_path / "s.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(InvalidInput, match=r"use \.xlsx or \.csv"):
        read_rows(tmp_path / "s.xls")


def test_a_broken_workbook_says_how_to_save_it(tmp_path):
    (tmp_path / "s.xlsx").write_text("not a zip")
    with pytest.raises(InvalidInput, match="is not an .xlsx workbook"):
        read_rows(tmp_path / "s.xlsx")


# --- headers -------------------------------------------------------------------------------------


def test_a_missing_required_column_is_named_with_the_expected_headers():
    cells = school()
    del cells["学生数"]
    with pytest.raises(InvalidInput, match="no column 学生数; expected headers: 学校代码、学校名称") as raised:
        validate_schools(rows(cells))
    assert "城乡类型" in raised.value.detail


def test_optional_inspector_columns_may_be_left_out():
    cells = {k: v for k, v in inspector().items() if k in ("督学编号", "姓名", "区县代码", "专兼职")}
    good, errors = validate_inspectors(rows(cells))
    assert errors == [] and good[0][2]["focus"] == "schools"


def test_a_missing_inspector_column_lists_the_optional_ones_too():
    cells = inspector()
    del cells["专兼职"]
    with pytest.raises(InvalidInput, match=r"no column 专兼职; .*公开联系方式\(可选\)"):
        validate_inspectors(rows(cells))


# --- schools -------------------------------------------------------------------------------------


def test_a_good_school_row_becomes_the_import_body_keyed_by_its_code():
    good, errors = validate_schools(rows(school()))
    assert errors == []
    assert good == [
        (
            2,
            "5001200001",
            {
                "name": "璧山区青岚小学",
                "jurisdiction": "500120",
                "stage": "primary",
                "ownership": "public",
                "locality": "urban",
                "enrolment": 900,
            },
        )
    ]


def test_an_error_names_the_spreadsheet_row_and_the_column():
    errors = validate_schools(rows(school(), school(学校代码="5001200002", 学生数="很多")))[1]
    assert errors == [RowError(3, "学生数", "“很多”不是整数", "'很多' is not a whole number")]
    assert str(errors[0]) == "第3行「学生数」：“很多”不是整数 — row 3, column 学生数: '很多' is not a whole number"


@pytest.mark.parametrize("code", ["", "123", "x" * 21, "5001-0001", "学校0001"])
def test_a_school_code_must_be_4_to_20_letters_or_digits(code):
    assert [e.split(":")[0] for e in school_errors(学校代码=code)] == ["row 2, column 学校代码"]


def test_an_empty_school_name_is_an_error():
    assert school_errors(学校名称="") == ["row 2, column 学校名称: is empty"]


def test_a_school_name_longer_than_the_registry_takes_is_an_error():
    assert school_errors(学校名称="校" * 201) == ["row 2, column 学校名称: is 201 characters long; at most 200"]


@pytest.mark.parametrize("code", ["50012", "5001200", "abcdef"])
def test_a_jurisdiction_must_look_like_a_division_code(code):
    assert school_errors(区县代码=code) == [f"row 2, column 区县代码: '{code}' is not a 6- or 9-digit division code"]


def test_an_unknown_jurisdiction_is_an_error():
    assert school_errors(区县代码="500199")[0].startswith("row 2, column 区县代码: 500199 is not a known division code")


def test_a_township_of_a_known_county_is_accepted():
    assert school_body(区县代码="500120001")["jurisdiction"] == "500120001"


@pytest.mark.parametrize(
    "count, reason",
    [
        ("很多", "'很多' is not a whole number"),
        ("-1", "'-1' is not a whole number"),
        ("12.5", "'12.5' is not a whole number"),
        ("100001", "100001 is more than 100000"),
        ("", "is empty"),
    ],
)
def test_enrolment_is_a_whole_number_from_0_to_100000(count, reason):
    assert school_errors(学生数=count) == [f"row 2, column 学生数: {reason}"]


def test_enrolment_bounds_are_accepted():
    assert school_body(学生数="0")["enrolment"] == 0
    assert school_body(学生数="100000")["enrolment"] == 100_000


@pytest.mark.parametrize(
    "text, stage",
    [
        ("幼儿园", "kindergarten"),
        ("初级中学", "junior_secondary"),
        ("初中", "junior_secondary"),
        ("高中", "senior_secondary"),
        ("九年一贯制学校", "nine_year"),
        ("九年制学校", "nine_year"),
        ("十二年制学校", "twelve_year"),
        ("完全中学", "complete_secondary"),
        ("中职", "secondary_vocational"),
        ("九年一贯制", "nine_year"),
        ("十二年一贯制", "twelve_year"),
        ("完中", "complete_secondary"),
        ("职高", "secondary_vocational"),
        ("特殊教育学校", "special_education"),
        ("primary", "primary"),
        ("Primary", "primary"),
    ],
)
def test_school_types_map_from_labels_short_forms_and_english(text, stage):
    assert school_body(学校类型=text)["stage"] == stage


def test_an_unknown_school_type_lists_the_labels_to_use():
    [error] = school_errors(学校类型="大学")
    assert error.startswith("row 2, column 学校类型: unknown value '大学'; use one of 幼儿园、小学、初级中学")


@pytest.mark.parametrize("text, ownership", [("公办", "public"), ("民办", "private"), ("private", "private")])
def test_ownership_maps_from_labels_and_english(text, ownership):
    assert school_body(办学性质=text)["ownership"] == ownership


@pytest.mark.parametrize(
    "text, locality",
    [
        ("城区", "urban"),
        ("城市", "urban"),
        ("镇区", "town"),
        ("县镇", "town"),
        ("镇", "town"),
        ("乡村", "rural"),
        ("农村", "rural"),
        ("rural", "rural"),
    ],
)
def test_locality_maps_from_labels_short_forms_and_english(text, locality):
    assert school_body(城乡类型=text)["locality"] == locality


def test_every_bad_cell_of_a_row_is_reported():
    errors = validate_schools(rows(school(学校名称="", 办学性质="公私合营", 城乡类型="")))[1]
    assert [(e.row, e.column) for e in errors] == [(2, "学校名称"), (2, "办学性质"), (2, "城乡类型")]


def test_a_duplicate_school_code_is_an_error_on_the_later_row():
    good, errors = validate_schools(rows(school(), school(学校代码="5001200002"), school(学校名称="分校")))
    assert [g[0] for g in good] == [2, 3]
    assert [str(e) for e in errors] == [
        "第4行「学校代码」：5001200001与第2行重复 — row 4, column 学校代码: 5001200001 already appears in row 2"
    ]


# --- inspectors ----------------------------------------------------------------------------------


def test_a_good_inspector_row_becomes_the_import_body_keyed_by_its_number():
    good, errors = validate_inspectors(rows(inspector()))
    assert errors == []
    assert good == [
        (
            2,
            "BS-001",
            {
                "name": "李明远",
                "jurisdiction": "500120",
                "employment": "full_time",
                "roles": [],
                "focus": "schools",
                "stages": [],
                "subjects": [],
                "public_contact": None,
            },
        )
    ]


@pytest.mark.parametrize("number", ["", "BS 001", "督学1", "x" * 41])
def test_an_inspector_number_is_1_to_40_letters_digits_underscores_or_hyphens(number):
    assert [e.split(":")[0] for e in inspector_errors(督学编号=number)] == ["row 2, column 督学编号"]


def test_employment_maps_and_is_required():
    assert inspector_body(专兼职="兼职")["employment"] == "part_time"
    assert inspector_errors(专兼职="") == ["row 2, column 专兼职: is empty"]
    assert inspector_errors(专兼职="临时")[0].endswith("use one of 专职、兼职")


def test_roles_are_split_on_any_listed_separator_and_mapped():
    body = inspector_body(督学类别="政府督学、责任督学,学科督学，评估专家;首席督学", 公开联系方式="")
    assert body["roles"] == ["government", "responsible", "subject", "assessment_expert", "chief"]


def test_a_role_listed_twice_is_kept_once():
    assert inspector_body(督学类别="责任督学、责任督学")["roles"] == ["responsible"]


def test_an_unknown_role_is_an_error():
    [error] = inspector_errors(督学类别="责任督学、督学组长")
    assert error.startswith("row 2, column 督学类别: unknown value '督学组长'; use one of 政府督学、责任督学")


def test_a_listed_inspector_without_a_public_contact_is_an_error_on_that_row():
    errors = validate_inspectors(rows(inspector(), inspector(督学编号="BS-002", 督学类别="挂牌督学")))[1]
    assert [(e.row, e.column) for e in errors] == [(3, "公开联系方式")]


def test_a_listed_inspector_with_a_public_contact_is_good():
    body = inspector_body(督学类别="挂牌督学", 公开联系方式="023-41400001")
    assert body["roles"] == ["listed"] and body["public_contact"] == "023-41400001"


@pytest.mark.parametrize(
    "text, focus",
    [("", "schools"), ("督学", "schools"), ("督政", "governments"), ("督政与督学", "both"), ("both", "both")],
)
def test_focus_maps_with_schools_by_default(text, focus):
    assert inspector_body(督导类型=text)["focus"] == focus


def test_stages_and_subjects_take_several_values():
    body = inspector_body(学段="小学；初中、高级中学", 学科="数学、语文, 英语")
    assert body["stages"] == ["primary", "junior_secondary", "senior_secondary"]
    assert body["subjects"] == ["数学", "语文", "英语"]


def test_an_unknown_stage_is_an_error():
    assert inspector_errors(学段="大学")[0].startswith("row 2, column 学段: unknown value '大学'")


def test_the_same_inspector_number_twice_in_one_county_is_an_error_on_the_later_row():
    errors = validate_inspectors(rows(inspector(), inspector(姓名="王秀兰")))[1]
    assert [e.english for e in errors] == ["row 3, column 督学编号: BS-001 (same 区县代码) already appears in row 2"]
    assert errors[0].chinese == "第3行「督学编号」：BS-001（同一区县代码）与第2行重复"


def test_the_same_inspector_number_in_two_counties_is_two_inspectors():
    good, errors = validate_inspectors(rows(inspector(), inspector(区县代码="500118")))
    assert errors == [] and len(good) == 2


# --- the token's jurisdiction --------------------------------------------------------------------


def test_the_token_covers_the_smallest_jurisdiction_holding_every_row():
    assert common_jurisdiction(["500120", "500120"], "110000") == "500120"
    assert common_jurisdiction(["500120", "500120001"], "110000") == "500120"
    assert common_jurisdiction(["500120", "500118"], "110000") == "500000"
    assert common_jurisdiction(["500120", "110101"], "110000") == "000000"
    assert common_jurisdiction([], "110000") == "110000"


def test_a_list_with_the_usual_other_headers_reads_as_the_template():
    """Issue 21: a city's list says 学校标识码, 行政区划代码, 学段 and 在校生数 where the template says 学校代码, 区县代码,
    学校类型 and 学生数; it imports as it is."""
    usual = {
        "学校标识码": "2101020001",
        "学校名称": "沈阳市和平区第一小学",
        "行政区划代码": "210102",
        "学段": "小学",
        "办学性质": "公办",
        "城乡类型": "城区",
        "在校生数": "1200",
    }
    good, errors = validate_schools(rows(usual))
    assert errors == [] and [(code, body["jurisdiction"], body["enrolment"]) for _, code, body in good] == [
        ("2101020001", "210102", 1200)
    ]
    both = school() | {"学校标识码": "ignored"}  # the template's own header wins over another name for it
    assert [code for _, code, _ in validate_schools(rows(both))[0]] == ["5001200001"]
