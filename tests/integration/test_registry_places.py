"""Issue 3 over HTTP: inspector lifecycle, zones and recusal, committees, policy profiles, staffing compliance."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from uuid import UUID

import nats
import pytest

from dudao import bus
from tests.conftest import eventually
from tests.factories import COMMITTEE, TERM, active_inspector, projected, school

pytestmark = pytest.mark.integration


@pytest.fixture
def registry_at(settings, serve):
    """The registry of another place's instance (an instance writes only inside its own subtree)."""
    from services.registry.app import build

    return lambda code: serve(build(replace(settings, jurisdiction=code)))


def _names(rows: list[dict]) -> list[str]:
    return [row["name"] for row in rows]


# --- inspectors ---------------------------------------------------------------------------------------


def test_an_inspector_walks_the_lifecycle_and_a_forbidden_step_is_409(registry, token):
    with registry.client(token()) as client:
        inspector_id = active_inspector(client, "李明远")
        suspended = client.post(
            f"/v1/inspectors/{inspector_id}/suspension", json={"reason": "病假", "on": "2025-03-01"}
        )
        again = client.post(f"/v1/inspectors/{inspector_id}/suspension", json={"reason": "病假", "on": "2025-03-02"})
        exited = client.post(f"/v1/inspectors/{inspector_id}/exit", json={"reason": "resigned", "on": "2025-04-01"})
        read = projected(client, f"/v1/inspectors/{inspector_id}", lambda b: b["status"] == "exited", "the exit")
    assert suspended.json()["status"] == "suspended"
    assert again.status_code == 409 and again.json()["rule"] == "inspector_lifecycle"
    assert again.headers["content-type"] == "application/problem+json"
    assert exited.json()["exit_reason"] == "resigned"
    assert (read["term"]["term_no"], read["filed_with"], read["status_label_zh"]) == (5, "500000", "已退出")


def test_filing_goes_to_a_level_above(registry, token):
    with registry.client(token()) as client:
        inspector_id = client.post(
            "/v1/inspectors", json={"name": "王静怡", "jurisdiction": "500120", "employment": "full_time"}
        ).json()["id"]
        client.post(f"/v1/inspectors/{inspector_id}/appointment", json=TERM)
        sideways = client.post(
            f"/v1/inspectors/{inspector_id}/filing", json={"filed_with": "500101", "filed_on": "2024-01-10"}
        )
    assert sideways.status_code == 422 and sideways.json()["rule"] == "filed_with_upper_level"


def test_who_is_missing_training_is_answered_from_the_projection(registry, token):
    with registry.client(token()) as client:
        trained = active_inspector(client, "张建国")
        untrained = active_inspector(client, "刘晓燕")
        client.post(
            f"/v1/inspectors/{trained}/trainings",
            json={"kind": "pre_service", "title": "上岗培训", "hours": 24, "completed_on": "2024-02-01"},
        )
        client.post(
            f"/v1/inspectors/{trained}/trainings",
            json={"kind": "in_service", "title": "履职培训", "hours": 12, "completed_on": "2025-02-01"},
        )
        detail = projected(client, f"/v1/inspectors/{trained}", lambda b: len(b["trainings"]) == 2, "both trainings")
        projected(client, f"/v1/inspectors/{untrained}", lambda b: b["status"] == "active", "the other inspector")
        gaps = client.get("/v1/inspectors/missing-training").json()
    assert gaps[0]["inspector"]["id"] == untrained and gaps[0]["missing"] == ["pre_service", "in_service"]
    assert [t["kind"] for t in detail["trainings"]] == ["pre_service", "in_service"]


def test_a_retried_change_with_the_same_idempotency_key_records_one_event(registry, token, settings, monkeypatch):
    from tests.conftest import stored_events

    training = {"kind": "pre_service", "title": "上岗培训", "hours": 24, "completed_on": "2024-02-01"}
    store = registry.app.state.application.events
    reads: list[str] = []  # each read of the inspector's history: the retry must find itself in the command's one load
    read = store.get
    monkeypatch.setattr(
        store, "get", lambda originator_id, *a, **k: reads.append(originator_id) or read(originator_id, *a, **k)
    )
    with registry.client(token()) as client:
        inspector_id = active_inspector(client, "孙雅琴")
        before = stored_events(settings, "Inspector")
        first = client.post(
            f"/v1/inspectors/{inspector_id}/trainings", json=training, headers={"Idempotency-Key": "t-1"}
        )
        reads.clear()
        retry = client.post(
            f"/v1/inspectors/{inspector_id}/trainings", json=training, headers={"Idempotency-Key": "t-1"}
        )
        assert [r for r in reads if str(r) == inspector_id] == [UUID(inspector_id)], reads
        reused = client.post(
            f"/v1/inspectors/{inspector_id}/suspension",
            json={"reason": "x", "on": "2025-01-01"},
            headers={"Idempotency-Key": "t-1"},
        )
    assert first.status_code == retry.status_code == 200 and first.json() == retry.json()
    assert reused.status_code == 409 and reused.json()["rule"] == "idempotency_key_reused"
    assert stored_events(settings, "Inspector") == before + 1


def test_an_unqualified_assessment_opens_an_exit_review(registry, token):
    with registry.client(token()) as client:
        inspector_id = active_inspector(client, "陈志强")
        response = client.post(
            f"/v1/inspectors/{inspector_id}/assessments", json={"year": 2025, "grade": "unqualified"}
        )
        read = projected(client, f"/v1/inspectors/{inspector_id}", lambda b: b["exit_review_open"], "the exit review")
    assert response.json()["exit_review_open"] is True
    assert read["assessments"] == [{"year": 2025, "grade": "unqualified"}]


def test_a_declared_tie_travels_on_the_stream_for_other_services(registry, token, settings):
    with registry.client(token()) as client:
        inspector_id = active_inspector(client, "杨慧敏")
        school_id = school(client, "璧山区翠屏小学")
        client.post(f"/v1/inspectors/{inspector_id}/ties", json={"unit_id": school_id, "kind": "former_employer"})

    async def tie_messages() -> list[dict]:
        nc = await nats.connect(settings.nats_url)
        js = nc.jetstream()
        try:
            msg = await js.get_last_msg(bus.stream_name("registry"), "dudao.500120.registry.Inspector.TieDeclared.>")
            return [json.loads(msg.data)]
        except Exception:
            return []
        finally:
            await nc.close()

    [message] = eventually(lambda: asyncio.run(tie_messages()), what="the TieDeclared event on the stream")
    assert message["aggregate_id"] == inspector_id
    assert message["data"]["unit_id"] == school_id and message["data"]["kind"] == "former_employer"


# --- zones ------------------------------------------------------------------------------------------------


def test_zones_recusal_and_the_public_list_of_listed_inspectors(registry, token):
    with registry.client(token()) as client:
        zone_id = client.post("/v1/zones", json={"name": "璧城责任区", "jurisdiction": "500120"}).json()["id"]
        listed = active_inspector(client, "赵文博", roles=["listed", "responsible"], public_contact="023-4140 1234")
        plain = active_inspector(client, "黄丽华")
        tied = active_inspector(client, "周海涛", roles=["responsible"])
        a, b = school(client, "璧山区青岚小学"), school(client, "璧山区松涛小学")
        not_listed = client.post(f"/v1/zones/{zone_id}/listed-inspectors", json={"inspector_id": plain})
        assert client.post(f"/v1/zones/{zone_id}/listed-inspectors", json={"inspector_id": listed}).status_code == 200
        for s in (a, b):
            assert client.put(f"/v1/schools/{s}/zone", json={"zone_id": zone_id}).status_code == 200
        client.post(f"/v1/inspectors/{tied}/ties", json={"unit_id": a, "kind": "own_school"})
        recused = client.put(f"/v1/schools/{a}/responsible-inspector", json={"inspector_id": tied})
        assigned = client.put(f"/v1/schools/{a}/responsible-inspector", json={"inspector_id": listed})
        reassigned = client.put(f"/v1/schools/{b}/responsible-inspector", json={"inspector_id": tied})

    with registry.client(token()) as client:
        school(client, "璧山区未分区小学")
        coverage = eventually(  # every school's zone, and the new school, projected
            lambda: (
                _names((r := client.get("/v1/zones/coverage").json())["without_zone"]) == ["璧山区未分区小学"] and r
            ),
            what="coverage",
        )
    assert [s["name"] for s in coverage["without_zone"]] == ["璧山区未分区小学"]
    assert sorted(s["name"] for s in coverage["without_responsible_inspector"]) == ["璧山区未分区小学"]
    assert not_listed.status_code == 409 and not_listed.json()["rule"] == "not_a_listed_inspector"
    assert recused.status_code == 409 and recused.json()["rule"] == "recusal"
    assert assigned.json()["responsible_inspector_id"] == listed and reassigned.status_code == 200
    with registry.client() as anonymous:  # no token
        public = eventually(
            lambda: (
                (r := anonymous.get("/v1/public/listed-inspectors", params={"jurisdiction": "500120"}).json())
                and len(r[0]["schools"]) == 2
                and r
            ),
            what="the public list",
        )
    assert public == [
        {
            "name": "赵文博",
            "zone": "璧城责任区",
            "schools": ["璧山区松涛小学", "璧山区青岚小学"],
            "public_contact": "023-4140 1234",
        }
    ]


# --- committees ------------------------------------------------------------------------------------------------


def test_committees_short_of_meetings_and_inactive_member_units_follow_the_profile(registry_at, token):
    with registry_at("500000").client(token(jur="500000")) as client:
        for code in ("500120", "500101"):
            assert client.put(f"/v1/committees/{code}", json=COMMITTEE).status_code == 200
            for month in (3, 6):
                client.post(
                    f"/v1/committees/{code}/meetings",
                    json={"held_on": f"2026-0{month}-01", "topic": "专题研究教育", "on_education": True},
                )
        client.post(
            "/v1/committees/500120/participation", json={"unit_name": "区财政局", "activity_id": "a-1", "year": 2026}
        )
        eventually(
            lambda: client.get("/v1/committees/500120").json().get("version") == 4, what="the committee projected"
        )
        short = client.get("/v1/committees/short-of-meetings", params={"year": 2026}).json()
        eventually(lambda: client.get("/v1/committees/500101").json().get("version") == 3, what="the other committee")
        inactive = client.get(
            "/v1/committees/inactive-member-units", params={"year": 2026, "jurisdiction": "500120"}
        ).json()
    # Bishan's profile asks for 4 meetings a year; Wanzhou (500101) has no such rule in its profile chain.
    assert [(c["jurisdiction"], c["education_meetings"], c["minimum"]) for c in short] == [("500120", 2, 4)]
    assert short[0]["profile_version"].startswith("000000@1/500000@1/500120@")
    assert inactive == []  # Bishan's profile chain sets no member-unit minimum


def test_a_member_unit_below_one_activity_is_listed_where_the_profile_asks(registry_at, token):
    with registry_at("530113").client(token(jur="530113")) as client:
        client.put("/v1/committees/530113", json=COMMITTEE)
        client.post(
            "/v1/committees/530113/participation", json={"unit_name": "区财政局", "activity_id": "a-1", "year": 2026}
        )
        eventually(
            lambda: client.get("/v1/committees/530113").json().get("version") == 2, what="the committee projected"
        )
        inactive = client.get("/v1/committees/inactive-member-units", params={"year": 2026}).json()
    assert [(u["unit_name"], u["activities"], u["minimum"]) for u in inactive] == [("区委组织部", 0, 1)]


# --- policy profiles ----------------------------------------------------------------------------------------


def test_the_effective_profile_says_where_each_value_comes_from_and_follows_changes(registry, token):
    with registry.client() as anonymous:
        before = eventually(
            lambda: (r := anonymous.get("/v1/policy/500120").json())["version"] == "000000@1/500000@1/500120@1" and r,
            what="the shipped profiles of the nation, Chongqing and Bishan",
        )
    assert before["values"]["inspector_school_ratio"]["source_jurisdiction"] == "500000"
    assert before["values"]["pupils_per_school_supervisor"]["value"] == 500
    assert before["values"]["large_school_enrolment"]["source_name"] == "全国"
    with registry.client(token()) as client:
        changed = client.put(
            "/v1/policy/500120",
            json={
                "set": {"large_school_enrolment": 1500},
                "remove": ["pupils_per_school_supervisor"],
                "reason": "区教委2026年第3号文",
            },
        )
        refused = client.put("/v1/policy/500120", json={"set": {"no_such_rule": 1}, "reason": "x"})
        elsewhere = client.put("/v1/policy/500101", json={"set": {"large_school_enrolment": 1}, "reason": "x"})
    assert changed.status_code == 200 and changed.json()["version"] == 2
    assert refused.status_code == 422 and refused.json()["field"] == "set.no_such_rule"
    assert elsewhere.status_code == 403
    with registry.client() as anonymous:
        after = eventually(
            lambda: (
                (r := anonymous.get("/v1/policy/500120").json())["values"]["large_school_enrolment"]["value"] == 1500
                and r
            ),
            what="the change",
        )
    assert after["values"]["large_school_enrolment"]["source_jurisdiction"] == "500120"
    assert "pupils_per_school_supervisor" not in after["values"]
    assert after["version"].endswith("500120@2")


# --- staffing compliance ------------------------------------------------------------------------------------------


def test_staffing_compliance_in_bishan_hand_checked(registry, token):
    """Bishan: 11 schools, one of them large (≥ 2000): 10/5 + 1 = 3 inspectors needed; 3 active, 1 full-time; R1 is
    not met while the large school's inspector also answers for another school."""
    with registry.client(token()) as client:
        enrolments = {0: 1200, 3: 1000}  # the others 300
        ids = [school(client, f"小学{i}", enrolment=enrolments.get(i, 300)) for i in range(10)]
        large = school(client, "璧山区大学校", enrolment=2400, stage="nine_year")
        zone_id = client.post("/v1/zones", json={"name": "一区", "jurisdiction": "500120"}).json()["id"]
        own = active_inspector(client, "甲", employment="full_time", roles=["government", "responsible", "subject"])
        active_inspector(client, "乙", roles=["government"])
        active_inspector(client, "丙")
        for s in (large, ids[1]):  # the large school's inspector also answers for another school: not its own
            client.put(f"/v1/schools/{s}/zone", json={"zone_id": zone_id})
            client.put(f"/v1/schools/{s}/responsible-inspector", json={"inspector_id": own})
        two = {"names": ["督导员一", "督导员二"]}
        client.put(f"/v1/schools/{ids[0]}/internal-supervisors", json=two)  # 1200 pupils need 3: short
        client.put(f"/v1/schools/{ids[3]}/internal-supervisors", json=two)  # 1000 pupils need exactly 2: enough
        client.put(f"/v1/schools/{ids[2]}/internal-supervisors", json={"names": ["督导员三"]})  # 300 need 1: enough
        result = eventually(
            lambda: (
                (r := client.get("/v1/staffing-compliance").json())["inspectors"] == 3
                and r["schools"] == 11
                and r["r1"]["large_schools_without_own_inspector"] == 1
                and r["r4"]["schools_short_of_supervisors"] == 9
                and r
            ),
            what="the staffing figures",
        )
    assert result["r1"] == {
        "schools_per_inspector": 5,
        "large_school_enrolment": 2000,
        "large_schools": 1,
        "required_inspectors": 3,
        "met": False,
        "large_schools_without_own_inspector": 1,
    }  # (3 inspectors are enough in number, but the large school has none of its own)
    assert result["r2"] == {"full_time_inspectors": 1, "full_time_share": 0.3333, "minimum": None, "met": True}
    assert result["r3"] == {
        "government_inspectors": 2,
        "government_minimum": 100,
        "subject_inspectors": 1,
        "subject_minimum": 50,
        "met": False,
    }
    # Nine schools are short: eight with no supervisors at all, and the 1200-pupil school with 2 of the 3 it needs;
    # the 1000-pupil school's 2 are exactly enough, as is the one of a 300-pupil school.
    assert result["r4"] == {"pupils_per_supervisor": 500, "schools_short_of_supervisors": 9, "met": False}
    assert result["profile_version"] == "000000@1/500000@1/500120@1"


def test_staffing_compliance_in_a_hainan_district_hand_checked_and_rolled_up(registry_at, token):
    """Haikou's Xiuying district (460105): 6 schools need 2 inspectors; 2 part-time is below Hainan's 20 % full-time."""
    with registry_at("460000").client(token(jur="460000")) as client:
        for i in range(6):
            school(client, f"秀英小学{i}", jur="460105")
        school(client, "龙华小学", jur="460106")
        for name in ("甲", "乙"):
            active_inspector(client, name, jur="460105")
        district = eventually(
            lambda: (
                (r := client.get("/v1/staffing-compliance", params={"jurisdiction": "460105"}).json())["inspectors"]
                == 2
                and r["schools"] == 6
                and r["profile_version"] == "000000@1/460000@1"  # the shipped profiles are projected too
                and r
            ),
            what="the district's figures",
        )
        province = client.get("/v1/staffing-compliance", params={"jurisdiction": "460000", "children": True}).json()
    assert district["r1"]["required_inspectors"] == 2 and district["r1"]["met"] is True
    assert district["r2"] == {"full_time_inspectors": 0, "full_time_share": 0.0, "minimum": 0.2, "met": False}
    assert district["r3"]["met"] is True and district["r4"]["met"] is True
    assert district["profile_version"] == "000000@1/460000@1"
    assert (province["schools"], province["inspectors"]) == (7, 2)  # the province's roll-up covers both districts
    haikou = next(c for c in province["children"] if c["jurisdiction"] == "460100")
    assert haikou["schools"] == 7 and haikou["r1"]["required_inspectors"] == 2


def test_a_later_release_adds_its_new_shipped_keys_without_touching_what_a_place_set_or_removed(settings):
    """An instance installed before the accountability keys existed gets them at its next start, once."""
    from datetime import UTC, datetime

    from dudao.events import Envelope
    from services.registry.application import Registry
    from services.registry.application.policy import shipped_profiles
    from services.registry.domain import PolicyProfile, profile_id

    national = next(p for p in shipped_profiles() if p["jurisdiction"] == "000000")
    older = {
        k: v
        for k, v in national["values"].items()
        if k not in ("notice_days", "restriction_days", "interview_at_lapse")
    }
    app = Registry(settings)
    try:
        envelope = Envelope.for_request(actor="older-release", jurisdiction="000000")
        app.save_new(
            PolicyProfile.create(
                jurisdiction="000000", values=older | {"notice_days": 20}, reason="old", now=datetime.now(UTC)
            ),
            envelope,
        )
        app.change(
            profile_id("000000"),
            PolicyProfile,
            None,
            envelope,
            lambda p: p.change(
                set_values={}, remove=["notice_days"], reason="a place removed it", now=datetime.now(UTC)
            ),
        )
        app.install_shipped_profiles()
        app.install_shipped_profiles()  # a second start changes nothing
        profile = app.get(profile_id("000000"), PolicyProfile)
    finally:
        app.close()
    assert profile.version == 3
    assert profile.values["restriction_days"] == 365 and profile.values["interview_at_lapse"] == 2
    assert "notice_days" not in profile.values  # removed on purpose: not brought back
