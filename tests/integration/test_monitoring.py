"""Monitoring over real PostgreSQL and NATS: collection with approval across two levels, results recorded under
the period's framework version, what-if under another, agencies, and frameworks published as events."""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass, replace

import asyncpg
import nats
import psycopg
import pytest
from openpyxl import load_workbook

from dudao import replay
from dudao.callers import Principal
from dudao.commands import Caller
from dudao.errors import Conflict
from dudao.events import Envelope
from dudao_cli.send_lists import send_submissions
from services.monitoring import importer
from services.monitoring.app import PARTS as MONITORING
from services.monitoring.app import build as build_monitoring
from services.monitoring.commands import ApproveLevel
from services.monitoring.domain.collection import LevelApproval
from services.monitoring.projections import areas, reads
from services.registry.app import build as build_registry
from tests.conftest import ServedApp, eventually
from tests.factories import BALANCED, COUNTY, school

pytestmark = pytest.mark.integration

CITY, COUNTY_A, COUNTY_B = "530100", "530113", "530114"

FRAMEWORK, PERIOD = "balanced_development", "2025-2026"


@dataclass
class Place:
    registry: ServedApp
    monitoring: ServedApp
    schools: dict[str, str]  # A … F (as in the hand-worked county) -> id
    token: object

    def office(self, jur: str = CITY):
        return self.monitoring.client(self.token(jur=jur))

    def unit(self, name: str):
        return self.monitoring.client(self.token(role="unit", jur=COUNTY_A, unit=self.schools[name]))


@pytest.fixture
def place(settings, serve, token) -> Place:
    """A city instance (Kunming) with four of the hand-worked schools in Dongchuan and one in another county."""
    city = replace(settings, jurisdiction=CITY)
    registry, monitoring = serve(build_registry(city)), serve(build_monitoring(city))
    ids = {}
    with registry.client(token(jur=CITY)) as client:
        for name in ("A", "D", "E"):
            ids[name] = school(client, f"东川区{name}校", jur=COUNTY_A, stage=COUNTY[name][0])
        ids["X"] = school(client, "寻甸县X小学", jur=COUNTY_B, stage="primary")
    with monitoring.client(token(jur=CITY)) as office:
        assert office.post(f"/v1/frameworks/{FRAMEWORK}/periods", json={"period": PERIOD}).status_code == 201
        eventually(
            lambda: len(office.get(f"/v1/collection/{FRAMEWORK}/{PERIOD}").json().get("units", [])) == 4,
            what="the schools copied",
        )
    return Place(registry, monitoring, ids, token)


def enter_and_submit(place: Place, name: str, values: dict | None = None) -> None:
    with place.unit(name) as unit:
        entered = unit.put(
            f"/v1/submissions/{FRAMEWORK}/{PERIOD}/{place.schools[name]}", json={"values": values or COUNTY[name][1]}
        )
        assert entered.status_code == 200, entered.text
        assert unit.post(f"/v1/submissions/{FRAMEWORK}/{PERIOD}/{place.schools[name]}/submit").status_code == 200


def act(client, path: str, body: dict | None = None):
    return client.post(f"/v1/{path}", json=body)


def sub(place: Place, name: str, step: str) -> str:
    return f"submissions/{FRAMEWORK}/{PERIOD}/{place.schools[name]}/{step}"


def level(code: str, step: str) -> str:
    return f"levels/{FRAMEWORK}/{PERIOD}/{code}/{step}"


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


def results(client, jurisdiction: str = COUNTY_A) -> dict:
    return client.get(f"/v1/results/{FRAMEWORK}/{PERIOD}", params={"jurisdiction": jurisdiction}).json()


def test_results_follow_the_submissions_and_a_new_framework_version_leaves_them_intact(place, settings):
    for name in ("A", "D", "E"):
        enter_and_submit(place, name)
    with place.office(CITY) as office:
        recorded = eventually(
            lambda: (r := results(office)) and r["area"]["units"] == 3 and r, what="the county result"
        )
        area = recorded["area"]
        assert recorded["framework_version"] == 1 and area["submission_versions"].keys() == {
            place.schools[n] for n in "ADE"
        }
        # A (400, 6.0) and D's primary part (600, 10.0): X̄ = 8.4, S² = (400·2.4² + 600·1.6²) / 1000 = 3.84, CV = 1.959592 / 8.4
        primary_floor = area["stages"]["primary"]["indicators"]["teaching_floor_area_per_pupil"]
        assert primary_floor["cv"] == pytest.approx(0.233285, abs=1e-6)
        assert {u["unit_name"] for u in recorded["units"]} == {"东川区A校", "东川区D校", "东川区E校"}

        # a submission changes: returned, corrected, resubmitted: the result follows, naming the new version
        with place.office(COUNTY_A) as county:
            act(county, sub(place, "A", "return"), {"reason": "面积有误"})
        enter_and_submit(place, "A", dict(COUNTY["A"][1], teaching_floor_area=3200))
        changed = eventually(
            lambda: (
                (r := results(office))["area"]["submission_versions"].get(place.schools["A"], 0)
                > area["submission_versions"][place.schools["A"]]
                and r
            ),
            what="the result recomputed",
        )
        # A now (400, 8.0): X̄ = 9.2, S² = (400·1.2² + 600·0.8²) / 1000 = 0.96, CV = 0.979796 / 9.2
        assert changed["area"]["stages"]["primary"]["indicators"]["teaching_floor_area_per_pupil"][
            "cv"
        ] == pytest.approx(0.106500, abs=1e-6)

        # version 2 raises the primary floor-area bar to 9 m²: the 2025-2026 results stay as they were
        definition = office.get(f"/v1/frameworks/{FRAMEWORK}").json()["definition"]
        definition["indicators"][3]["bar"]["primary"]["value"] = 9.0
        published = office.post("/v1/frameworks", json={"definition": definition, "note": "生均面积标准提高"})
        assert published.json()["version"] == 2
        eventually(
            lambda: office.get(f"/v1/frameworks/{FRAMEWORK}").json()["current_version"] == 2, what="version 2 projected"
        )
        assert results(office) == changed

        # the what-if under version 2 stands beside the recorded one: A's 8.0 m² now misses its bar
        side = office.get(
            f"/v1/results/{FRAMEWORK}/{PERIOD}/what-if", params={"jurisdiction": COUNTY_A, "version": 2}
        ).json()
        assert (side["recorded"]["framework_version"], side["what_if"]["framework_version"]) == (1, 2)
        a_now = next(u for u in side["what_if"]["units"] if u["unit_id"] == place.schools["A"])
        a_then = next(u for u in side["recorded"]["units"] if u["unit_id"] == place.schools["A"])
        floor = [i for i in a_now["parts"][0]["indicators"] if i["key"] == "teaching_floor_area_per_pupil"][0]
        assert floor["meets"] is False and floor["bar"]["value"] == 9.0
        assert [i for i in a_then["parts"][0]["indicators"] if i["key"] == "teaching_floor_area_per_pupil"][0][
            "meets"
        ] is True

        # a new period opens under version 2
        assert office.post(f"/v1/frameworks/{FRAMEWORK}/periods", json={"period": "2026-2027"}).json()["version"] == 2
    with psycopg.connect(settings.database_url) as conn:
        kinds = {
            r[0].rsplit(".", 1)[-1]
            for r in conn.execute("SELECT topic FROM monitoring.monitoring_events WHERE topic LIKE '%Framework.%'")
        }
    assert {"Published", "VersionPublished", "PeriodOpened"} <= kinds


async def rebuild_collection(settings) -> None:
    """`dudao replay monitoring --projection collection` at the city."""
    nc = await nats.connect(settings.nats_url)
    try:
        await replay.rebuild(
            replace(settings, jurisdiction=CITY), MONITORING, nc.jetstream(), ["collection"], io.StringIO()
        )
    finally:
        await nc.close()


def test_a_rebuild_derives_each_level_s_result_once_at_its_end_and_the_same_as_live(place, settings, monkeypatch):
    for name in ("A", "D", "E"):
        enter_and_submit(place, name)
    with place.office(CITY) as office:
        live = eventually(lambda: (r := results(office)) and r["area"]["units"] == 3 and r, what="the live result")
        monkeypatch.setattr(replay, "BATCH", 2)  # the stream's events in several batches, each marking results due
        derived: list[int] = []
        counting = areas.area_over

        async def counted(*args, **kwargs):
            derived.append(1)
            return await counting(*args, **kwargs)

        monkeypatch.setattr(areas, "area_over", counted)
        computing, computed = areas.unit_result, []
        monkeypatch.setattr(areas, "unit_result", lambda d, unit: computed.append(unit.unit_id) or computing(d, unit))

        asyncio.run(rebuild_collection(settings))
        # nine submission events in batches of two: Dongchuan's area once, at the end (a settle after each batch would
        # derive it for each batch that changed a submission; after each event, six times)
        assert len(derived) == 1
        # each school's result computed once, and the area from those results as recorded, not each computed again
        assert sorted(computed) == sorted(set(computed)) and len(computed) == 3
        again = results(office)
        assert (again["area"], again["units"]) == (live["area"], live["units"])  # computed_at is the rebuild's own
    with psycopg.connect(settings.database_url) as conn:
        assert conn.execute("SELECT count(*) FROM monitoring.results_due").fetchone()[0] == 0


def test_a_rebuild_whose_results_cannot_be_derived_stops_before_the_switch(place, settings, monkeypatch):
    """The rebuild derives its results once, at its end: if that fails, it says so and switches nothing."""
    for name in ("A", "D"):
        enter_and_submit(place, name)
    with place.office(CITY) as office:
        live = eventually(lambda: (r := results(office)) and r["area"]["units"] == 2 and r, what="the live result")

        def unreadable(definition, unit):
            raise ValueError(f"unit {unit.unit_id} cannot be computed")

        monkeypatch.setattr(areas, "unit_result", unreadable)

        with pytest.raises(SystemExit, match="the rebuilt collection could not be derived .*the live read model is"):
            asyncio.run(rebuild_collection(settings))
        assert results(office) == live  # computed_at too: the live rows, as they were


def test_the_city_sees_its_counties_rolled_up(place):
    for name in ("A", "D", "E"):
        enter_and_submit(place, name)
    with place.office(CITY) as office:
        city = eventually(
            lambda: (r := results(office, CITY)) and len(r["areas"]) == 1 and r["area"]["units"] == 3 and r,
            what="roll-up",
        )
        assert city["areas"][0]["jurisdiction"] == COUNTY_A and city["areas"][0]["name"] == "东川区"
        # the city's area is rolled up from the units' recorded results: with one county, the county's own verdict
        assert city["area"] == results(office, COUNTY_A)["area"]


def test_a_roll_up_asked_without_its_schools_reads_none_of_them_and_gives_the_same_verdict(place, settings):
    """Issue 24: a province's verdict is asked far oftener than its thousands of schools' results; a query that does
    not select them is answered without reading them, from the same figures: its counties' parts merged."""
    from tests.factories import graphql

    for name in ("A", "D", "E"):
        enter_and_submit(place, name)
    fields = "schoolsAssessed schoolsPassing cvWithin passes provisional stages { stage schools pupils indicators { key mean sd cv within } }"
    query = f'{{ balancedDevelopment(period: "{PERIOD}", jurisdiction: "{CITY}") {{ {fields} SCHOOLS }} }}'
    token = place.token(jur=CITY)
    whole = eventually(
        lambda: (
            (b := graphql(place.monitoring, token, query.replace("SCHOOLS", "schools { unitName }")))["data"][
                "balancedDevelopment"
            ]["schoolsAssessed"]
            == 3
            and b["data"]["balancedDevelopment"]
        ),
        what="the city's roll-up of three schools",
    )
    alone = graphql(place.monitoring, token, query.replace("SCHOOLS", ""))["data"]["balancedDevelopment"]
    assert len(whole.pop("schools")) == 3 and alone == whole

    async def statements(units: bool) -> list[str]:
        conn = await asyncpg.connect(settings.database_url)
        ran: list[str] = []
        conn.add_query_logger(lambda record: ran.append(record.query))
        try:
            await reads.results(conn, FRAMEWORK, PERIOD, CITY, units=units)
        finally:
            await conn.close()
        return ran

    alone_ran, whole_ran = asyncio.run(statements(False)), asyncio.run(statements(True))
    assert [q for q in whole_ran if reads.UNIT_COLUMNS in q]  # the units' whole results, when asked for
    # the wider area is its jurisdictions' parts merged (decision 035): not a statement reads a unit's result
    assert not [q for q in alone_ran if "monitoring.unit_results" in q], alone_ran
    with place.office(CITY) as office:  # and the same as the county's own verdict, its only county here
        area = results(office, COUNTY_A)["area"]
    assert [alone["passes"], alone["cvWithin"], alone["schoolsPassing"]] == [
        area["passes"],
        area["cv_within"],
        area["units_passing"],
    ]


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
            and b
        ),
        what="three schools assessed through the gateway",
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
