"""Every place in China (issue 21): any listed division can run an instance, take its schools and read its rules."""

from __future__ import annotations

from dataclasses import replace

import pytest

from services.registry.app import build as build_registry
from services.registry.importer import SCHOOL_COLUMNS
from tests.conftest import TODAY, eventually

pytestmark = pytest.mark.integration

SHENYANG, HEPING, SHENHE = "210100", "210102", "210103"


def test_shenyang_runs_an_instance_imports_its_districts_list_as_it_is_and_says_national_defaults_apply(
    settings, serve, token
):
    """Issue 21: a real city's list (和平区 210102, 沈河区 210103) was refused row by row: "not a known division code"."""
    shenyang = serve(build_registry(replace(settings, jurisdiction=SHENYANG)))
    with shenyang.client() as anonymous:
        policy = eventually(
            lambda: (p := anonymous.get(f"/v1/policy/{HEPING}").json())["chain"][0]["version"] and p,
            what="the national profile installed",
        )
    assert [(link["jurisdiction"], link["name"]) for link in policy["chain"]] == [
        ("000000", "全国"),
        ("210000", "辽宁省"),
        (SHENYANG, "沈阳市"),
        (HEPING, "和平区"),
    ]
    assert [link["version"] for link in policy["chain"][1:]] == [None, None, None]
    assert (
        policy["national_defaults_only"] and policy["note_zh"] == "辽宁省、沈阳市、和平区未设本地配置，适用国家默认值"
    )
    assert policy["values"] and {v["source_jurisdiction"] for v in policy["values"].values()} == {"000000"}

    rows = [
        ",".join(SCHOOL_COLUMNS),
        f"2101020001,沈阳市和平区第一小学,{HEPING},小学,公办,城区,1200",
        f"2101030001,沈阳市沈河区文艺路小学,{SHENHE},小学,公办,城区,900",
        f"2101030002,沈阳市第二中学,{SHENHE},完中,公办,城区,2100",
    ]
    with shenyang.client(token(jur=SHENYANG)) as office:

        def post(dry):
            return office.post(
                "/v1/imports/schools",
                params={"dry_run": dry},
                content="\n".join(rows).encode(),
                headers={"Content-Type": "text/csv"},
            )

        dry = post("true")
        assert dry.status_code == 200 and (dry.json()["new"], dry.json()["imported"]) == (3, 0), dry.text
        done = post("false")
        assert done.status_code == 200 and done.json()["imported"] == 3, done.text
        by_district = {
            code: eventually(
                lambda c=code, n=n: (
                    len(s := office.get("/v1/schools", params={"jurisdiction": c}).json()["items"]) == n and s
                ),
                what=f"the schools of {code}",
            )
            for code, n in ((HEPING, 1), (SHENHE, 2))
        }
        assert [s["name"] for s in by_district[HEPING]] == ["沈阳市和平区第一小学"] and len(by_district[SHENHE]) == 2
        assert (
            office.post(
                "/v1/schools",
                json={
                    "name": "大连市第一小学",
                    "jurisdiction": "210202",
                    "stage": "primary",
                    "ownership": "public",
                    "enrolment": 500,
                },
            ).status_code
            == 403
        )  # Dalian: another city


@pytest.mark.parametrize(
    ("province", "old", "new", "city", "name", "before"),
    [
        (
            "220000",
            "220381",
            "220184",
            "220100",
            "公主岭市实验小学",
            "2020-09-01",
        ),  # re-coded, and moved from 四平 to 长春
        ("370000", "370634", "370614", "370600", "长岛县第一小学", "2020-11-01"),  # merged with 蓬莱市 into 蓬莱区
    ],
)
def test_a_recoded_or_merged_county_keeps_its_records_findable_and_rolls_them_up_under_the_successor(
    settings, serve, token, province, old, new, city, name, before
):
    """Issue 21: 公主岭市 220381 (四平) was re-coded 220184 under 长春 in the Ministry's list of 2020-09-29; 长岛县 370634
    merged into 蓬莱区 370614 in the list of 2020-11-20. Schools registered before keep their codes; reads, roll-ups,
    scope and profiles follow the successor; a new school under a retired code is refused, naming the successor."""
    from datetime import date

    from tests.factories import move_to

    body = {"stage": "primary", "ownership": "public", "enrolment": 600}
    registry = serve(build_registry(replace(settings, jurisdiction=province)))
    with registry.client(token(jur=province)) as office:
        move_to(date.fromisoformat(before), registry)  # before the change: the old code is the division's
        made = office.post("/v1/schools", json=body | {"name": name, "jurisdiction": old})
        assert made.status_code == 201, made.text
        move_to(TODAY, registry)  # the tests' today, long after the change
        refused = office.post("/v1/schools", json=body | {"name": f"{name}分校", "jurisdiction": old})
        assert refused.status_code == 422 and refused.json()["rule"] == "retired_division", refused.text
        assert new in refused.json()["detail"] and refused.json()["field"] == "jurisdiction"
        school_id = made.json()["id"]
        for place in (old, new, city, province):  # under its own code, its successor and everything above
            found = eventually(
                lambda p=place: office.get("/v1/schools", params={"jurisdiction": p}).json()["items"], what=place
            )
            assert [s["id"] for s in found] == [school_id], place
        staffing = office.get("/v1/staffing-compliance", params={"jurisdiction": new}).json()
        assert staffing["schools"] == 1, staffing  # the roll-up counts it under the successor
    with registry.client(token(jur=city)) as successor_city, registry.client(token(jur=new)) as successor:
        assert successor_city.get(f"/v1/schools/{school_id}").status_code == 200
        assert successor.get(f"/v1/schools/{school_id}").status_code == 200  # the successor's office acts on it
    with registry.client() as anonymous:
        chain = [link["jurisdiction"] for link in anonymous.get(f"/v1/policy/{old}").json()["chain"]]
    assert chain == ["000000", province, city, new, old]  # its rules are its successor's
    if old == "220381":
        with registry.client(token(jur="220300")) as siping:  # 四平, where 公主岭 was before: no longer its own
            assert siping.get(f"/v1/schools/{school_id}").status_code in (403, 404)
            assert school_id not in [s["id"] for s in siping.get("/v1/schools", params={"limit": 200}).json()["items"]]


def test_a_county_names_its_townships_and_their_schools_show_the_name_and_roll_up_to_the_county(registry, token):
    """Issue 21: a township (乡镇/街道) is a 9-digit unit the national list does not carry; its county's office names it."""
    bicheng, elsewhere = "500120001", "500101001"  # 璧城街道 of 璧山区; a street of 万州区
    with registry.client(token()) as office:
        named = office.put(f"/v1/townships/{bicheng}", json={"name": "璧城街道"})
        assert named.status_code == 200 and (named.json()["county"], named.json()["county_name"]) == (
            "500120",
            "璧山区",
        ), named.text
        assert (
            office.put(f"/v1/townships/{bicheng}", json={"name": "璧城街道"}).json()["version"] == 1
        )  # the same name: no change
        refused = {
            "not 9 digits": office.put("/v1/townships/5001200", json={"name": "x"}),
            "another county's": office.put(f"/v1/townships/{elsewhere}", json={"name": "万州某街道"}),
            "no name": office.put(f"/v1/townships/{bicheng}", json={"name": ""}),
        }
        assert {k: r.status_code for k, r in refused.items()} == {
            "not 9 digits": 422,
            "another county's": 403,
            "no name": 422,
        }
        school = office.post(
            "/v1/schools",
            json={
                "name": "璧山区璧城小学",
                "jurisdiction": bicheng,
                "stage": "primary",
                "ownership": "public",
                "enrolment": 700,
            },
        )
        assert school.status_code == 201, school.text
        listed = eventually(
            lambda: office.get("/v1/townships", params={"jurisdiction": "500120"}).json(), what="the township listed"
        )
        assert [(t["code"], t["name"]) for t in listed] == [(bicheng, "璧城街道")]
        shown = eventually(
            lambda: (
                (s := office.get(f"/v1/schools/{school.json()['id']}").json()).get("jurisdiction_name") == "璧城街道"
                and s
            ),
            what="the school under its township's name",
        )
        assert shown["jurisdiction"] == bicheng
        assert [s["name"] for s in office.get("/v1/schools", params={"jurisdiction": "500120"}).json()["items"]] == [
            "璧山区璧城小学"
        ]
        assert (
            office.get("/v1/staffing-compliance", params={"jurisdiction": "500120"}).json()["schools"] == 1
        )  # rolls up
