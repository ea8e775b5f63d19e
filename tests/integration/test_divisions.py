"""Every place in China (issue 21): any listed division can run an instance, take its schools and read its rules."""

from __future__ import annotations

from dataclasses import replace

import pytest

from services.registry.app import build as build_registry
from services.registry.importer import SCHOOL_COLUMNS
from tests.conftest import eventually

pytestmark = pytest.mark.integration

SHENYANG, HEPING, SHENHE = "210100", "210102", "210103"


def test_shenyang_runs_an_instance_imports_its_districts_list_as_it_is_and_says_national_defaults_apply(settings, serve, token):
    """Issue 21: a real city's list (和平区 210102, 沈河区 210103) was refused row by row: "not a known division code"."""
    shenyang = serve(build_registry(replace(settings, jurisdiction=SHENYANG)))
    with shenyang.client() as anonymous:
        policy = eventually(lambda: (p := anonymous.get(f"/v1/policy/{HEPING}").json())["chain"][0]["version"] and p,
                            what="the national profile installed")  # fmt: skip
    assert [(link["jurisdiction"], link["name"]) for link in policy["chain"]] == [
        ("000000", "全国"), ("210000", "辽宁省"), (SHENYANG, "沈阳市"), (HEPING, "和平区")]  # fmt: skip
    assert [link["version"] for link in policy["chain"][1:]] == [None, None, None]
    assert policy["national_defaults_only"] and policy["note_zh"] == "辽宁省、沈阳市、和平区未设本地配置，适用国家默认值"
    assert policy["values"] and {v["source_jurisdiction"] for v in policy["values"].values()} == {"000000"}

    rows = [",".join(SCHOOL_COLUMNS), f"2101020001,沈阳市和平区第一小学,{HEPING},小学,公办,城区,1200",
            f"2101030001,沈阳市沈河区文艺路小学,{SHENHE},小学,公办,城区,900", f"2101030002,沈阳市第二中学,{SHENHE},完中,公办,城区,2100"]  # fmt: skip
    with shenyang.client(token(jur=SHENYANG)) as office:
        post = lambda dry: office.post("/v1/imports/schools", params={"dry_run": dry}, content="\n".join(rows).encode(),
                                       headers={"Content-Type": "text/csv"})  # fmt: skip
        dry = post("true")
        assert dry.status_code == 200 and (dry.json()["new"], dry.json()["imported"]) == (3, 0), dry.text
        done = post("false")
        assert done.status_code == 200 and done.json()["imported"] == 3, done.text
        by_district = {code: eventually(lambda c=code, n=n: len(s := office.get("/v1/schools", params={"jurisdiction": c}).json()["items"]) == n and s,
                                        what=f"the schools of {code}") for code, n in ((HEPING, 1), (SHENHE, 2))}  # fmt: skip
        assert [s["name"] for s in by_district[HEPING]] == ["沈阳市和平区第一小学"] and len(by_district[SHENHE]) == 2
        assert office.post("/v1/schools", json={"name": "大连市第一小学", "jurisdiction": "210202", "stage": "primary",
                                                "ownership": "public", "enrolment": 500}).status_code == 403  # Dalian: another city
