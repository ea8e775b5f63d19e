"""Operational monitoring fed by the other services' events: routine-visit coverage, rectification, staffing,
interviews and circulars for a county, rolled up to the municipality above it."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from dataclasses import replace
from datetime import date

import asyncpg
import psycopg
import pytest

from dudao.consumer import InboundEvent
from dudao.events import Envelope
from services.accountability.app import build as build_accountability
from services.inspection.app import build as build_inspection
from services.monitoring.app import build as build_monitoring
from services.monitoring.projections import operations, operations_figures
from services.registry.app import build as build_registry
from tests.conftest import eventually
from tests.factories import active_inspector, activity, copied, in_copy, move_to, school, walk_to_issue

pytestmark = pytest.mark.integration

TODAY = date(2026, 10, 25)  # the monitoring service's day: coverage is for October 2026


def operations_at(client, code: str) -> dict:
    response = client.get("/v1/operations", params={"jurisdiction": code})
    assert response.status_code == 200, response.text
    return response.json()


def without_children(figures: dict) -> dict:
    return {k: v for k, v in figures.items() if k != "children"}


def test_a_county_shows_its_operations_and_the_municipality_rolls_it_up_with_the_county_among_its_children(
    settings, serve, token
):
    settings = replace(settings, jurisdiction="500000")  # Chongqing's instance: both districts are inside it
    registry, inspection = serve(build_registry(settings)), serve(build_inspection(settings))
    accountability, monitoring = serve(build_accountability(settings)), serve(build_monitoring(settings))
    move_to(date(2026, 10, 6), accountability)
    monitoring.app.state.clock.set_today(TODAY)
    office = token(jur="500000")  # Chongqing's office: Bishan (500120) and Qijiang (500110) are both below it

    # Given Bishan's four schools (a nine-year one, large, in a township) and two active inspectors, and Qijiang's school and inspector
    with registry.client(office) as reg:
        qinglan = school(reg, "璧山区青岚小学")
        songtao = school(reg, "璧山区松涛初级中学", stage="junior_secondary")
        school(reg, "璧山区小天鹅幼儿园", stage="kindergarten", enrolment=200)  # not compulsory: not in the coverage
        bicheng = school(reg, "璧城街道九年制学校", jur="500120001", stage="nine_year", enrolment=2400)
        gunan = school(reg, "綦江区古南小学", jur="500110", enrolment=500)
        inspector = active_inspector(reg, "甲", employment="full_time", roles=["government", "responsible"])
        own = active_inspector(reg, "乙", roles=["responsible"])
        active_inspector(reg, "丙", jur="500110")
        zone_id = reg.post("/v1/zones", json={"name": "璧城责任区", "jurisdiction": "500120"}).json()["id"]
        assert reg.put(f"/v1/schools/{bicheng}/zone", json={"zone_id": zone_id}).status_code == 200
        assert reg.put(f"/v1/schools/{bicheng}/responsible-inspector", json={"inspector_id": own}).status_code == 200
    eventually(lambda: copied(settings, "school_copy") == 5, what="the schools copied into inspection")
    eventually(lambda: in_copy(settings, "inspector_copy", inspector, "active"), what="甲 active in inspection's copy")

    # And routine visits in October to two compulsory schools (the junior school's was in September), and two reports issued
    with inspection.client(office) as insp:
        for school_id, day in ((qinglan, "2026-10-09"), (bicheng, "2026-10-12"), (songtao, "2026-09-20")):
            visit = {
                "school_id": school_id,
                "inspector_id": inspector,
                "visited_on": day,
                "items_checked": ["作业管理"],
            }
            assert insp.post("/v1/routine-visits", json=visit).status_code == 201
        for school_id, name in ((qinglan, "璧山区青岚小学"), (songtao, "璧山区松涛初级中学")):
            location = insp.post("/v1/activities", json=activity(target_id=school_id, target_name=name)).headers[
                "Location"
            ]
            walk_to_issue(
                insp,
                location,
                inspector,
                "消防通道堆放杂物",
                notified="2026-09-20",
                on_site="2026-09-25",
                issued="2026-09-28",
            )

    # When one school misses its deadline and gets a notice, the other rectifies on time, an interview is recorded
    # in Bishan and a circular proposed in Qijiang
    with psycopg.connect(settings.database_url) as conn:  # feedback takes its default deadline from the profile
        eventually(
            lambda: conn.execute("SELECT count(*) FROM accountability.profile_copy").fetchone()[0] >= 3, what="profiles"
        )
    with accountability.client(office) as acc:
        eventually(lambda: len(acc.get("/v1/cases").json()["items"]) == 2, what="both cases opened")
        [late], [prompt] = (acc.get("/v1/cases", params={"unit_id": s}).json()["items"] for s in (qinglan, songtao))
        for case, deadline in ((late, "2026-10-05"), (prompt, "2026-10-30")):
            given = acc.post(
                f"/v1/cases/{case['id']}/feedback",
                json={
                    "mode": "written",
                    "decision": "限期整改",
                    "requirements": "清理消防通道",
                    "given_on": "2026-10-01",
                    "deadlines": {case["items"][0]["item_id"]: deadline},
                },
            )
            assert given.status_code == 200, given.text
        eventually(lambda: acc.get("/v1/overdue-items").json(), what="the lapsed deadline in the read model")
        assert acc.post("/v1/ops/sweep-deadlines").json()["noticed"] == 1
        path = f"/v1/cases/{prompt['id']}/items/{prompt['items'][0]['item_id']}"
        assert acc.post(f"{path}/report", json={"statement": "已清理"}).status_code == 200
        assert acc.post(f"{path}/accept").status_code == 200
        unit = {"unit_kind": "school", "unit_id": qinglan, "unit_name": "璧山区青岚小学", "jurisdiction": "500120"}
        interview = acc.post(
            "/v1/interviews", json=unit | {"trigger": "duties_not_fulfilled", "reason": "整改逾期"}
        ).json()
        assert (
            acc.post(
                f"/v1/interviews/{interview['id']}/record",
                json={
                    "held_on": "2026-10-06",
                    "interviewees": [{"name": "周校长", "post": "校长"}],
                    "record": "约谈校长",
                    "commitments": "限期清理",
                },
            ).status_code
            == 200
        )
        unit = {"unit_kind": "school", "unit_id": gunan, "unit_name": "綦江区古南小学", "jurisdiction": "500110"}
        assert (
            acc.post("/v1/circulars", json=unit | {"trigger": "ineffective", "reason": "整改不力"}).status_code == 201
        )

    # Then Bishan's figures count all of it, with the township below it as its child
    with monitoring.client(office) as mon:
        county = eventually(
            lambda: (
                (r := operations_at(mon, "500120"))["rectification"]["notices_issued"] == 1
                and r["rectification"]["accepted"] == 1
                and r["interviews"]["recorded"] == 1
                and r["routine_visits"]["visited"] == 2
                and r["staffing"]["inspectors"] == 2
                and r["staffing"]["r1"]["large_schools_without_own_inspector"] == 0  # 乙's assignment has arrived too
                and r["staffing"]["profile_version"].endswith("500120@1")
                and r
            ),
            what="Bishan's figures",
        )
        city = eventually(
            lambda: (
                (r := operations_at(mon, "500000"))["circulars"]["total"] == 1
                and r["staffing"]["inspectors"] == 3
                and r
            ),
            what="Chongqing's figures",
        )
    assert (county["jurisdiction"], county["jurisdiction_name"], county["as_of"]) == ("500120", "璧山区", "2026-10-25")
    assert county["routine_visits"] == {"month": "2026-10", "schools": 3, "visited": 2, "coverage": 0.6667}
    assert county["rectification"] == {
        "items": 2,
        "accepted": 1,
        "accepted_on_time": 1,
        "judged": 2,
        "on_time_rate": 0.5,
        "overdue": 1,
        "notices_issued": 1,
    }
    assert county["interviews"] == {"proposed": 0, "recorded": 1, "filed": 0, "total": 1}
    assert county["circulars"] == {"proposed": 0, "issued": 0, "published": 0, "total": 0}
    # 3 ordinary schools need 1 inspector, the large one its own (乙): 2, and 2 are active, one of them full-time
    assert county["staffing"]["r1"]["required_inspectors"] == 2 and county["staffing"]["r1"]["met"] is True
    assert county["staffing"]["r2"]["full_time_share"] == 0.5
    [township] = county["children"]
    assert township["jurisdiction"] == "500120001" and township["routine_visits"]["coverage"] == 1.0
    assert township["staffing"]["r1"]["required_inspectors"] == 1 and township["staffing"]["r1"]["met"] is False
    assert township["rectification"]["items"] == 0 and township["rectification"]["on_time_rate"] is None

    # And Chongqing's figures add Qijiang's to Bishan's, each of them listed as a child with its own figures
    assert [c["jurisdiction"] for c in city["children"]] == ["500110", "500120"]
    qijiang, bishan = city["children"]
    assert bishan == without_children(county)
    assert qijiang["routine_visits"] == {"month": "2026-10", "schools": 1, "visited": 0, "coverage": 0.0}
    assert qijiang["circulars"]["proposed"] == 1 and qijiang["rectification"]["items"] == 0
    assert city["routine_visits"] == {"month": "2026-10", "schools": 4, "visited": 2, "coverage": 0.5}
    assert city["rectification"] == county["rectification"]
    assert (city["interviews"]["total"], city["circulars"]["total"]) == (1, 1)
    assert (city["staffing"]["schools"], city["staffing"]["inspectors"]) == (5, 3)

    # And staffing is what the registry itself says, judged by the same rule
    with registry.client(office) as reg:
        for code, figures in (("500120", county), ("500000", city)):
            own = eventually(
                lambda code=code, figures=figures: (
                    (r := reg.get("/v1/staffing-compliance", params={"jurisdiction": code}).json())["inspectors"]
                    == figures["staffing"]["inspectors"]
                    and r
                ),
                what=f"the registry's staffing figures at {code}",
            )
            assert {k: v for k, v in own.items() if k not in ("jurisdiction", "jurisdiction_name")} == figures[
                "staffing"
            ]

    # And the roll-up reads the schools' copy in four statements, however many places below it counts for (which have
    # data, coverage, and staffing under each set of thresholds: Bishan's profile's and Chongqing's); a province's
    # cities are summed from one count per jurisdiction, not counted one by one (issue 24)
    async def rolled_up() -> tuple[dict, list[str]]:
        conn = await asyncpg.connect(settings.database_url)
        statements: list[str] = []
        conn.add_query_logger(lambda record: statements.append(record.query))
        try:
            return await operations_figures.operations_rollup(conn, "500000", TODAY), statements
        finally:
            await conn.close()

    again, statements = asyncio.run(rolled_up())
    assert again == city
    assert sum("monitoring.school_copy" in statement for statement in statements) == 4, "\n".join(statements)


def test_operations_default_to_the_callers_jurisdiction_and_refuse_one_outside_it_or_malformed(settings, serve, token):
    monitoring = serve(build_monitoring(settings))
    with monitoring.client(token(jur="500110")) as qijiang:
        own = qijiang.get("/v1/operations")
        outside = qijiang.get("/v1/operations", params={"jurisdiction": "500120"})
        malformed = qijiang.get("/v1/operations", params={"jurisdiction": "5001x0"})
    with monitoring.client() as anonymous:
        unauthenticated = anonymous.get("/v1/operations")
    assert own.status_code == 200 and own.json()["jurisdiction"] == "500110" and own.json()["children"] == []
    assert own.json()["routine_visits"]["coverage"] is None  # no school, no rate
    assert outside.status_code == 403 and outside.json()["rule"] == "out_of_scope"
    assert malformed.status_code == 422 and malformed.json()["field"] == "jurisdiction"
    assert unauthenticated.status_code == 401


# --- the handlers, replayed --------------------------------------------------------------------------------------

_positions = itertools.count(1)


def event(kind: str, aggregate_id: uuid.UUID, version: int, **data) -> InboundEvent:
    """An event as it arrives from another service's stream (`kind` is "Aggregate.Event")."""
    return InboundEvent(
        type=kind,
        aggregate=kind.split(".")[0],
        aggregate_id=str(aggregate_id),
        version=version,
        origin="500120:test",
        notification_id=next(_positions),
        envelope_fields=Envelope.for_request(actor="test", jurisdiction="500120").as_dict(),
        data={"timestamp": "2026-11-20T02:00:00+00:00"} | data,  # every stored event's state has its time
    )


def history() -> list[tuple[str, InboundEvent]]:
    """Each source's events in version order, including events monitoring does not know."""
    ids = {
        name: uuid.uuid4() for name in ("profile", "school", "full_time", "part_time", "case", "interview", "circular")
    }
    registry = [
        event(
            "PolicyProfile.Created",
            ids["profile"],
            1,
            jurisdiction="000000",
            values={"inspector_school_ratio": 5, "large_school_enrolment": 800},
        ),
        event(
            "School.Registered",
            ids["school"],
            1,
            jurisdiction="500120",
            stage="primary",
            ownership="public",
            enrolment=300,
            name="青岚小学",
        ),
        event("School.EnrolmentRecorded", ids["school"], 2, school_year="2026-2027", by_stage={"primary": 900}),
        event(
            "School.EnrolmentRecorded", ids["school"], 3, school_year="2025-2026", by_stage={"primary": 100}
        ),  # an older year
        event(
            "School.PrincipalAppointed", ids["school"], 4, name="周校长", term_start="2026-09-01", term_end="2031-08-31"
        ),
        event(
            "Inspector.Registered",
            ids["full_time"],
            1,
            jurisdiction="500120",
            name="李督学",
            employment="full_time",
            roles=["government"],
        ),
        *(
            event(f"Inspector.{e}", ids["full_time"], v, on="2026-01-01", filed_with="500000")
            for v, e in enumerate(("Appointed", "Filed", "Activated", "Suspended"), 2)
        ),
        event(
            "Inspector.Registered",
            ids["part_time"],
            1,
            jurisdiction="500120",
            name="王督学",
            employment="part_time",
            roles=[],
        ),
        *(
            event(f"Inspector.{e}", ids["part_time"], v, on="2026-01-01", filed_with="500000")
            for v, e in enumerate(("Appointed", "Filed", "Activated"), 2)
        ),
        event("Zone.Created", uuid.uuid4(), 1, jurisdiction="500120", name="一区"),
    ]
    inspection = [
        event("RoutineVisit.Recorded", uuid.uuid4(), 1, school_id=str(ids["school"]), visited_on="2026-10-09"),
        event("WorkPlan.Drafted", uuid.uuid4(), 1, jurisdiction="500120"),
    ]
    case, f1, f2 = ids["case"], {"item_id": "f1"}, {"item_id": "f2"}
    accountability = [
        event(
            "RectificationCase.Opened",
            case,
            1,
            jurisdiction="500120",
            items=[{"item_id": f} for f in ("f1", "f2", "f3")],
        ),
        event(
            "RectificationCase.FeedbackGiven",
            case,
            2,
            deadlines={"f1": "2026-10-30", "f2": "2026-10-05", "f3": "2026-10-30"},
        ),
        event(
            "RectificationCase.NoticeIssued",
            case,
            3,
            **f2,
            lapse=1,
            missed_deadline="2026-10-05",
            new_deadline="2026-10-21",
        ),
        event("RectificationCase.ItemReported", case, 4, **f1),
        event("RectificationCase.ItemRejected", case, 5, **f1),
        event("RectificationCase.ItemReported", case, 6, **f1),
        event("RectificationCase.ItemAccepted", case, 7, **f1, accepted_on="2026-10-10"),
        event("RectificationCase.StatementPublished", case, 8, text="已整改"),
        event(
            "RectificationCase.ItemRechecked", case, 9, **f1, passed=False, new_deadline="2026-10-20"
        ),  # it came back
        event("RectificationCase.ItemReported", case, 10, **f2),
        event(
            "RectificationCase.ItemAccepted", case, 11, **f2, accepted_on="2026-10-22"
        ),  # after a notice: not on time
        event("RectificationCase.Escalated", case, 12, **f2, step="interview", measure_id=str(ids["interview"])),
        event("Interview.Proposed", ids["interview"], 1, unit={"jurisdiction": "500120"}),
        event("Interview.Recorded", ids["interview"], 2),
        event("Circular.Proposed", ids["circular"], 1, unit={"jurisdiction": "500120"}),
        event("Circular.Issued", ids["circular"], 2),
        event("Circular.Published", ids["circular"], 3),
        event("Commendation.Awarded", uuid.uuid4(), 1, unit={"jurisdiction": "500120"}),
    ]
    streams = {"registry": registry, "inspection": inspection, "accountability": accountability}
    return [(service, e) for service, events in streams.items() for e in events]


async def _figures_after(database_url: str, *deliveries: list[tuple[str, InboundEvent]]) -> list[dict]:
    """Apply each delivery's events with their source's handler; Bishan's figures after each."""
    handlers = {source.service: source.handler for source in operations.SOURCES}
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("CREATE SCHEMA IF NOT EXISTS monitoring")
        await conn.execute(operations.TABLES_SQL)
        figures = []
        for delivery in deliveries:
            for service, e in delivery:
                async with conn.transaction():
                    await handlers[service](conn, e)
            figures.append(await operations_figures.operations_rollup(conn, "500120", TODAY))
        return figures
    finally:
        await conn.close()


def test_replaying_the_streams_or_redelivering_any_event_changes_no_figure_and_unknown_events_are_ignored(settings):
    events = history()
    first, replayed, redelivered = asyncio.run(_figures_after(settings.database_url, events, events, events[::-1]))
    assert first == replayed == redelivered  # a stale event arriving after later ones is ignored too
    assert first["routine_visits"] == {"month": "2026-10", "schools": 1, "visited": 1, "coverage": 1.0}
    # f1 rebounded: no longer accepted, still accepted on time, and past its new deadline; f2 was accepted after a
    # notice, so late; f3 is inside its deadline and not judged yet
    assert first["rectification"] == {
        "items": 3,
        "accepted": 1,
        "accepted_on_time": 1,
        "judged": 2,
        "on_time_rate": 0.5,
        "overdue": 1,
        "notices_issued": 1,
    }
    # The 2026-2027 enrolment (900) stands although an older year came later: a large school; the suspended inspector is not active
    assert first["staffing"]["r1"] == {
        "schools_per_inspector": 5,
        "large_school_enrolment": 800,
        "large_schools": 1,
        "required_inspectors": 1,
        "met": False,
        "large_schools_without_own_inspector": 1,
    }  # (one inspector is enough in number, but the large school has none of its own)
    assert (first["staffing"]["inspectors"], first["staffing"]["r2"]["full_time_inspectors"]) == (1, 0)
    assert first["interviews"]["recorded"] == 1 and first["circulars"]["published"] == 1
    assert first["interviews"]["total"] == first["circulars"]["total"] == 1
