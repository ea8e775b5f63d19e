"""Monitoring over real PostgreSQL and NATS: collection with approval across two levels, agencies, imports, and
frameworks published as events (the results derived from the submissions: `test_monitoring_results`)."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest
from openpyxl import load_workbook

from dudao.callers import Principal
from dudao.commands import Caller
from dudao.errors import Conflict
from dudao.events import Envelope
from dudao_cli.send_lists import send_submissions
from services.monitoring import importer
from services.monitoring.commands import ApproveLevel
from services.monitoring.domain.collection import LevelApproval
from tests.conftest import eventually
from tests.factories import BALANCED, COUNTY
from tests.integration.conftest import (
    CITY,
    COUNTY_A,
    COUNTY_B,
    FRAMEWORK,
    PERIOD,
    act,
    enter_and_submit,
    level,
    sub,
)

pytestmark = pytest.mark.integration


def test_bad_values_are_all_named_and_nothing_is_kept(place):
    bad = dict(COUNTY["D"][1], qualified_teachers={"primary": 30, "junior_secondary": 99}, equipment_value=-1)
    with place.unit("D") as unit:
        refused = unit.put(f"/v1/submissions/{FRAMEWORK}/{PERIOD}/{place.schools['D']}", json={"values": bad})
        assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"
        assert {(e["field"], e["rule"]) for e in refused.json()["errors"]} == {
            ("values.qualified_teachers.junior_secondary", "qualified_within_fulltime"),
            ("values.equipment_value", "minimum"),
        }
        assert unit.get(f"/v1/submissions/{FRAMEWORK}/{PERIOD}/{place.schools['D']}").status_code == 404
        # a unit speaks for itself only
        other = unit.put(f"/v1/submissions/{FRAMEWORK}/{PERIOD}/{place.schools['A']}", json={"values": COUNTY["A"][1]})
        assert other.status_code == 403 and other.json()["rule"] == "own_unit_only"


def test_a_county_approves_after_every_school_and_the_city_accepts_after_the_county(place):
    enter_and_submit(place, "A")
    enter_and_submit(place, "D")
    with place.office(COUNTY_A) as county, place.office(CITY) as city:
        # only the county approves its schools' data
        assert act(city, sub(place, "A", "approve")).json()["rule"] == "approver_level"
        assert act(county, sub(place, "A", "approve")).status_code == 200
        waiting = act(county, level(COUNTY_A, "approve"))
        assert waiting.status_code == 409 and waiting.json()["rule"] == "units_below_not_approved"
        assert len(waiting.json()["waiting"]) == 2  # D submitted, E nothing yet

        # E submits, is returned with a reason, corrects and resubmits
        enter_and_submit(place, "E", dict(COUNTY["E"][1], multimedia_classrooms=3))
        returned = act(county, sub(place, "E", "return"), {"reason": "多媒体教室数与台账不符"})
        assert returned.json()["status"] == "returned"
        enter_and_submit(place, "E")
        for name in ("D", "E"):
            assert act(county, sub(place, name, "approve")).status_code == 200
        assert act(county, level(COUNTY_A, "approve")).json()["status"] == "approved"

        # approval locks: neither the unit nor the county re-opens a school while the county level stands
        with place.unit("A") as unit:
            locked = unit.put(
                f"/v1/submissions/{FRAMEWORK}/{PERIOD}/{place.schools['A']}", json={"values": COUNTY["A"][1]}
            )
            assert locked.status_code == 409
        assert act(county, sub(place, "A", "unapprove"), {"reason": "x"}).json()["rule"] == "locked_by_level_approval"

        # the city approves only after every county below it is accepted; Xundian has collected nothing
        assert act(city, level(CITY, "approve")).json()["rule"] == "units_below_not_approved"
        assert act(county, level(COUNTY_A, "accept")).json()["rule"] == "acceptor_level"
        assert act(city, level("53011x", "accept")).json()["rule"] == "code_format"
        assert act(city, level(COUNTY_A, "accept")).json()["status"] == "accepted"
        eventually(
            lambda: (
                {u["status"] for u in county.get(f"/v1/collection/{FRAMEWORK}/{PERIOD}").json()["units"]}
                == {"accepted"}
            ),
            what="the county's schools shown accepted",
        )
        assert (
            act(county, level(COUNTY_A, "unapprove"), {"reason": "x"}).status_code == 409
        )  # accepted: the city must hand it back

        # un-accept, un-approve, re-open: each with its reason, in that order
        assert act(city, level(COUNTY_A, "unaccept"), {"reason": "A校数据需核实"}).json()["status"] == "approved"
        assert act(county, level(COUNTY_A, "unapprove"), {"reason": "A校数据需核实"}).json()["status"] == "open"
        reopened = act(county, sub(place, "A", "unapprove"), {"reason": "在校生数应为秋季学期数"})
        assert reopened.json()["status"] == "returned"
        with place.unit("A") as unit:
            assert (
                unit.put(
                    f"/v1/submissions/{FRAMEWORK}/{PERIOD}/{place.schools['A']}", json={"values": COUNTY["A"][1]}
                ).status_code
                == 200
            )


def test_an_agency_collects_only_where_and_while_it_is_assigned(place):
    agency = place.monitoring.client(place.token(role="agency", jur=COUNTY_A, unit="kmpg-assess"))
    path = f"/v1/submissions/{FRAMEWORK}/{PERIOD}/{place.schools['D']}"
    assert agency.put(path, json={"values": COUNTY["D"][1]}).json()["rule"] == "assignment_scope"
    with place.office(COUNTY_A) as county:
        made = county.post(
            "/v1/assignments",
            json={
                "framework": FRAMEWORK,
                "period": PERIOD,
                "jurisdiction": COUNTY_A,
                "agency_id": "kmpg-assess",
                "agency_name": "云南某评估咨询有限公司",
                "task": "collect",
                "contract": "政府购买服务合同 DC-2025-08",
            },
        )
        assert made.status_code == 201, made.text
        entered = agency.put(path, json={"values": COUNTY["D"][1]})
        assert entered.status_code == 200
        assert agency.post(f"{path}/submit").json()["status"] == "submitted"
        status = eventually(
            lambda: next(
                (
                    u
                    for u in county.get(f"/v1/collection/{FRAMEWORK}/{PERIOD}").json()["units"]
                    if u["unit_id"] == place.schools["D"] and u["status"] == "submitted"
                ),
                None,
            ),
            what="the agency's submission listed",
        )
        assert status["collected_by"]["agency_id"] == "kmpg-assess"
        assert (
            act(county, sub(place, "D", "approve")).json()["status"] == "approved"
        )  # the same approval as a unit's own
        with place.office(COUNTY_B) as other:
            assert other.post(f"/v1/assignments/{made.json()['id']}/end", json={"reason": "x"}).status_code == 403
        assert (
            county.post(f"/v1/assignments/{made.json()['id']}/end", json={"reason": "合同期满"}).json()["active"]
            is False
        )
    assert (
        agency.put(
            f"/v1/submissions/{FRAMEWORK}/{PERIOD}/{place.schools['A']}", json={"values": COUNTY["A"][1]}
        ).json()["rule"]
        == "assignment_scope"
    )
    agency.close()


def test_shipped_frameworks_are_listed_and_a_malformed_one_is_refused_naming_the_path(place):
    with place.office(CITY) as office:
        codes = {f["code"] for f in office.get("/v1/frameworks").json()["items"]}
        assert codes == {"balanced_development", "preschool_inclusive", "duty_evaluation_demo"}
        broken = office.post("/v1/frameworks", json={"definition": {"code": "x1x", "level": "planet"}, "note": "试"})
        assert broken.status_code == 422 and {"level", "inputs", "indicators"} <= {
            e["field"] for e in broken.json()["errors"]
        }
    with place.office(COUNTY_A) as county:
        assert (
            county.post("/v1/frameworks", json={"definition": {}, "note": "x"}).json()["rule"] == "out_of_scope"
        )  # the city's


def test_an_import_dry_run_reports_every_bad_cell_and_a_good_sheet_enters_drafts(place):
    with place.office(COUNTY_A) as county:
        blank = county.get(f"/v1/imports/{FRAMEWORK}/{PERIOD}/template")
        assert blank.status_code == 200
        book = load_workbook(io.BytesIO(blank.content))
        rows = list(book.active.iter_rows(values_only=True))
        headers = list(rows[0])
        assert headers[:2] == ["学校代码", "学校名称"] and "在校生数（小学）" in headers and "教学仪器设备值" in headers
        assert sorted(r[1] for r in rows[1:]) == ["东川区A校", "东川区D校", "东川区E校"]

        def fill(name: str, **wrong) -> list:
            stage, values = COUNTY[name]
            cells = {"学校名称": f"东川区{name}校"}
            for header in headers[2:]:
                key, stage_key = importer.columns(BALANCED)[header]
                cells[header] = values.get(key) if stage_key is None else (values.get(key) or {}).get(stage_key)
            cells.update(wrong)
            return [cells.get(h) for h in headers]

        book.active.delete_rows(2, book.active.max_row)
        book.active.append(fill("A", **{"教学仪器设备值": "很多"}))
        book.active.append(fill("D", **{"高于规定学历教师数（初中）": 99}))
        book.active.append(fill("E"))
        book.active.append(fill("A", **{"学校名称": "不存在的学校"}))
        out = io.BytesIO()
        book.save(out)
        checked = county.post(f"/v1/imports/{FRAMEWORK}/{PERIOD}", params={"dry_run": "true"}, content=out.getvalue())
        assert checked.status_code == 200, checked.text
        report = checked.json()
        assert (report["rows"], report["good"]) == (4, 1)
        assert {(e["row"], e["column"], e["rule"]) for e in report["errors"]} == {
            (2, "教学仪器设备值", "number"),
            (3, "高于规定学历教师数（初中）", "qualified_within_fulltime"),
            (5, "学校名称", "unknown_school"),
        }
        refused = county.post(f"/v1/imports/{FRAMEWORK}/{PERIOD}", params={"dry_run": "false"}, content=out.getvalue())
        assert refused.status_code == 422 and len(refused.json()["errors"]) == 3
        assert (
            county.get(f"/v1/submissions/{FRAMEWORK}/{PERIOD}/{place.schools['E']}").status_code == 404
        )  # nothing entered

        book.active.delete_rows(2, book.active.max_row)
        for name in ("A", "D", "E"):
            book.active.append(fill(name))
        out = io.BytesIO()
        book.save(out)
        done = county.post(
            f"/v1/imports/{FRAMEWORK}/{PERIOD}", params={"dry_run": "false"}, content=out.getvalue()
        ).json()
        assert len(done["imported"]) == 3 and not done["failed"]
        entered = county.get(f"/v1/submissions/{FRAMEWORK}/{PERIOD}/{place.schools['D']}").json()
        assert entered["status"] == "draft" and entered["values"]["pupils"] == {"primary": 600, "junior_secondary": 400}


def test_balanced_development_comes_through_the_gateway_with_each_school_from_the_registry(
    place, settings, serve, token
):
    from gateway.app import build as build_gateway
    from tests.factories import graphql

    for name in ("A", "D", "E"):
        enter_and_submit(place, name)
    ports = settings.ports | {"registry": place.registry.port, "monitoring": place.monitoring.port}
    gateway = serve(build_gateway(replace(settings, jurisdiction=CITY, ports=ports)))
    query = f"""{{ balancedDevelopment(period: "{PERIOD}", jurisdiction: "{COUNTY_A}") {{
        frameworkVersion schoolsAssessed schoolsPassing cvWithin passes
        stages {{ stage pupils indicators {{ key cv within }} }}
        schools {{ unitName school {{ name stage }} parts {{ stage indicators {{ key value meets }} }} }} }}
      collectionStatus(framework: "{FRAMEWORK}", period: "{PERIOD}", jurisdiction: "{COUNTY_A}") {{ counts units {{ unitName status }} }}
      frameworks {{ code currentVersion periods }}
      operationalRollup(jurisdiction: "{COUNTY_A}") }}"""
    body = eventually(
        lambda: (
            (b := graphql(gateway, token(jur=CITY), query)).get("data")
            and b["data"]["balancedDevelopment"]["schoolsAssessed"] == 3
            # the query's fields are read each on its own, not as of one moment: the results may already hold a
            # submission whose status an earlier field's read had not yet seen
            and b["data"]["collectionStatus"]["counts"] == {"submitted": 3}
            and b
        ),
        what="three schools assessed and submitted through the gateway",
    )
    data = body["data"]
    bd = data["balancedDevelopment"]
    primary = next(s for s in bd["stages"] if s["stage"] == "primary")
    floor = next(i for i in primary["indicators"] if i["key"] == "teaching_floor_area_per_pupil")
    assert primary["pupils"] == 1000 and floor["cv"] == pytest.approx(
        0.233285, abs=1e-6
    )  # A and D's primary part, as above
    d = next(s for s in bd["schools"] if s["unitName"] == "东川区D校")
    assert d["school"] == {"name": "东川区D校", "stage": "nine_year"} and [p["stage"] for p in d["parts"]] == [
        "primary",
        "junior_secondary",
    ]
    assert data["collectionStatus"]["counts"] == {"submitted": 3}
    assert {f["code"] for f in data["frameworks"]} == {
        "balanced_development",
        "preschool_inclusive",
        "duty_evaluation_demo",
    }
    assert data["operationalRollup"]["jurisdiction"] == COUNTY_A


def test_dudao_import_submissions_checks_a_csv_then_enters_it(place, settings, tmp_path):
    city = replace(settings, jurisdiction=COUNTY_A, ports=settings.ports | {"monitoring": place.monitoring.port})
    headers = ["学校名称", *importer.columns(BALANCED)]
    a = {"学校名称": "东川区A校"} | {h: "" for h in headers[1:]}
    for header, (key, stage) in importer.columns(BALANCED).items():
        value = COUNTY["A"][1].get(key)
        cell = (value or {}).get(stage) if stage else value
        a[header] = "" if cell is None else str(cell)
    bad = dict(a, **{"网络多媒体教室数": "十"})
    sheet = tmp_path / "填报.csv"
    sheet.write_text(",".join(headers) + "\n" + ",".join(bad[h] for h in headers) + "\n", encoding="utf-8-sig")
    out = io.StringIO()
    assert (
        send_submissions(
            sheet, FRAMEWORK, PERIOD, dry_run=True, token=place.token(jur=COUNTY_A), settings=city, out=out
        )
        == 1
    )
    assert "row 2, column 网络多媒体教室数: '十' is not a number (number)" in out.getvalue()
    sheet.write_text(",".join(headers) + "\n" + ",".join(a[h] for h in headers) + "\n", encoding="utf-8-sig")
    out = io.StringIO()
    assert (
        send_submissions(
            sheet, FRAMEWORK, PERIOD, dry_run=False, token=place.token(jur=COUNTY_A), settings=city, out=out
        )
        == 0
    ), out.getvalue()
    assert "entered 1 submissions as drafts" in out.getvalue()


def test_a_level_approval_racing_with_a_reopening_below_is_refused_not_half_saved(place, monkeypatch):

    for name in ("A", "D"):
        enter_and_submit(place, name)
    with place.office(COUNTY_A) as county:
        for name in ("A", "D"):
            assert act(county, sub(place, name, "approve")).status_code == 200
        # what a concurrent approval of the level loaded before A was re-opened: no level recorded yet
        stale = LevelApproval.open(framework=FRAMEWORK, period=PERIOD, jurisdiction=COUNTY_A)
        assert (
            act(county, sub(place, "A", "unapprove"), {"reason": "核对面积"}).status_code == 200
        )  # records on the level
    app = place.monitoring.app.state.application
    monkeypatch.setattr(app, "_level_or_new", lambda *_: stale)
    with pytest.raises(Conflict) as caught:
        app.approve_level(
            ApproveLevel(
                framework=FRAMEWORK, period=PERIOD, code=COUNTY_A, units=[place.schools["D"]], levels_below={}, now=None
            ),
            Caller(
                Principal(sub="county", roles=frozenset({"admin"}), jur=COUNTY_A),
                Envelope.for_request(actor="county", jurisdiction=COUNTY_A),
            ),
        )
    assert caught.value.rule == "concurrent_update"


def test_the_city_cannot_hand_a_county_back_while_its_own_level_stands_approved(place):
    for name in ("A", "D", "E"):
        enter_and_submit(place, name)
    with place.monitoring.client(place.token(role="unit", jur=COUNTY_B, unit=place.schools["X"])) as x:
        assert (
            x.put(
                f"/v1/submissions/{FRAMEWORK}/{PERIOD}/{place.schools['X']}", json={"values": COUNTY["A"][1]}
            ).status_code
            == 200
        )
        assert x.post(f"/v1/submissions/{FRAMEWORK}/{PERIOD}/{place.schools['X']}/submit").status_code == 200
    with place.office(COUNTY_A) as a, place.office(COUNTY_B) as b, place.office(CITY) as city:
        for county, names in ((a, "ADE"), (b, "X")):
            for name in names:
                assert act(county, sub(place, name, "approve")).status_code == 200
        for county, code in ((a, COUNTY_A), (b, COUNTY_B)):
            assert act(county, level(code, "approve")).status_code == 200
            assert act(city, level(code, "accept")).status_code == 200
        assert act(city, level(CITY, "approve")).json()["status"] == "approved"
        refused = act(city, level(COUNTY_A, "unaccept"), {"reason": "复核"})
        assert refused.status_code == 409 and refused.json()["rule"] == "locked_by_level_approval"
        assert act(city, level(CITY, "unapprove"), {"reason": "复核"}).status_code == 200
        assert act(city, level(COUNTY_A, "unaccept"), {"reason": "复核"}).json()["status"] == "approved"
