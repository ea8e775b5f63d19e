"""The accountability chain over real services: durable deadlines with two instances and restarts, and one
report followed end to end — feedback, missed deadlines, notices, interview, circular, accountability, and
the school's licence revoked in the registry."""

from __future__ import annotations

import base64
import dataclasses
import json
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from dudao.clock import china_date
from services.accountability.app import build as build_accountability
from services.accountability.domain.terms import AccountabilityTrigger
from tests.conftest import eventually
from tests.factories import move_to, open_case

pytestmark = pytest.mark.integration

BODIES = ["party_committee", "government", "superior"]


def events(settings, kind: str) -> int:
    with psycopg.connect(settings.database_url) as conn:
        return conn.execute(
            "SELECT count(*) FROM accountability.accountability_events WHERE topic LIKE %s", (f"%{kind}",)
        ).fetchone()[0]


def item_state(client, case_id: str) -> dict:
    return client.get(f"/v1/cases/{case_id}").json()["items"][0]


def test_a_lapsed_deadline_gets_one_notice_with_two_sweepers_and_after_a_restart_then_climbs_the_ladder(
    settings, registry, serve, token
):
    fast = dataclasses.replace(settings, sweep_seconds=0.2)
    first, second = serve(build_accountability(fast)), serve(build_accountability(fast))
    case = open_case(settings, serve, token, registry, first, target_name="璧山区东林小学")
    with first.client(token()) as client:
        given = client.post(
            f"/v1/cases/{case['id']}/feedback",
            json={
                "mode": "written",
                "decision": "限期整改",
                "requirements": "清理消防通道",
                "given_on": "2026-11-01",
                "deadlines": {case["items"][0]["item_id"]: "2026-11-20"},
            },
        )
        assert given.status_code == 200, given.text

        move_to(date(2026, 11, 20), first, second)  # the deadline day itself is not late
        assert client.post("/v1/ops/sweep-deadlines").json()["overdue"] == 0
        move_to(date(2026, 11, 21), first, second)  # both sweepers now see the lapse, every 0.2 s
        eventually(lambda: events(settings, "NoticeIssued") == 1, what="the first notice")
        eventually(lambda: client.get("/v1/overdue-items").json() == [], what="the read model to see the new deadline")
        for _ in range(3):  # more sweeps from both instances change nothing
            client.post("/v1/ops/sweep-deadlines")
        assert events(settings, "NoticeIssued") == 1
        item = item_state(client, case["id"])
        assert (item["lapses"], item["deadline"]) == (1, "2026-12-06")  # 15 days, the national notice period
        [notice] = client.get("/v1/notices").json()["items"]
        assert (notice["missed_deadline"], notice["new_deadline"], notice["lapse"]) == ("2026-11-20", "2026-12-06", 1)
        assert notice["basis"].startswith("000000@")

    second.__exit__(None, None, None)
    third = serve(build_accountability(fast))  # a restart: nothing remembered but the events
    move_to(date(2026, 11, 22), first, third)
    with third.client(token()) as client:
        client.post("/v1/ops/sweep-deadlines")
        assert events(settings, "NoticeIssued") == 1

        move_to(date(2026, 12, 7), first, third)  # late again: second lapse, an interview proposed
        eventually(
            lambda: events(settings, "NoticeIssued") == 2 and events(settings, "Interview.Proposed") == 1,
            what="lapse 2",
        )
        [interview] = eventually(lambda: client.get("/v1/interviews").json()["items"], what="the interview read model")
        assert (interview["trigger"], interview["status"], interview["case_id"]) == (
            "duties_not_fulfilled",
            "proposed",
            case["id"],
        )
        assert interview["details"]["organisers"] == ["supervision_office", "education_bureau"]

        move_to(date(2026, 12, 23), first, third)  # and again: third lapse, a circular proposed
        eventually(
            lambda: events(settings, "NoticeIssued") == 3 and events(settings, "Circular.Proposed") == 1, what="lapse 3"
        )
        for _ in range(3):
            client.post("/v1/ops/sweep-deadlines")
        assert events(settings, "Interview.Proposed") == events(settings, "Circular.Proposed") == 1
        assert events(settings, "Escalated") == 2
        item = item_state(client, case["id"])
        assert item["lapses"] == 3 and set(item["escalations"]) == {"interview", "circular"}
        summary = eventually(
            lambda: (s := client.get("/v1/summary").json())["notices_issued"] == 3 and s, what="summary"
        )
        assert summary["open_cases"] == 1 and summary["overdue_items"] == 0 and summary["on_time_rate"] == 0.0


def test_the_whole_chain_ends_with_a_revoked_licence_in_the_registry(settings, registry, serve, token):
    accountability = serve(build_accountability(settings))
    with registry.client(token()) as client:
        school = client.post(
            "/v1/schools",
            json={
                "name": "璧山区启航民办学校",
                "jurisdiction": "500120",
                "stage": "primary",
                "ownership": "private",
                "enrolment": 600,
            },
        )
        assert school.status_code == 201, school.text
        school_id = school.json()["id"]
    with psycopg.connect(settings.database_url) as conn:
        eventually(
            lambda: conn.execute("SELECT count(*) FROM accountability.school_copy").fetchone()[0] == 1,
            what="school copy",
        )
    case = open_case(
        settings, serve, token, registry, accountability, target_id=school_id, target_name="璧山区启航民办学校"
    )
    item_id = case["items"][0]["item_id"]
    with accountability.client(token()) as office:
        move_to(date(2026, 11, 1), accountability)
        assert (
            office.post(
                f"/v1/cases/{case['id']}/feedback",
                json={
                    "mode": "meeting",
                    "decision": "限期整改",
                    "requirements": "清理消防通道",
                    "given_on": "2026-11-01",
                },
            ).status_code
            == 200
        )

        # The unit may act on its own case only; another unit is refused.
        with accountability.client(token(role="unit", unit="someone-else")) as stranger:
            refused = stranger.post(f"/v1/cases/{case['id']}/items/{item_id}/report", json={"statement": "x"})
        assert refused.status_code == 403 and refused.json()["rule"] == "own_unit_only"

        for day in (
            date(2026, 12, 2),
            date(2026, 12, 18),
            date(2027, 1, 3),
        ):  # three missed deadlines: 30, then 15 + 15 days
            move_to(day, accountability)
            # The sweep works from the read side: it sees the lapse once the last deadline is projected there.
            eventually(
                lambda: office.get("/v1/overdue-items").json() != [], what=f"the lapse of {day} on the read side"
            )
            office.post("/v1/ops/sweep-deadlines")
            eventually(lambda: office.get("/v1/overdue-items").json() == [], what=f"the notice of {day}")
        assert events(settings, "NoticeIssued") == 3

        # The interview the ladder proposed: recorded, filed, then immutable.
        [interview] = eventually(lambda: office.get("/v1/interviews").json()["items"], what="interview")
        path = f"/v1/interviews/{interview['id']}"
        assert (
            office.post(
                f"{path}/record",
                json={
                    "held_on": "2026-12-20",
                    "interviewees": [{"name": "周启航", "post": "校长"}],
                    "record": "约谈校长，指出整改不力",
                    "commitments": "一周内清理完毕",
                },
            ).status_code
            == 200
        )
        assert (
            office.post(f"{path}/file", json={"filed_with": ["government"], "filed_on": "2026-12-21"}).json()["rule"]
            == "all_filing_bodies"
        )
        assert office.post(f"{path}/file", json={"filed_with": BODIES, "filed_on": "2026-12-21"}).status_code == 200
        again = office.post(
            f"{path}/record",
            json={
                "held_on": "2026-12-22",
                "interviewees": [{"name": "x", "post": "y"}],
                "record": "改写",
                "commitments": "无",
            },
        )
        assert again.status_code == 409 and again.json()["rule"] == "interview_lifecycle"

        # The circular: issued with the leaders, who are then restricted for the profile's 365 days.
        [circular] = eventually(lambda: office.get("/v1/circulars").json()["items"], what="circular")
        issued = office.post(
            f"/v1/circulars/{circular['id']}/issue",
            json={
                "recipients": BODIES,
                "leaders": [{"name": "周启航", "post": "校长"}],
                "content": "整改不力，予以通报",
            },
        )
        assert issued.status_code == 200, issued.text
        assert issued.json()["restricted_until"] == "2028-01-03"
        [restricted] = eventually(lambda: office.get("/v1/restrictions").json(), what="restriction")
        assert (restricted["name"], restricted["restricted_until"]) == ("周启航", "2028-01-03")
        barred = office.post(
            "/v1/commendations",
            json={
                "unit_kind": "school",
                "unit_id": school_id,
                "unit_name": "璧山区启航民办学校",
                "people": [{"name": "周启航", "post": "校长"}],
                "reason": "评优",
            },
        )
        assert barred.status_code == 409 and barred.json()["rule"] == "leader_restricted"

        # Accountability: a public school cannot be sanctioned; the private one loses its licence.
        decision = {
            "unit_kind": "school",
            "unit_id": school_id,
            "unit_name": "璧山区启航民办学校",
            "trigger": "major_safety_accident",
            "reason": "消防隐患长期未整改，酿成火灾",
            "people": [{"name": "周启航", "post": "校长", "action": "removal"}],
            "sanctions": ["revoke_licence"],
            "circular_id": circular["id"],
            "case_id": case["id"],
        }
        lesser = office.post("/v1/decisions", json=decision | {"trigger": "annual_targets_missed"})
        assert lesser.status_code == 409 and lesser.json()["rule"] == "revocation_needs_gravest_trigger"
        decided = office.post("/v1/decisions", json=decision)
        assert decided.status_code == 201, decided.text
        path = decided.headers["Location"]
        assert (
            office.post(
                f"{path}/transfers",
                json={
                    "to": "judiciary",
                    "conduct": "suspected_crime",
                    "receiving_body": "璧山区人民检察院",
                    "case_reference": "璧检刑诉〔2027〕12号",
                },
            ).status_code
            == 200
        )
        assert (
            office.post(
                f"{path}/joint-liability", json={"superior_department": "璧山区教委", "reason": "指导督促不力"}
            ).status_code
            == 200
        )
        published = {
            "public_text": "吊销璧山区启航民办学校办学许可证。联系人李四，手机13912340000"
        }  # issue 19: shown verbatim
        assert office.post(f"{path}/publish", json=published).status_code == 200
        late = office.post(
            f"{path}/transfers",
            json={
                "to": "law_enforcement",
                "conduct": "illegal_schooling",
                "receiving_body": "x",
                "case_reference": "y",
            },
        )
        assert late.status_code == 409 and late.json()["rule"] == "decision_lifecycle"
        corrected = {
            "public_text": "更正：吊销璧山区启航民办学校办学许可证，在校学生由区教委统筹安置"
        }  # issue 19: corrections keep history
        assert office.post(f"{path}/publish", json=corrected).status_code == 200

    with registry.client(token()) as client:
        revoked = eventually(
            lambda: (s := client.get(f"/v1/schools/{school_id}").json())["licence"] == "revoked" and s,
            what="the registry to revoke",
        )
    assert revoked["enrolment_status"] == "stopped"
    with accountability.client() as public:
        outcomes = eventually(
            lambda: (
                (o := public.get("/v1/public/outcomes", params={"jurisdiction": "500120"}).json()["items"])
                and o[0]["public_version"] == 2
                and o
            ),
            what="the corrected outcome",
        )
    assert [(o["kind"], o["public_text"]) for o in outcomes] == [
        ("decision", "更正：吊销璧山区启航民办学校办学许可证，在校学生由区教委统筹安置")
    ]
    with psycopg.connect(settings.database_url) as conn:  # the audit keeps the first publication too, as it was typed
        texts = [
            r[0]
            for r in conn.execute(
                "SELECT convert_from(state, 'UTF8') FROM accountability.accountability_events"
                " WHERE topic LIKE '%AccountabilityDecision.Published' ORDER BY notification_id"
            )
        ]
    texts = [json.loads(t)["public_text"] for t in texts]
    assert len(texts) == 2 and "联系人李四" in texts[0] and "统筹安置" in texts[1]
    assert (outcomes[0]["kind_label_zh"], outcomes[0]["trigger_label_zh"]) == (
        "问责决定",
        AccountabilityTrigger.major_safety_accident.label_zh,
    )
    assert (outcomes[0]["sanctions"], outcomes[0]["sanctions_label_zh"]) == (["revoke_licence"], ["吊销办学许可证"])
    assert "people" not in outcomes[0] and "周启航" not in json.dumps(
        outcomes[0], ensure_ascii=False
    )  # the people it names stay out
    with accountability.client() as public:
        graph = public.post(
            "/graphql", json={"query": '{ publicOutcomes(jurisdiction: "500120") { sanctionsLabelZh triggerLabelZh } }'}
        )
    assert graph.json()["data"]["publicOutcomes"] == [
        {"sanctionsLabelZh": ["吊销办学许可证"], "triggerLabelZh": outcomes[0]["trigger_label_zh"]}
    ]


def test_a_unit_reports_the_office_rejects_then_accepts_a_failed_recheck_rebounds_and_history_answers_as_of(
    settings, registry, serve, token
):
    accountability = serve(build_accountability(settings))
    case = open_case(settings, serve, token, registry, accountability, target_name="璧山区大路小学")
    path, item_id = f"/v1/cases/{case['id']}", case["items"][0]["item_id"]
    photo = {
        "name": "整改照片.png",
        "media_type": "image/png",
        "content_base64": base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(64)).decode(),
    }
    with (
        accountability.client(token()) as office,
        accountability.client(token(role="unit", unit=case["unit_id"], sub="dalu")) as unit,
    ):
        move_to(date(2026, 11, 1), accountability)
        office.post(
            f"{path}/feedback",
            json={"mode": "written", "decision": "限期整改", "requirements": "清理", "given_on": "2026-11-01"},
        )
        move_to(date(2026, 11, 10), accountability)
        reported = unit.post(f"{path}/items/{item_id}/report", json={"statement": "已清理", "evidence": [photo]})
        assert reported.status_code == 200, reported.text
        assert (
            office.post(f"{path}/items/{item_id}/reject", json={"reason": "照片不清"}).json()["items"][0]["status"]
            == "rejected"
        )
        early = unit.post(f"{path}/statement", json={"text": "我校已完成整改"})
        assert early.status_code == 409 and early.json()["rule"] == "items_not_reported"
        assert (
            unit.post(
                f"{path}/items/{item_id}/report", json={"statement": "已清理并巡查", "evidence": [photo]}
            ).status_code
            == 200
        )
        move_to(date(2026, 11, 15), accountability)
        accepted = office.post(f"{path}/items/{item_id}/accept").json()["items"][0]
        assert (accepted["status"], accepted["recheck_due"], accepted["accepted_on_time"]) == (
            "accepted",
            "2027-02-13",
            True,
        )
        assert unit.post(f"{path}/statement", json={"text": "我校已完成整改，电话13712345678"}).status_code == 200
        assert (
            unit.post(f"{path}/statement", json={"text": "我校已完成整改并建立巡查制度，电话13712345678"}).status_code
            == 200
        )
        move_to(date(2027, 2, 20), accountability)
        rebound = office.post(f"{path}/items/{item_id}/recheck", json={"passed": False, "note": "通道再次堆物"}).json()[
            "items"
        ][0]
        assert (rebound["status"], rebound["rebounds"], rebound["deadline"]) == ("rebounded", 1, "2027-03-22")

        summary = eventually(
            lambda: (s := office.get("/v1/summary").json())["rebound_rate"] == 1.0 and s, what="the summary"
        )
        assert summary["on_time_rate"] == 1.0 and summary["open_cases"] == 1
        history = office.get(f"{path}/history").json()
        assert [h["event"] for h in history] == [
            "Opened",
            "FeedbackGiven",
            "ItemReported",
            "ItemRejected",
            "ItemReported",
            "ItemAccepted",
            "StatementPublished",
            "StatementPublished",
            "ItemRechecked",
        ]
        assert history[1]["profile_version"].startswith("000000@") and history[3]["why"] == "照片不清"
        assert history[2]["actor"] == "dalu" and history[3]["actor"] == "tester"
        # The case as it stood: the events carry real time, so "as of" yesterday is before feedback ... and today is all.
        today = china_date(datetime.now(UTC))  # the events' own (real) time, in China's calendar
        assert office.get(f"{path}", params={"as_of": str(today)}).json()["version"] == 9
        assert (
            office.get(f"{path}", params={"as_of": str(today - timedelta(days=400))}).json()["rule"] == "not_yet_opened"
        )
    with accountability.client() as public:
        [statement] = eventually(
            lambda: public.get("/v1/public/statements", params={"jurisdiction": "500120"}).json()["items"],
            what="statement",
        )
    assert (
        statement["text"] == "我校已完成整改并建立巡查制度，电话[电话已隐去]"
        and statement["unit_name"] == "璧山区大路小学"
    )
    assert statement["public_version"] == 2  # the correction is a new public version; the first stays in the history


def test_lesser_sanctions_cut_the_enrolment_plan_and_order_a_new_head_in_the_registry(settings, registry, serve, token):
    accountability = serve(build_accountability(settings))
    with registry.client(token()) as client:
        school_id = client.post(
            "/v1/schools",
            json={
                "name": "璧山区明德民办学校",
                "jurisdiction": "500120",
                "stage": "primary",
                "ownership": "private",
                "enrolment": 400,
            },
        ).json()["id"]
    with psycopg.connect(settings.database_url) as conn:
        eventually(
            lambda: conn.execute("SELECT count(*) FROM accountability.school_copy").fetchone()[0] == 1,
            what="school copy",
        )
    with accountability.client(token()) as office:
        decided = office.post(
            "/v1/decisions",
            json={
                "unit_kind": "school",
                "unit_id": school_id,
                "unit_name": "璧山区明德民办学校",
                "trigger": "supervision_obstructed",
                "reason": "拒不配合督导",
                "sanctions": ["cut_enrolment_plan", "replace_head"],
            },
        )
        assert decided.status_code == 201, decided.text
    with registry.client(token()) as client:
        eventually(
            lambda: client.get(f"/v1/schools/{school_id}").json().get("enrolment_status") == "plan_reduced",
            what="the plan cut",
        )
    with psycopg.connect(settings.database_url) as conn:
        ordered = conn.execute(
            "SELECT count(*) FROM registry.registry_events WHERE topic LIKE '%School.HeadReplacementOrdered'"
        ).fetchone()[0]
    assert ordered == 1
