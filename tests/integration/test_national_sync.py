"""The national API's bulk sync of cases, outcomes and reports, and its incremental sync by change cursor (issue 8)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from uuid import uuid4

import psycopg
import pytest

import dudao.changes
import services.registry.app as registry_app
from dudao.config import Settings
from gateway.app import build as build_gateway
from services.accountability.app import build as build_accountability
from services.inspection.app import build as build_inspection
from tests.conftest import ServedApp, eventually
from tests.factories import activity, copied_school, issued, school

pytestmark = pytest.mark.integration


@dataclass
class Stack:
    registry: ServedApp
    inspection: ServedApp
    accountability: ServedApp
    gateway: ServedApp
    settings: Settings


def gateway_for(settings, serve, registry: ServedApp, inspection: ServedApp, accountability: ServedApp) -> ServedApp:
    ports = {"registry": registry.port, "inspection": inspection.port, "accountability": accountability.port}
    return serve(build_gateway(replace(settings, ports=settings.ports | ports)))


@pytest.fixture
def stack(settings, registry, serve) -> Stack:
    return stack_of(settings, registry, serve)


def stack_of(settings, registry, serve) -> Stack:
    inspection, accountability = serve(build_inspection(settings)), serve(build_accountability(settings))
    return Stack(
        registry,
        inspection,
        accountability,
        gateway_for(settings, serve, registry, inspection, accountability),
        settings,
    )


def reported(stack: Stack, token, name: str) -> tuple[str, str, dict]:
    """A school whose issued report opened a rectification case: (school id, activity id, case)."""
    school_id, location = issued(stack.inspection, stack.registry, token, stack.settings, name, f"{name}消防通道堵塞")
    with stack.accountability.client(token()) as client:
        [case] = eventually(
            lambda: client.get("/v1/cases", params={"unit_id": school_id}).json()["items"], what="the case"
        )
    return school_id, location.rsplit("/", 1)[1], case


def propose_interview(client, unit_id: str, unit_name: str, jurisdiction: str | None = None) -> str:
    body = {
        "unit_kind": "school",
        "unit_id": unit_id,
        "unit_name": unit_name,
        "trigger": "duties_not_fulfilled",
        "reason": "整改不力",
    }
    body |= {"jurisdiction": jurisdiction} if jurisdiction else {}
    # Accountability names the school as its copy of the registry has it: a 404 school_not_found until the copy has
    # it changes nothing, so ask again.
    response = eventually(
        lambda: (r := client.post("/v1/interviews", json=body)).status_code != 404 and r, what="the school copied"
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def every_page(client, path: str, limit: int, **params) -> list[list[dict]]:
    """Each page of a bulk list, following `next_cursor` until it is null."""
    pages, cursor = [], None
    while True:
        page = client.get(path, params=params | {"limit": limit} | ({"cursor": cursor} if cursor else {}))
        assert page.status_code == 200, page.text
        pages.append(page.json()["items"])
        if (cursor := page.json()["next_cursor"]) is None:
            return pages


def feed(client, since: str | None, limit: int = 100, **params) -> tuple[list[dict], str]:
    """The whole change feed after `since`, following `next_cursor` while `has_more`; with the cursor to keep."""
    items, cursor = [], since
    while True:
        page = client.get(
            "/national/v1/changes", params=params | {"limit": limit} | ({"since": cursor} if cursor else {})
        )
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        assert cursor, "the feed always gives a cursor to keep"
        if not page.json()["has_more"]:
            return items, cursor


def named(items: list[dict]) -> list[tuple[str, str]]:
    return sorted((i["kind"], i["id"]) for i in items)


# --- bulk sync: cases, outcomes, reports -----------------------------------------------------------------------------


def test_cases_outcomes_and_reports_page_with_cursors(stack, token):
    schools = [reported(stack, token, f"璧山区同步小学{i}") for i in range(3)]
    with stack.accountability.client(token()) as office:
        interviews = [propose_interview(office, schools[i][0], f"璧山区同步小学{i}") for i in range(2)]
        eventually(lambda: len(office.get("/v1/interviews").json()["items"]) == 2, what="the interviews projected")
    with stack.gateway.client(token(role="national", jur="000000")) as national:
        cases = every_page(national, "/national/v1/cases", 2, jurisdiction="500120")
        reports = every_page(national, "/national/v1/reports", 2)
        outcomes = every_page(national, "/national/v1/outcomes", 1, kind="interview")
        one_case = national.get(f"/national/v1/cases/{schools[0][2]['id']}").json()
        unknown = national.get(f"/national/v1/cases/{uuid4()}")
        bad_kind = national.get("/national/v1/outcomes", params={"kind": "praise"})

    assert (
        [len(p) for p in cases] == [2, 1]
        and [len(p) for p in reports] == [2, 1]
        and [len(p) for p in outcomes] == [1, 1, 0]
    )
    assert sorted(c["id"] for p in cases for c in p) == sorted(case["id"] for _, _, case in schools)
    first = cases[0][0]
    assert (first["unitId"], first["status"], first["jurisdiction"]) == (schools[0][0], "opened", {"code": "500120"})
    assert [(i["status"], i["deadline"], i["notices"]) for i in first["items"]] == [("open", None, [])]
    assert one_case == first
    report = reports[0][0]
    assert (report["id"], report["status"], report["reportSummary"]) == (
        schools[0][1],
        {"value": "report_issued"},
        "草稿",
    )
    assert report["grade"] is None and report["findings"][0]["description"] == "璧山区同步小学0消防通道堵塞"
    assert sorted(o["id"] for p in outcomes for o in p) == sorted(interviews)
    assert {(o["kind"], o["status"], o["unitKind"]) for p in outcomes for o in p} == {
        ("interview", "proposed", "school")
    }
    assert unknown.status_code == 404 and unknown.json()["field"] == "id"
    assert bad_kind.status_code == 422 and bad_kind.json()["field"] == "kind"


def test_a_report_is_listed_only_once_issued(stack, token, settings):
    with stack.registry.client(token()) as reg:
        school_id = copied_school(reg, settings, "璧山区未发小学")
    with stack.inspection.client(token()) as client:
        assert (
            client.post("/v1/activities", json=activity(target_id=school_id, target_name="璧山区未发小学")).status_code
            == 201
        )
        eventually(lambda: client.get("/v1/activities").json()["items"], what="the planned activity")
    with stack.gateway.client(token(role="national", jur="000000")) as national:
        assert national.get("/national/v1/reports").json() == {"items": [], "next_cursor": None}
        assert len(national.get("/national/v1/activities").json()["items"]) == 1


# --- incremental sync ------------------------------------------------------------------------------------------------


def test_after_reading_the_feed_to_the_end_only_what_changed_comes_back_once(stack, token):
    changed, activity_id, case = reported(stack, token, "璧山区变化小学")
    case_id, item_id = case["id"], case["items"][0]["item_id"]
    with stack.registry.client(token()) as reg:
        unchanged = school(reg, "璧山区不变小学")
    with stack.gateway.client(token(role="national", jur="000000")) as national:

        def settled():  # the case's events still in flight change it again: wait until reading on finds nothing
            items, cursor = feed(national, None, limit=2)
            return len(items) == 5 and feed(national, cursor) == ([], cursor) and (items, cursor)

        items, saved = eventually(settled, what="the whole feed, with nothing more arriving")
        [leader] = [i for i in items if i["kind"] == "inspector"]  # who led the visit
        assert named(items) == sorted(
            [
                ("school", changed),
                ("school", unchanged),
                ("activity", activity_id),
                ("case", case_id),
                ("inspector", leader["id"]),
            ]
        )
        assert feed(national, saved) == ([], saved)  # nothing new: the same cursor back

        with stack.registry.client(token()) as reg:
            enrolment = {"school_year": "2026-2027", "by_stage": {"primary": 912}}
            enrolled = reg.post(f"/v1/schools/{changed}/enrolment", json=enrolment)
            assert enrolled.status_code == 200, enrolled.text
        unit = token(role="unit", unit=changed, sub="changed-school")
        with stack.accountability.client(token()) as office, stack.accountability.client(unit) as reporter:
            path = f"/v1/cases/{case_id}"
            feedback = {"mode": "written", "decision": "限期整改", "requirements": "清理", "given_on": "2026-11-01"}
            assert office.post(f"{path}/feedback", json=feedback).status_code == 200
            assert reporter.post(f"{path}/items/{item_id}/report", json={"statement": "已清理"}).status_code == 200
            assert office.post(f"{path}/items/{item_id}/accept").status_code == 200

        def both_changed():  # the case read model may show the acceptance before the change feed has taken it in:
            found, cursor = feed(national, saved, limit=1)  # wait, as above, until reading on finds nothing
            case = next((i for i in found if i["kind"] == "case"), None)
            accepted = case and national.get(case["href"]).json()["items"][0]["status"] == "accepted"
            return len(found) == 2 and accepted and feed(national, cursor) == ([], cursor) and (found, cursor)

        found, later = eventually(both_changed, what="the school's and the case's changes")
        assert named(found) == sorted(
            [("school", changed), ("case", case_id)]
        )  # each once, though the case changed thrice
        school_now = national.get(next(i["href"] for i in found if i["kind"] == "school"))
        assert school_now.status_code == 200 and school_now.json()["enrolment"] == 912
        assert feed(national, later) == ([], later)


def test_a_rebuilt_change_feed_is_the_same_feed(settings, serve, stack, token, monkeypatch):
    reported(stack, token, "璧山区重建小学")
    with stack.registry.client(token()) as reg:
        school(reg, "璧山区另一小学")
    with stack.gateway.client(token(role="national", jur="000000")) as national:
        before = eventually(lambda: (f := feed(national, None))[0] and len(f[0]) == 5 and f, what="the whole feed")
    stack.registry.__exit__(None, None, None)

    monkeypatch.setattr(
        dudao.changes, "VERSION", dudao.changes.VERSION + 1
    )  # the registry's feed is dropped and rebuilt
    registry = serve(registry_app.build(settings))
    gateway = gateway_for(settings, serve, registry, stack.inspection, stack.accountability)
    with psycopg.connect(settings.database_url) as conn:
        rebuilt = "SELECT version FROM registry.projection_versions WHERE name = 'changes'"
        assert conn.execute(rebuilt).fetchone()[0] == dudao.changes.VERSION
    with gateway.client(token(role="national", jur="000000")) as national:
        assert eventually(lambda: feed(national, None) == before, what="the rebuilt feed to match")
        assert feed(national, before[1]) == ([], before[1])  # a cursor kept from before the rebuild still holds


def test_a_cursor_this_api_did_not_give_is_a_422_naming_since(stack, token):
    with stack.gateway.client(token(role="national", jur="000000")) as national:
        for garbage in ("garbage!", "eyJtb25pdG9yaW5nIjogMX0", "W10"):
            refused = national.get("/national/v1/changes", params={"since": garbage})
            assert refused.status_code == 422, refused.text
            assert (refused.json()["field"], refused.json()["rule"]) == ("since", "cursor_format")


def test_a_county_client_sees_only_its_countys_changes(settings, serve, token):
    from services.registry.app import build as build_registry

    chongqing = replace(settings, jurisdiction="500000")  # the instance that holds both districts
    stack = stack_of(chongqing, serve(build_registry(chongqing)), serve)
    with stack.registry.client(token(jur="500000")) as city:
        here, there = school(city, "璧山区本县小学", jur="500120"), school(city, "綦江区外县小学", jur="500110")
    with stack.accountability.client(token(jur="500000")) as office:
        elsewhere = propose_interview(office, there, "綦江区外县小学", jurisdiction="500110")
    with stack.gateway.client(token(role="national", jur="000000")) as nation:
        eventually(lambda: len(feed(nation, None)[0]) == 3, what="the feed of both counties")
    bishan_client, qijiang_client = token(role="national", jur="500120"), token(role="national", jur="500110")
    with stack.gateway.client(bishan_client) as bishan, stack.gateway.client(qijiang_client) as qijiang:
        assert named(feed(bishan, None)[0]) == [("school", here)]
        assert named(feed(qijiang, None)[0]) == sorted([("outcome", elsewhere), ("school", there)])
        outside = bishan.get("/national/v1/changes", params={"jurisdiction": "500110"})
        assert outside.status_code == 403 and outside.json()["rule"] == "out_of_scope"
        assert bishan.get(f"/national/v1/schools/{there}").status_code == 404
