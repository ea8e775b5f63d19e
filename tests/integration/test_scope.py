"""Issue 17's reproductions: each request that used to succeed beyond the caller's scope, now refused, with what it
must not have changed. The refusals name who asked and what about (caller, target, a stable rule)."""

from __future__ import annotations

import base64
from uuid import uuid4

import psycopg
import pytest

from dudao.events import Envelope
from services.accountability.app import build as build_accountability
from services.accountability.domain.measures import AccountabilityDecision
from services.inspection.app import build as build_inspection
from services.monitoring.app import build as build_monitoring
from services.registry.app import build as build_registry
from tests.conftest import eventually, measured
from tests.factories import (
    COUNTY,
    active_inspector,
    activity,
    copied_inspector,
    copied_school,
    in_copy,
    open_case,
    school,
)
from tests.integration.conftest import FRAMEWORK, PERIOD, act, enter_and_submit
from tests.integration.test_subgraph_links import answer, ask, refusal

pytestmark = pytest.mark.integration

PDF = b"%PDF-1.4\n%scope test\n"


def refused(response, status: int, rule: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["rule"] == rule, body
    assert "<Role" not in body["detail"] and "Role." not in body["detail"], body["detail"]
    return body


def private_school(registry, token) -> str:
    with registry.client(token()) as client:
        response = client.post(
            "/v1/schools",
            json={
                "name": "璧山区启航民办学校",
                "jurisdiction": "500120",
                "stage": "primary",
                "ownership": "private",
                "enrolment": 600,
            },
        )
        assert response.status_code == 201, response.text
        return response.json()["id"]


def enrolment_status(registry, token, school_id: str) -> str:
    with registry.client(token()) as client:
        return eventually(
            lambda: client.get(f"/v1/schools/{school_id}").json().get("enrolment_status"), what="the school read"
        )


def test_one_county_cannot_sanction_or_name_another_countys_school(settings, registry, serve, token):
    accountability = serve(build_accountability(settings))
    school_id = private_school(registry, token)
    with accountability.client(token()) as office:
        eventually(
            lambda: (
                office.post(
                    "/v1/interviews",
                    json={
                        "unit_kind": "school",
                        "unit_id": school_id,
                        "unit_name": "x",
                        "trigger": "duties_not_fulfilled",
                        "reason": "copy",
                    },
                ).status_code
                == 201
            ),
            what="the school copied to accountability",
        )
    decision = {
        "unit_kind": "school",
        "unit_id": school_id,
        "unit_name": "随便写的名字",
        "trigger": "supervision_obstructed",
        "reason": "阻挠督导",
        "sanctions": ["stop_enrolment"],
    }
    with accountability.client(token(jur="500151")) as neighbour:
        for kind, body in (
            ("decisions", decision),
            ("decisions", decision | {"sanctions": ["revoke_licence"], "trigger": "major_safety_accident"}),
            (
                "interviews",
                {k: decision[k] for k in ("unit_kind", "unit_id", "unit_name", "reason")}
                | {"trigger": "duties_not_fulfilled"},
            ),
            (
                "circulars",
                {k: decision[k] for k in ("unit_kind", "unit_id", "unit_name", "reason")} | {"trigger": "ineffective"},
            ),
            ("commendations", {k: decision[k] for k in ("unit_kind", "unit_id", "unit_name", "reason")}),
        ):
            body = refused(neighbour.post(f"/v1/{kind}", json=body), 403, "out_of_scope")
            assert body["caller"]["jurisdiction"] == "500151" and body["target"] == {
                "jurisdiction": "500120",
                "unit": school_id,
            }
        # Claiming the school lies in the caller's county changes nothing: its place is the registry's.
        refused(neighbour.post("/v1/decisions", json=decision | {"jurisdiction": "500151"}), 422, "unit_jurisdiction")
    with accountability.client(token()) as office:
        unknown = office.post("/v1/decisions", json=decision | {"unit_id": "00000000-0000-0000-0000-0000000000aa"})
        refused(unknown, 404, "school_not_found")
        assert office.get("/v1/decisions").json()["items"] == []
        [interview] = eventually(
            lambda: office.get("/v1/interviews").json()["items"], what="the interview's read model"
        )
        assert interview["unit_name"] == "璧山区启航民办学校"  # the registry's name, not the body's
    assert enrolment_status(registry, token, school_id) == "normal"


@pytest.mark.dead_letters
def test_a_sanction_outside_the_deciding_office_is_dead_lettered_in_the_registry_never_applied(
    settings, registry, serve, token
):
    """A decision event that names a school outside its office's jurisdiction (as a bug or a forged event would) is
    refused where it lands: a dead letter with the reason, counted, and the school unchanged."""
    school_id = private_school(registry, token)
    accountability = serve(build_accountability(settings))
    decision = AccountabilityDecision.decide(
        id=uuid4(),
        jurisdiction="500120",
        unit_kind="school",
        unit_id=school_id,
        unit_name="启航",
        private_school=True,
        trigger="supervision_obstructed",
        reason="阻挠督导",
        people=[],
        unit_actions=[],
        sanctions=["stop_enrolment"],
        decided_on=settings.today,
        circular_id=None,
        case_id=None,
    )
    envelope = Envelope.for_request(actor="forger", jurisdiction="500151", request_hash="x")
    accountability.app.state.application.save(decision, envelope=envelope)
    before = measured("dudao.consumer.dead_letters", reason="out_of_scope") or 0
    with psycopg.connect(settings.database_url) as conn:
        [error] = eventually(
            lambda: conn.execute(
                "SELECT error FROM registry.dead_letters WHERE consumer = 'registry-sanctions'"
            ).fetchone(),
            what="the dead letter",
        )
    assert error.startswith("out_of_scope:") and "500151" in error and school_id in error
    # The row commits before the counter moves: wait for the counter as for the row.
    eventually(
        lambda: (measured("dudao.consumer.dead_letters", reason="out_of_scope") or 0) >= before + 1,
        what="the dead letter counted",
    )
    assert enrolment_status(registry, token, school_id) == "normal"


def test_a_school_reads_and_lists_only_its_own_cases_and_measures(settings, registry, serve, token):
    accountability = serve(build_accountability(settings))
    with registry.client(token()) as reg:
        mine, theirs = school(reg, "璧山区东林小学"), school(reg, "璧山区西林小学")
    case = open_case(settings, serve, token, registry, accountability, target_id=theirs, target_name="璧山区西林小学")
    with accountability.client(token(role="unit", unit=mine)) as unit:
        body = refused(unit.get(f"/v1/cases/{case['id']}"), 403, "own_unit_only")
        assert body["caller"] == {"roles": ["unit"], "jurisdiction": "500120", "unit": mine}
        refused(unit.get(f"/v1/cases/{case['id']}/history"), 403, "own_unit_only")
        assert unit.get("/v1/cases").json()["items"] == []
        refused(unit.get("/v1/cases", params={"unit_id": theirs}), 403, "own_unit_only")
        assert unit.get("/v1/notices").json()["items"] == []
        assert unit.get("/v1/restrictions").json() == []
        assert unit.get("/v1/interviews").json()["items"] == []
        report = unit.post(
            f"/v1/cases/{case['id']}/items/{case['items'][0]['item_id']}/report", json={"statement": "已整改"}
        )
        refused(report, 403, "own_unit_only")
    with accountability.client(token(role="unit", unit=theirs)) as owner:
        assert owner.get(f"/v1/cases/{case['id']}").status_code == 200
        assert [c["id"] for c in owner.get("/v1/cases").json()["items"]] == [case["id"]]
    # The subgraph the gateway reads through narrows the same way.
    cases = "{ rectificationCases { nodes { id } } casesForUnits(unitIds: [$u]) { key cases { id } } }".replace(
        "$u", f'"{theirs}"'
    )
    assert answer(accountability, cases, token(role="unit", unit=mine)) == {
        "rectificationCases": {"nodes": []},
        "casesForUnits": [{"key": theirs, "cases": []}],
    }
    assert answer(accountability, cases, token(role="unit", unit=theirs))["rectificationCases"]["nodes"] == [
        {"id": case["id"]}
    ]
    other = ask(
        accountability,
        f'{{ rectificationCases(unitId: "{theirs}") {{ nodes {{ id }} }} }}',
        token(role="unit", unit=mine),
    )
    assert other["errors"][0]["extensions"]["rule"] == "own_unit_only"


def test_a_school_lists_only_its_own_activities(settings, registry, serve, token):
    inspection = serve(build_inspection(settings))
    with registry.client(token()) as reg:
        mine, theirs = copied_school(reg, settings, "璧山区东林小学"), copied_school(reg, settings, "璧山区西林小学")
    with inspection.client(token()) as office:
        for target in (mine, theirs):
            assert office.post("/v1/activities", json=activity(target_id=target)).status_code == 201
        eventually(lambda: len(office.get("/v1/activities").json()["items"]) == 2, what="activities projected")
        other = office.get("/v1/activities", params={"school_id": theirs}).json()["items"][0]["id"]
    with inspection.client(token(role="unit", unit=mine)) as unit:
        assert [a["target_id"] for a in unit.get("/v1/activities").json()["items"]] == [mine]
        refused(unit.get(f"/v1/activities/{other}"), 403, "own_unit_only")


def test_an_agency_assigned_to_assess_cannot_enter_values_and_an_unassigned_one_reads_nothing(place):
    a = place.schools["A"]
    with place.office() as office:
        assigned = act(
            office,
            "assignments",
            {
                "framework": FRAMEWORK,
                "period": PERIOD,
                "jurisdiction": "530113",
                "agency_id": "ag-1",
                "agency_name": "评估院",
                "task": "assess",
                "contract": "合同2026-1",
            },
        )
        assert assigned.status_code == 201, assigned.text
    with place.monitoring.client(place.token(role="agency", jur="530113", unit="ag-1")) as assessor:
        body = refused(
            assessor.put(f"/v1/submissions/{FRAMEWORK}/{PERIOD}/{a}", json={"values": {"pupils": {"primary": 10}}}),
            403,
            "assignment_scope",
        )
        assert body["target"] == {"jurisdiction": "530113", "unit": a}
        assert assessor.get(f"/v1/results/{FRAMEWORK}/{PERIOD}", params={"jurisdiction": "530113"}).status_code == 200
    with place.office() as office:
        assert (
            office.get(f"/v1/submissions/{FRAMEWORK}/{PERIOD}/{a}").status_code == 404
        )  # the assessor entered nothing
    with place.unit("A") as unit:
        assert unit.put(f"/v1/submissions/{FRAMEWORK}/{PERIOD}/{a}", json={"values": COUNTY["A"][1]}).status_code == 200
    with place.monitoring.client(place.token(role="agency", jur="530113", unit="ag-2")) as stranger:
        for path in (
            f"/v1/results/{FRAMEWORK}/{PERIOD}?jurisdiction=530113",
            f"/v1/collection/{FRAMEWORK}/{PERIOD}?jurisdiction=530113",
            f"/v1/submissions/{FRAMEWORK}/{PERIOD}/{a}",
        ):
            refused(stranger.get(path), 403, "assignment_scope")
    with place.monitoring.client(place.token(role="agency", jur="530113", unit="ag-1")) as assessor:
        assert assessor.get(f"/v1/submissions/{FRAMEWORK}/{PERIOD}/{a}").status_code == 200  # assessing needs the data


def test_a_school_sees_its_own_values_in_the_results_not_its_peers(place):
    for name in ("A", "D"):
        enter_and_submit(place, name)
    with place.office() as office:
        eventually(lambda: len(office.get(f"/v1/results/{FRAMEWORK}/{PERIOD}").json()["units"]) == 2, what="results")
    with place.unit("A") as unit:
        found = unit.get(f"/v1/results/{FRAMEWORK}/{PERIOD}", params={"jurisdiction": "530113"}).json()
        assert [u["unit_id"] for u in found["units"]] == [place.schools["A"]]
    query = f'{{ monitoringResults(framework: "{FRAMEWORK}", period: "{PERIOD}", jurisdiction: "530113") {{ units {{ unitId }} }} }}'
    unit_token = place.token(role="unit", jur="530113", unit=place.schools["A"])
    assert answer(place.monitoring, query, unit_token)["monitoringResults"]["units"] == [{"unitId": place.schools["A"]}]
    with place.unit("A") as unit:
        # A what-if recomputes every unit: office work, not a school's.
        refused(
            unit.get(f"/v1/results/{FRAMEWORK}/{PERIOD}/what-if", params={"version": 1, "jurisdiction": "530113"}),
            403,
            "role_required",
        )


def test_a_sweep_asked_for_by_an_ops_user_covers_only_the_callers_subtree(settings, registry, serve, token):
    accountability = serve(build_accountability(settings))
    with accountability.client(token(role="ops", jur="500151")) as neighbour:
        refused(neighbour.post("/v1/ops/sweep-deadlines"), 403, "instance_boundary")
    with accountability.client(token(role="ops", jur="500120001")) as township:
        assert township.post("/v1/ops/sweep-deadlines").json()["jurisdiction"] == "500120001"
        refused(township.post("/v1/ops/sweep-deadlines", params={"jurisdiction": "500120"}), 403, "out_of_scope")


def test_a_county_may_tighten_its_citys_rule_but_not_loosen_it(registry, token):
    with registry.client(token()) as office:
        shipped = eventually(
            lambda: (r := office.get("/v1/policy/500000").json())["version"] == "000000@1/500000@1" and r,
            what="the shipped profiles of the nation and Chongqing",
        )
        upper = shipped["values"]["inspector_school_ratio"]
        body = refused(
            office.put("/v1/policy/500120", json={"set": {"inspector_school_ratio": 50}, "reason": "人手不足"}),
            409,
            "policy_loosened",
        )
        assert body["key"] == "inspector_school_ratio" and body["upper_value"] == upper["value"]
        assert body["set_by"] == upper["source_jurisdiction"] and body["field"] == "set.inspector_school_ratio"
        assert office.get("/v1/policy/500120").json()["values"]["inspector_school_ratio"]["value"] == upper["value"]
        tightened = office.put("/v1/policy/500120", json={"set": {"inspector_school_ratio": 3}, "reason": "从严"})
        assert tightened.status_code == 200, tightened.text


def test_an_inspector_on_the_team_records_findings_and_one_off_it_cannot(settings, registry, serve, token):
    inspection = serve(build_inspection(settings))
    with registry.client(token()) as reg:
        on_team, off_team = copied_inspector(reg, settings, "甲"), active_inspector(reg, "乙")
        school_id = copied_school(reg, settings, "璧山区青岚小学")
    with inspection.client(token()) as office:
        location = office.post("/v1/activities", json=activity(target_id=school_id)).headers["Location"]
        assert office.post(f"{location}/team", json={"leader_id": on_team}).status_code == 200
        assert office.post(f"{location}/notice", json={"notified_on": "2026-10-08"}).status_code == 200
    finding = {
        "findings": [
            {"area": "safety", "severity": "serious", "description": "消防通道堵塞", "needs_rectification": True}
        ]
    }
    with inspection.client(token(role="inspector", sub=off_team)) as stranger:
        refused(stranger.post(f"{location}/on-site", json={"on": "2026-10-10"}), 403, "not_on_team")
    with inspection.client(token(role="inspector", sub=on_team)) as member:
        assert member.post(f"{location}/on-site", json={"on": "2026-10-10"}).status_code == 200
        recorded = member.post(f"{location}/findings", json=finding)
        assert recorded.status_code == 200, recorded.text
    with inspection.client(token(role="inspector", sub=off_team)) as stranger:
        refused(stranger.post(f"{location}/findings", json=finding), 403, "not_on_team")
        refused(stranger.post(f"{location}/report/draft", json={"summary": "x"}), 403, "role_required")
    with inspection.client(token()) as office:
        eventually(lambda: len(office.get(location).json().get("findings", [])) == 1, what="the member's finding")


def test_an_upload_without_permission_stores_nothing(settings, registry, serve, token):
    inspection = serve(build_inspection(settings))
    with registry.client(token()) as reg:
        school_id = copied_school(reg, settings, "璧山区青岚小学")
    with inspection.client(token()) as office:
        location = office.post("/v1/activities", json=activity(kind="comprehensive", target_id=school_id)).headers[
            "Location"
        ]
    evidence = [{"name": "自评.pdf", "media_type": "application/pdf", "content_base64": base64.b64encode(PDF).decode()}]
    items = [{"item": "依法治校", "score": 90}]
    blobs = settings.home / "blobs"
    with inspection.client(token(role="unit", jur="500151", unit="s-x")) as outsider:
        refused(
            outsider.post(f"{location}/self-evaluation", json={"items": items, "evidence": evidence}),
            403,
            "out_of_scope",
        )
        missing = outsider.post(
            "/v1/activities/00000000-0000-0000-0000-000000000001/self-evaluation",
            json={"items": items, "evidence": evidence},
        )
        assert missing.status_code == 404
    with inspection.client(token(role="unit", unit="s-other")) as other:
        refused(
            other.post(f"{location}/self-evaluation", json={"items": items, "evidence": evidence}), 403, "own_unit_only"
        )
    with inspection.client(token(role="unit", unit=school_id)) as own:  # a good file and a bad one: neither is kept
        bad = evidence + [
            {
                "name": "a.exe",
                "media_type": "application/x-msdownload",
                "content_base64": base64.b64encode(b"MZ").decode(),
            }
        ]
        assert own.post(f"{location}/self-evaluation", json={"items": items, "evidence": bad}).status_code == 422
    assert not [p for p in blobs.rglob("*") if p.is_file()] if blobs.exists() else True


def test_a_role_refusal_names_the_roles_in_words_not_python(registry, token):
    with registry.client(token(role="inspector")) as client:
        body = refused(client.post("/v1/schools", json={"name": "x"}), 403, "role_required")
    assert body["roles"] == ["admin"] and "admin (督导机构)" in body["detail"]


def test_an_upper_instance_reads_what_lower_ones_hold_but_writes_only_inside_itself(settings, serve, token):
    registry = serve(build_registry(settings))
    with registry.client(token(jur="500000")) as city:
        assert city.get("/v1/schools", params={"jurisdiction": "500000"}).status_code == 200
        body = refused(
            city.post(
                "/v1/schools",
                json={"name": "x", "jurisdiction": "500110", "stage": "primary", "ownership": "public", "enrolment": 1},
            ),
            403,
            "instance_boundary",
        )
        assert "500120" in body["detail"] and "500110" in body["detail"]
    monitoring = serve(build_monitoring(settings))
    with monitoring.client(token(jur="360123")) as elsewhere:
        assignment = {
            "framework": FRAMEWORK,
            "period": PERIOD,
            "jurisdiction": "360123",
            "agency_id": "ag",
            "agency_name": "院",
            "task": "collect",
            "contract": "c",
        }
        refused(elsewhere.post("/v1/assignments", json=assignment), 403, "instance_boundary")


def test_graphql_reads_admit_and_narrow_as_the_rest_routes_do(settings, registry, serve, token):
    """The subgraphs declare the same readers (dudao.scope.READERS and its kin): an agency reads no school, case or
    activity; an inspector sees the schools it answers for and its own teams' activities; the change feed is the
    offices'."""
    inspection, accountability = serve(build_inspection(settings)), serve(build_accountability(settings))
    with registry.client(token()) as reg:
        mine, other = school(reg, "璧山区青岚小学"), school(reg, "璧山区翠屏小学")
        inspector, colleague = active_inspector(reg, "甲", roles=["responsible"]), active_inspector(reg, "乙")
        zone = reg.post("/v1/zones", json={"name": "青岚责任区", "jurisdiction": "500120"}).json()["id"]
        assert reg.put(f"/v1/schools/{mine}/zone", json={"zone_id": zone}).status_code == 200
        assert reg.put(f"/v1/schools/{mine}/responsible-inspector", json={"inspector_id": inspector}).status_code == 200
        training = {"kind": "pre_service", "title": "上岗培训", "hours": 24, "completed_on": "2024-02-01"}
        assert reg.post(f"/v1/inspectors/{colleague}/trainings", json=training).status_code == 200
    for row_id in (mine, other):
        eventually(
            lambda row_id=row_id: in_copy(settings, "school_copy", row_id), what="the schools in inspection's copy"
        )
    with inspection.client(token()) as office:
        for target, leader in ((mine, inspector), (other, colleague)):
            location = office.post("/v1/activities", json=activity(target_id=target)).headers["Location"]
            eventually(
                lambda location=location, leader=leader: (
                    office.post(f"{location}/team", json={"leader_id": leader}).status_code == 200
                ),
                what="the team",
            )
    as_inspector = token(role="inspector", sub=inspector)
    schools = "{ schools { nodes { id } } }"
    eventually(lambda: answer(registry, schools, token())["schools"]["nodes"][1:], what="both schools in the directory")
    eventually(
        lambda: answer(registry, schools, as_inspector)["schools"]["nodes"] == [{"id": mine}],
        what="the school it answers for",
    )
    assert answer(registry, f'{{ school(id: "{other}") {{ id }} }}', as_inspector)["school"] is None
    activities = "{ activities { nodes { targetId } } }"
    eventually(lambda: len(answer(inspection, activities, token())["activities"]["nodes"]) == 2, what="both activities")
    assert answer(inspection, activities, as_inspector)["activities"]["nodes"] == [{"targetId": mine}]
    colleagues = f'{{ activities(inspectorId: "{colleague}") {{ nodes {{ targetId }} }} }}'
    assert refusal(inspection, colleagues, as_inspector)["rule"] == "not_on_team"  # as REST's ?inspector_id= answers

    # A colleague's record shows its trainings to the office and to the colleague, not to another inspector or a school.
    trainings = f'{{ inspector(id: "{colleague}") {{ name trainings {{ hours }} }} }}'
    eventually(
        lambda: answer(registry, trainings, token())["inspector"]["trainings"] == [{"hours": 24.0}], what="the training"
    )
    assert answer(registry, trainings, token(role="inspector", sub=colleague))["inspector"]["trainings"] == [
        {"hours": 24.0}
    ]
    for outsider in (as_inspector, token(role="unit", unit=mine)):
        assert answer(registry, trainings, outsider)["inspector"] == {"name": "乙", "trainings": []}

    agency = token(role="agency", unit="ag-1")
    assert refusal(registry, schools, agency)["rule"] == "role_required"
    assert refusal(inspection, activities, agency)["rule"] == "role_required"
    assert refusal(accountability, "{ rectificationCases { nodes { id } } }", agency)["rule"] == "role_required"
    assert refusal(accountability, "{ rectificationCases { nodes { id } } }", as_inspector)["rule"] == "role_required"
    assert (
        refusal(inspection, "{ inspectionChanges { nodes { id } } }", token(role="unit", unit=mine))["rule"]
        == "role_required"
    )
