"""The division list's source (decision 028): built from the npm package's CSVs, and recorded."""

from __future__ import annotations

import io
import json
import tarfile

from dudao import division_source


def _tarball(files: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for name, text in files.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


PACKAGE = _tarball(
    {
        "dist/province.csv": "code,name,province\n110000,北京市,11\n210000,辽宁省,21\n420000,湖北省,42\n",
        "dist/city.csv": "code,name,province,city\n210100,沈阳市,21,01\n429000,湖北省-自治区直辖县级行政区划,42,90\n",
        "dist/area.csv": "code,name,province,city,area\n110101,东城区,11,01,01\n210102,和平区,21,01,02\n429004,仙桃市,42,90,04\n",
    }
)


def test_rows_take_each_level_with_its_parent_and_leave_out_the_stand_in_entries():
    rows = division_source.rows_from(PACKAGE, english={"210102": "Heping District"})
    assert [(r["code"], r["name_zh"], r["level"], r["parent"], r["name_en"]) for r in rows] == [
        ("110000", "北京市", "province", "", ""),
        ("210000", "辽宁省", "province", "", ""),
        ("420000", "湖北省", "province", "", ""),
        ("210100", "沈阳市", "city", "210000", ""),
        ("110101", "东城区", "county", "110000", ""),  # a municipality's district: under the province-level city
        ("210102", "和平区", "county", "210100", "Heping District"),
        (
            "429004",
            "仙桃市",
            "county",
            "420000",
            "",
        ),  # governed by the province directly; "省直辖县级行政区划" is no division
    ]


def test_the_shipped_list_records_its_source_version_and_licence():
    source = json.loads(division_source.SOURCE_FILE.read_text(encoding="utf-8"))
    assert (source["package"], source["version"], source["licence"]) == (
        division_source.PACKAGE,
        division_source.VERSION,
        "MIT",
    )
    assert source["integrity"].startswith("sha512-") and source["counts"]["county"] > 2800
    with division_source.CSV_FILE.open(encoding="utf-8") as f:
        assert sum(1 for _ in f) - 1 == sum(source["counts"].values())


def test_a_retired_county_finds_its_successor_by_its_stem_or_by_a_recorded_merge():
    before = {
        "130527": "南和县",
        "220381": "公主岭市",
        "370634": "长岛县",
        "370684": "蓬莱市",
        "340208": "三山区",
        "110101": "东城区",
    }
    after = {"130506": "南和区", "220184": "公主岭市", "370614": "蓬莱区", "110101": "东城区"}
    found = division_source.changes_between(before, after, "2020-11-20", merges={"370634": ("370614", "merge")})
    assert [(c["old_code"], c["kind"], c["new_code"], c["new_name"]) for c in found] == [
        ("130527", "recode", "130506", "南和区"),
        ("220381", "recode", "220184", "公主岭市"),  # moved to another prefecture of the same province
        ("340208", "retired", "", ""),  # no stem kept and no merge recorded: findable, but no successor
        ("370634", "merge", "370614", "蓬莱区"),
        ("370684", "recode", "370614", "蓬莱区"),
    ]
    assert {c["listed_on"] for c in found} == {"2020-11-20"}
