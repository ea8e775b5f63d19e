"""Inspection against real PostgreSQL and NATS: lifecycle, frequency control, draws, recusal, the term-end reaction."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import nats
import psycopg
import pytest

from dudao import bus
from dudao.consumer import durable_name
from services.inspection.app import build as build_inspection
from tests.conftest import eventually, stored_events
from tests.factories import (
    DRAW,
    active_inspector,
    activity,
    copied,
    copied_inspector,
    inspection_events,
    issued,
    ready,
    school,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def inspection(settings, serve, registry):
    """The inspection service next to a running registry (whose events it copies and reacts to)."""
    return serve(build_inspection(settings))


# --- lifecycle and frequency --------------------------------------------------------------------------


def test_a_routine_visit_goes_from_plan_to_publication_and_a_skipped_step_is_409(inspection, registry, token, settings):
    school_id, inspector_id = ready(registry, token, settings)
    with inspection.client(token()) as client:
        location = client.post("/v1/activities", json=activity(target_id=school_id)).headers["Location"]
        early = client.post(f"{location}/publication", json={"public_summary": "x"})
        steps = [
            ("team", {"leader_id": inspector_id}),
            ("notice", {"notified_on": "2026-10-08"}),
            ("on-site", {"on": "2026-10-10"}),
            (
                "findings",
                {
                    "findings": [
                        {
                            "area": "double_reduction",
                            "severity": "serious",
                            "description": "作业总量超标",
                            "needs_rectification": True,
                        }
                    ]
                },
            ),
            ("report/draft", {"summary": "总体良好，作业管理需整改"}),
            ("report/approval", None),
            ("report/issue", {"issued_on": "2026-10-20"}),
            ("publication", {"public_summary": "青岚小学经常性督导结果"}),
        ]
        for path, body in steps:
            response = client.post(f"{location}/{path}", json=body)
            assert response.status_code == 200, (path, response.text)
        read = eventually(
            lambda: (r := client.get(location).json()).get("status") == "published" and r, what="published"
        )
    assert early.status_code == 409 and early.json()["rule"] == "activity_lifecycle"
    assert read["findings"][0]["area"] == "double_reduction" and read["member_ids"] == [inspector_id]
    assert (read["jurisdiction"], read["jurisdiction_name"]) == ("500120", "璧山区")  # issue 21: a code shows its name


def test_a_school_visited_to_the_profiles_limit_is_refused_unless_an_admin_overrides(
    inspection, registry, token, settings
):
    eventually(lambda: copied(settings, "profile_copy") >= 3, what="the policy profiles copied")
    school_id, _ = ready(registry, token, settings)
    visit = activity(kind="comprehensive", target_id=school_id)
    with inspection.client(token()) as client:
        for month in ("2026-09", "2026-10"):
            assert client.post("/v1/activities", json=visit | {"planned_month": month}).status_code == 201
        eventually(
            lambda: len(client.get("/v1/activities", params={"school_id": school_id}).json()["items"]) == 2,
            what="two visits",
        )
        refused = client.post("/v1/activities", json=visit | {"planned_month": "2026-11"})
        overridden = client.post(
            "/v1/activities",
            json=visit | {"planned_month": "2026-11", "frequency_override": "上级交办，区教委主任批准"},
        )
        next_term = client.post("/v1/activities", json=visit | {"period": "2027-spring", "planned_month": "2027-03"})
    assert refused.status_code == 409 and refused.json()["rule"] == "visit_frequency_limit"
    assert refused.json()["limit"] == 2 and refused.json()["profile_version"].startswith("000000@")
    assert overridden.status_code == 201 and next_term.status_code == 201


def test_ten_plannings_at_once_for_one_school_let_exactly_the_limit_through(inspection, registry, token, settings):
    """Frequency control counts in one transaction with the activity: plannings that arrive together still hold to 2."""
    eventually(lambda: copied(settings, "profile_copy") >= 3, what="the policy profiles copied")
    school_id, _ = ready(registry, token, settings)
    visit = activity(kind="comprehensive", target_id=school_id, planned_month="2026-11")

    def plan(i: int) -> int:
        with inspection.client(token()) as client:
            return client.post("/v1/activities", json=visit | {"title": f"综合督导 {i}"}).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        codes = sorted(pool.map(plan, range(10)))
    assert codes == [201] * 2 + [409] * 8, codes
    assert inspection_events(settings, "Activity.Planned") == 2  # every answer is in: the store holds what was accepted


# --- draws and recusal ------------------------------------------------------------------------------------


@pytest.fixture
def population(registry, token, settings):
    """Ten primary schools and one junior school; four active inspectors, one tied to the junior school."""
    with registry.client(token()) as reg:
        primaries = [school(reg, f"小学{i}") for i in range(10)]
        junior = school(reg, "璧山区松涛初级中学", stage="junior_secondary")
        inspectors = [active_inspector(reg, name) for name in ("甲", "乙", "丙")]
        tied = active_inspector(reg, "丁")
        reg.post(f"/v1/inspectors/{tied}/ties", json={"unit_id": junior, "kind": "former_employer"})
    return {"primaries": primaries, "junior": junior, "inspectors": inspectors, "tied": tied}


def wait_for_copy(settings) -> None:
    """Until inspection's copy of the registry holds the population (its consumer runs in the inspection service)."""
    eventually(
        lambda: (
            copied(settings, "school_copy") == 11
            and copied(settings, "tie_copy") == 1
            and copied(settings, "inspector_copy") == 4
        ),
        what="the registry copied into inspection",
    )
    with psycopg.connect(settings.database_url) as conn:
        eventually(
            lambda: (
                conn.execute("SELECT count(*) FROM inspection.inspector_copy WHERE status = 'active'").fetchone()[0]
                == 4
            ),
            what="all four inspectors active in the copy",
        )


def test_a_draw_publishes_its_hash_first_reveals_the_seed_after_and_verifies_after_a_restart(
    settings, registry, serve, token, population
):
    first = serve(build_inspection(settings))
    wait_for_copy(settings)
    with first.client(token()) as client:
        announced = client.post("/v1/draws", json=DRAW)
        assert announced.status_code == 201, announced.text
        location = announced.headers["Location"]
        performed = client.post(f"{location}/performance")
        again = client.post(f"{location}/performance")
    body = announced.json()
    assert body["seed"] is None and body["targets"] is None and len(body["seed_hash"]) == 64
    assert len(body["candidates"]["targets"]) == 10 and len(body["candidates"]["pool"]) == 4
    result = performed.json()
    assert hashlib.sha256(result["seed"].encode()).hexdigest() == body["seed_hash"]
    assert len(result["targets"]) == 3 and all(len(result["teams"][t]) == 2 for t in result["targets"])
    assert again.status_code == 409 and again.json()["rule"] == "draw_already_performed"
    first.__exit__(None, None, None)

    restarted = serve(build_inspection(settings))
    with restarted.client() as anonymous:  # verification is public
        verification = anonymous.get(f"{location}/verify").json()
        public = anonymous.get(location).json()
    assert verification["ok"] and verification["seed_matches_hash"] and verification["result_matches"]
    assert (public["targets"], public["teams"]) == (result["targets"], result["teams"])


def test_recusal_keeps_a_tied_inspector_off_a_drawn_team_and_a_manual_one(inspection, token, population, settings):
    wait_for_copy(settings)
    junior_only = DRAW | {"targets": {"stages": ["junior_secondary"], "count": 1}, "team": {"size": 3, "max_load": 5}}
    too_many = junior_only | {"team": {"size": 4, "max_load": 5}}
    with inspection.client(token()) as client:
        teams = []
        for _ in range(5):  # five independent seeds: the tied inspector is never drawn for the junior school
            location = client.post("/v1/draws", json=junior_only).headers["Location"]
            teams.append(client.post(f"{location}/performance").json()["teams"][population["junior"]])
        refused_location = client.post("/v1/draws", json=too_many).headers["Location"]
        refused = client.post(f"{refused_location}/performance")
        planned = client.post(
            "/v1/activities",
            json=activity(kind="comprehensive", target_id=population["junior"], target_name="璧山区松涛初级中学"),
        ).headers["Location"]
        manual = client.post(
            f"{planned}/team", json={"leader_id": population["inspectors"][0], "member_ids": [population["tied"]]}
        )
        allowed = client.post(
            f"{planned}/team",
            json={"leader_id": population["inspectors"][0], "member_ids": [population["inspectors"][1]]},
        )
    assert all(population["tied"] not in team and len(team) == 3 for team in teams)
    assert refused.status_code == 409 and refused.json()["rule"] == "not_enough_eligible_inspectors"
    assert manual.status_code == 409 and manual.json()["rule"] == "recusal"
    assert allowed.status_code == 200


def test_a_drawn_team_binds_its_activity_and_another_team_needs_a_reason_the_draw_shows(
    inspection, token, population, settings
):
    wait_for_copy(settings)
    with inspection.client(token()) as client:
        draw = client.post(f"{client.post('/v1/draws', json=DRAW).headers['Location']}/performance").json()
        target = draw["targets"][0]
        drawn = draw["teams"][target]
        other = next(i for i in population["inspectors"] if i not in drawn)
        planned = client.post(
            "/v1/activities",
            json=activity(kind="comprehensive", target_id=target, target_name="小学", draw_id=draw["id"]),
        ).headers["Location"]
        undrawn = client.post(
            "/v1/activities",
            json=activity(
                kind="comprehensive",
                target_id=population["junior"],
                target_name="璧山区松涛初级中学",
                draw_id=draw["id"],
            ),
        )
        by_hand = client.post(f"{planned}/team", json={"leader_id": drawn[0], "member_ids": [other]})
        unchanged = eventually(
            lambda: (r := client.get(planned)).status_code == 200 and r, what="the activity in the read model"
        )
        as_drawn = client.post(f"{planned}/team", json={"leader_id": drawn[1], "member_ids": [drawn[0]]})
        clean = client.get(f"/v1/draws/{draw['id']}/verify").json()
        reasoned = client.post(
            f"{planned}/team",
            json={
                "leader_id": drawn[0],
                "member_ids": [other],
                "deviation_reason": "原抽中督学因病住院，联系人13912340000",
            },
        )
    with inspection.client() as anonymous:
        verification = anonymous.get(f"/v1/draws/{draw['id']}/verify").json()
    assert undrawn.status_code == 422 and undrawn.json()["rule"] == "not_drawn"
    assert (
        by_hand.status_code == 409
        and by_hand.json()["rule"] == "drawn_team_binds"
        and by_hand.json()["field"] == "deviation_reason"
    )
    assert unchanged.json()["status"] == "planned"
    assert as_drawn.status_code == 200 and clean["deviations"] == [] and clean["ok"]
    assert reasoned.status_code == 200, reasoned.text
    [deviation] = verification["deviations"]
    assert deviation["drawn"] == drawn and set(deviation["assigned"]) == {drawn[0], other}
    assert deviation["reason"].startswith("原抽中督学因病住院") and "13912340000" not in deviation["reason"]
    assert verification["ok"] and "assigned other than drawn" in verification["detail"]


# --- the principal's term ends --------------------------------------------------------------------------------


async def _redeliver_registry_events(url: str, subject_suffix: str) -> None:
    """Publish copies of a registry event under new message ids (as a sourcing link would), and replay the reaction."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    stream = bus.stream_name("registry")
    last = await js.get_last_msg(stream, f"dudao.500120.registry.{subject_suffix}.>")
    headers = {k: v for k, v in last.headers.items() if not k.startswith("Nats-Expected")}
    for n in range(2):
        await js.publish(last.subject, last.data, headers=headers | {bus.HEADER_MSG_ID: f"copy-{n}-{last.seq}"})
    await js.delete_consumer(
        stream, durable_name("inspection-principal-term-end", "500120")
    )  # the next start reads the stream from the start
    await nc.close()


def test_a_principals_term_end_plans_one_term_end_supervision_even_under_redelivery(settings, registry, serve, token):
    first = serve(build_inspection(settings))
    with first.client(token()) as client:
        client.put("/v1/plans/500120/2026", json={"title": "璧山区2026年教育督导工作计划"})
        client.post(
            "/v1/plans/500120/2026/items",
            json={"kind": "comprehensive", "title": "综合督导", "month": 5, "population": "全区"},
        )
        client.post("/v1/plans/500120/2026/approval", json={"approved_on": "2026-01-10"})
    with registry.client(token()) as reg:
        school_id = school(reg, "璧山区翠屏小学")
        reg.post(
            f"/v1/schools/{school_id}/principal",
            json={"name": "周校长", "term_start": "2021-09-01", "term_end": "2026-08-31"},
        )
        reg.post(f"/v1/schools/{school_id}/principal/term-end", json={"ended_on": "2026-08-31", "reason": "任期届满"})
    with first.client(token()) as client:
        planned = eventually(
            lambda: (r := client.get("/v1/activities", params={"school_id": school_id}).json()["items"]) and r,
            what="the term-end supervision planned",
        )
    assert [(a["kind"], a["source"], a["planned_month"], a["period"]) for a in planned] == [
        ("principal_term_end", "principal_term_end", "2026-09", "2026-fall")
    ]
    with first.client(token()) as client:
        plan = eventually(
            lambda: len((r := client.get("/v1/plans/500120/2026").json())["items"]) == 2 and r, what="the plan item"
        )
    assert plan["status"] == "approved" and plan["items"][1]["source"] == "principal_term_end"
    first.__exit__(None, None, None)

    asyncio.run(_redeliver_registry_events(settings.nats_url, "School.PrincipalTermEnded"))
    second = serve(build_inspection(settings))

    async def reaction_idle() -> bool:
        nc = await nats.connect(settings.nats_url)
        try:
            info = await nc.jetstream().consumer_info(
                bus.stream_name("registry"), durable_name("inspection-principal-term-end", "500120")
            )
            return info.delivered.stream_seq > 0 and info.num_pending == 0 and info.num_ack_pending == 0
        except Exception:
            return False
        finally:
            await nc.close()

    eventually(lambda: asyncio.run(reaction_idle()), what="the reaction to see every copy")
    with second.client(token()) as client:
        assert len(client.get("/v1/activities", params={"school_id": school_id}).json()["items"]) == 1
    assert inspection_events(settings, "Activity.Planned") == 1
    assert inspection_events(settings, "WorkPlan.ItemAddedAutomatically") == 1
    assert stored_events(settings, "School") >= 1


# --- routine supervision ------------------------------------------------------------------------------------


def test_routine_coverage_on_a_hand_built_month(inspection, registry, token, settings):
    """Zone A: three compulsory schools (two visited in October) and a kindergarten; zone B: two schools, none visited."""
    with registry.client(token()) as reg:
        zone_a = reg.post("/v1/zones", json={"name": "甲责任区", "jurisdiction": "500120"}).json()["id"]
        zone_b = reg.post("/v1/zones", json={"name": "乙责任区", "jurisdiction": "500120"}).json()["id"]
        inspector_a = active_inspector(reg, "甲督学", roles=["responsible"])
        inspector_b = active_inspector(reg, "乙督学", roles=["responsible"])
        placed = {}
        for name, zone, inspector, stage in (
            ("甲一小学", zone_a, inspector_a, "primary"),
            ("甲二初中", zone_a, inspector_a, "junior_secondary"),
            ("甲三九年制", zone_a, inspector_a, "nine_year"),
            ("甲幼儿园", zone_a, inspector_a, "kindergarten"),
            ("乙一小学", zone_b, inspector_b, "primary"),
            ("乙二小学", zone_b, inspector_b, "primary"),
        ):
            placed[name] = school(reg, name, stage=stage)
            reg.put(f"/v1/schools/{placed[name]}/zone", json={"zone_id": zone})
            reg.put(f"/v1/schools/{placed[name]}/responsible-inspector", json={"inspector_id": inspector})
    with psycopg.connect(settings.database_url) as conn:
        eventually(
            lambda: (
                conn.execute(
                    "SELECT count(*) FROM inspection.school_copy WHERE responsible_inspector_id IS NOT NULL"
                ).fetchone()[0]
                == 6
                and conn.execute("SELECT count(*) FROM inspection.zone_copy").fetchone()[0] == 2
            ),
            what="schools, zones and inspectors copied",
        )
    visit = {
        "items_checked": ["作业管理", "课后服务"],
        "problems": [{"description": "作业公示不全", "needs_rectification": True}],
    }
    with inspection.client(token(role="inspector", sub=inspector_a)) as own:
        for name, day in (("甲一小学", "2026-10-09"), ("甲二初中", "2026-10-15")):
            made = own.post(
                "/v1/routine-visits",
                json=visit | {"school_id": placed[name], "inspector_id": inspector_a, "visited_on": day},
            )
            assert made.status_code == 201, made.text
        not_mine = own.post(
            "/v1/routine-visits",
            json=visit | {"school_id": placed["乙一小学"], "inspector_id": inspector_a, "visited_on": "2026-10-09"},
        )
    with inspection.client(token()) as office:
        office.post(
            "/v1/routine-visits",
            json=visit | {"school_id": placed["乙一小学"], "inspector_id": inspector_b, "visited_on": "2026-09-20"},
        )
        result = eventually(
            lambda: (r := office.get("/v1/routine-coverage", params={"month": "2026-10"}).json())["visited"] == 2 and r,
            what="the October visits counted",
        )
        totals = office.post(  # asked without zones, as a start page asks: counted in SQL, the same figures
            "/graphql", json={"query": '{ routineCoverage(month: "2026-10") { schools visited coverage } }'}
        ).json()
    assert not_mine.status_code == 403 and not_mine.json()["rule"] == "not_on_team"
    assert totals["data"]["routineCoverage"] == {"schools": 5, "visited": 2, "coverage": 0.4}, totals
    assert (result["schools"], result["visited"], result["coverage"]) == (5, 2, 0.4)
    by_zone = {z["zone_name"]: z for z in result["zones"]}
    assert [s["name"] for s in by_zone["甲责任区"]["not_visited"]] == ["甲三九年制"]  # the kindergarten is not counted
    assert sorted(s["name"] for s in by_zone["乙责任区"]["not_visited"]) == [
        "乙一小学",
        "乙二小学",
    ]  # September does not count


# --- plans and self-evaluation --------------------------------------------------------------------------------


def test_a_work_plan_is_drafted_filled_approved_for_the_level_above_and_then_frozen(inspection, token):
    with inspection.client(token()) as client:
        assert client.put("/v1/plans/500120/2027", json={"title": "璧山区2027年教育督导工作计划"}).status_code == 201
        added = client.post(
            "/v1/plans/500120/2027/items",
            json={
                "kind": "special",
                "topic": "double_reduction",
                "title": "“双减”专项督导",
                "month": 3,
                "population": "全区义务教育学校",
            },
        )
        empty_month = client.post(
            "/v1/plans/500120/2027/items", json={"kind": "comprehensive", "title": "x", "month": 13, "population": "p"}
        )
        approved = client.post("/v1/plans/500120/2027/approval", json={"approved_on": "2027-01-10"})
        frozen = client.post(
            "/v1/plans/500120/2027/items",
            json={"kind": "comprehensive", "title": "综合督导", "month": 5, "population": "全区"},
        )
        revised = client.post("/v1/plans/500120/2027/revision", json={"reason": "市级部署调整"})
        read = eventually(
            lambda: (r := client.get("/v1/plans/500120/2027").json()).get("status") == "revised" and r, what="the plan"
        )
    assert added.status_code == 200 and empty_month.status_code == 422
    assert approved.json()["report_to"] == "500000" and approved.json()["status"] == "approved"
    assert frozen.status_code == 409 and frozen.json()["rule"] == "plan_lifecycle"
    assert revised.status_code == 200 and len(read["items"]) == 1


PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def test_a_unit_submits_its_self_evaluation_with_evidence_in_the_blob_store(inspection, registry, token, settings):
    school_id, leader = ready(registry, token, settings)
    with inspection.client(token()) as office:
        location = office.post("/v1/activities", json=activity(kind="comprehensive", target_id=school_id)).headers[
            "Location"
        ]
        assert office.post(f"{location}/team", json={"leader_id": leader}).status_code == 200
        assert office.post(f"{location}/notice", json={"notified_on": "2026-10-01"}).status_code == 200
    evidence = {
        "name": "自评报告.pdf",
        "media_type": "application/pdf",
        "content_base64": base64.b64encode(PDF).decode(),
    }
    items = [{"item": "依法治校", "score": 92, "comment": "制度健全"}]
    with inspection.client(token(role="unit", unit=school_id)) as unit:
        wrong_type = unit.post(
            f"{location}/self-evaluation",
            json={"items": items, "evidence": [evidence | {"name": "a.exe", "media_type": "application/x-msdownload"}]},
        )
        too_big = unit.post(
            f"{location}/self-evaluation",
            json={
                "items": items,
                "evidence": [
                    evidence | {"content_base64": base64.b64encode(PDF + b"0" * settings.blob_max_bytes).decode()}
                ],
            },
        )
        not_ascii = unit.post(
            f"{location}/self-evaluation",
            json={"items": items, "evidence": [evidence | {"content_base64": "JVBER自评"}]},
        )
        submitted = unit.post(f"{location}/self-evaluation", json={"items": items, "evidence": [evidence]})
    with inspection.client(token(role="unit", unit="s-other")) as other:
        refused = other.post(f"{location}/self-evaluation", json={"items": items})
    assert wrong_type.status_code == 422 and wrong_type.json()["rule"] == "file_type_not_allowed"
    assert too_big.status_code == 422 and too_big.json()["rule"] == "file_too_large"
    assert not_ascii.status_code == 422 and not_ascii.json()["field"] == "evidence.0.content_base64"  # was a 500
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["status"] == "self_evaluation_submitted"
    assert refused.status_code == 403
    digest = hashlib.sha256(PDF).hexdigest()
    assert inspection.app.state.application.blobs.get(digest) == PDF
    with psycopg.connect(settings.database_url) as conn:
        [state] = conn.execute(
            "SELECT convert_from(state, 'UTF8') FROM inspection.inspection_events WHERE topic LIKE '%SelfEvaluationSubmitted'"
        ).fetchone()
    assert digest in state and "JVBER" not in state  # the event records the digest, never the bytes


def test_the_office_and_the_team_read_the_self_evaluation_and_open_its_evidence_under_record(
    inspection, registry, token, settings
):
    """Issue 19: the self-evaluation and its files appeared nowhere but in the admin audit's hashes."""
    school_id, leader = ready(registry, token, settings)
    with registry.client(token()) as reg:
        outsider = copied_inspector(reg, settings, "赵外组")
    with inspection.client(token()) as office:
        location = office.post("/v1/activities", json=activity(kind="comprehensive", target_id=school_id)).headers[
            "Location"
        ]
        assert office.post(f"{location}/team", json={"leader_id": leader}).status_code == 200
        assert office.post(f"{location}/notice", json={"notified_on": "2026-10-01"}).status_code == 200
        before = office.get(f"{location}/self-evaluation")
    evidence = {
        "name": "自评报告.pdf",
        "media_type": "application/pdf",
        "content_base64": base64.b64encode(PDF).decode(),
    }
    with inspection.client(token(role="unit", unit=school_id)) as unit:
        assert (
            unit.post(
                f"{location}/self-evaluation",
                json={"items": [{"item": "依法治校", "score": 92}], "evidence": [evidence]},
            ).status_code
            == 200
        )
        own = unit.get(f"{location}/self-evaluation")
    readers = {
        "office": token(),
        "team": token(role="inspector", sub=leader),
        "outsider": token(role="inspector", sub=outsider),
        "other_unit": token(role="unit", unit="s-other"),
        "other_county": token(jur="500118"),
    }
    answers = {}
    for who, bearer in readers.items():
        with inspection.client(bearer) as client:
            read = client.get(f"{location}/self-evaluation")
            href = (
                read.json()["evidence"][0]["href"]
                if read.status_code == 200
                else f"{location.removeprefix(inspection.url)}/evidence/{hashlib.sha256(PDF).hexdigest()}"
            )
            answers[who] = (read, client.get(href))
    assert before.status_code == 404 and before.json()["rule"] == "no_self_evaluation"
    assert own.status_code == 200 and own.json()["items"][0]["score"] == 92
    for who in ("office", "team"):
        read, file = answers[who]
        assert read.status_code == 200 and read.json()["evidence"][0]["name"] == "自评报告.pdf", (who, read.text)
        assert file.status_code == 200 and file.content == PDF and file.headers["content-type"] == "application/pdf"
    for who in ("outsider", "other_unit", "other_county"):
        assert [a.status_code for a in answers[who]] == [403, 403], (who, answers[who][0].text)
    with psycopg.connect(settings.database_url) as conn:
        opened = conn.execute(
            "SELECT convert_from(state, 'UTF8') FROM inspection.inspection_events WHERE topic LIKE '%EvidenceLog.Opened' ORDER BY notification_id"
        ).fetchall()
    assert len(opened) == 2 and leader in opened[1][0]  # the office's download, then the team leader's


# --- publication and member units ----------------------------------------------------------------------------


def test_a_published_report_is_public_without_personal_data(inspection, registry, token, settings):
    _, location = issued(
        inspection, registry, token, settings, "璧山区翠屏小学", "家长王小明（电话13800138000）反映教师陈静体罚学生"
    )
    with inspection.client(token()) as client:
        client.post(
            f"{location}/publication", json={"public_summary": "举报人张伟所反映问题属实，已责令整改。联系人李四"}
        )
    with inspection.client() as anonymous:
        reports = eventually(
            lambda: (r := anonymous.get("/v1/public/reports", params={"jurisdiction": "500120"}).json())["items"] and r,
            what="the public report",
        )
    [report] = reports["items"]
    text = report["summary"] + report["findings"][0]["description"]
    assert (report["findings"][0]["area_label_zh"], report["findings"][0]["severity_label_zh"]) == ("师德师风", "严重")
    assert report["kind_label_zh"] and report["grade_label_zh"] is None  # a routine visit has no grade
    with inspection.client() as anonymous:  # GraphQL speaks the same words
        graph = anonymous.post(
            "/graphql",
            json={
                "query": '{ publicReports(jurisdiction: "500120") { kindLabelZh gradeLabelZh'
                " findings { areaLabelZh severityLabelZh description } } }"
            },
        ).json()
    [public] = graph["data"]["publicReports"]
    assert public["kindLabelZh"] == report["kind_label_zh"] and public["findings"][0]["areaLabelZh"] == "师德师风"
    for personal in ("王小明", "13800138000", "陈静", "张伟", "李四"):
        assert personal not in text
    assert report["findings"][0]["description"] == "家长王某（电话[电话已隐去]）反映教师陈某体罚学生"
    assert report["target_name"] == "璧山区翠屏小学" and report["kind_label_zh"]


def test_member_units_that_join_an_activity_count_in_the_registry(settings, serve, token):
    """Dongchuan's profile asks each member unit to join at least one activity a year (001 §3)."""
    from services.registry.app import build as build_registry
    from tests.factories import COMMITTEE

    dongchuan = replace(settings, jurisdiction="530113")  # Dongchuan's own instance
    registry, inspection = serve(build_registry(dongchuan)), serve(build_inspection(dongchuan))
    units = [{"name": "区财政局", "contact_person": "李四"}, {"name": "区公安局", "contact_person": "王五"}]
    with registry.client(token(jur="530113")) as reg:
        reg.put("/v1/committees/530113", json=COMMITTEE | {"member_units": units})
        eventually(lambda: reg.get("/v1/committees/530113").status_code == 200, what="the committee")
    school_id, _ = ready(registry, token, settings, "东川区铜都小学", "530113")
    with inspection.client(token(jur="530113")) as client:
        location = client.post("/v1/activities", json=activity(jurisdiction="530113", target_id=school_id)).headers[
            "Location"
        ]
        joined = client.post(f"{location}/member-units", json={"unit_names": ["区财政局", "区气象局"], "year": 2026})
    with registry.client(token(jur="530113")) as reg:
        eventually(
            lambda: reg.get("/v1/committees/530113").json().get("version") == 2, what="the participation counted"
        )
        inactive = reg.get("/v1/committees/inactive-member-units", params={"year": 2026}).json()
    assert joined.status_code == 200
    assert [(u["unit_name"], u["activities"]) for u in inactive] == [
        ("区公安局", 0)
    ]  # 区财政局 took part; 区气象局 is no member


def test_a_duty_evaluation_is_graded_by_the_profiles_bands(inspection, registry, token, settings):
    eventually(lambda: copied(settings, "profile_copy") >= 3, what="the policy profiles copied")
    with registry.client(token()) as reg:
        leader = copied_inspector(reg, settings, "李明远")
    duty = activity(kind="duty_evaluation", target_kind="department", target_id="区教委", target_name="璧山区教委")
    with inspection.client(token()) as office:
        location = office.post("/v1/activities", json=duty).headers["Location"]
        for path, body in (("team", {"leader_id": leader}), ("notice", {"notified_on": "2026-10-01"})):
            assert office.post(f"{location}/{path}", json=body).status_code == 200
    with inspection.client(token(role="unit", unit="区教委")) as unit:
        assert (
            unit.post(f"{location}/self-evaluation", json={"items": [{"item": "教育投入", "score": 88}]}).status_code
            == 200
        )
    with inspection.client(token()) as office:
        office.post(f"{location}/on-site", json={"on": "2026-10-12"})
        office.post(
            f"{location}/findings",
            json={
                "findings": [
                    {
                        "area": "duty_fulfilment",
                        "severity": "minor",
                        "description": "教师培训经费未足额安排",
                        "needs_rectification": True,
                    }
                ]
            },
        )
        drafted = office.post(f"{location}/report/draft", json={"summary": "履职总体良好", "score": 85.5})
    assert drafted.status_code == 200, drafted.text
    with psycopg.connect(settings.database_url) as conn:
        [state] = conn.execute(
            "SELECT convert_from(state, 'UTF8') FROM inspection.inspection_events WHERE topic LIKE '%ReportDrafted'"
        ).fetchone()
    assert '"grade":"good"' in state.replace(" ", "") and '"grade_basis":"000000@1/500000@1/500120@1"' in state.replace(
        " ", ""
    )
