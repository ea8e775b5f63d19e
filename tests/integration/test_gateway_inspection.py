"""Issue 4 through the gateway: activities by school and inspector with team and findings, draws, coverage, reports."""

from __future__ import annotations

from dataclasses import replace

import psycopg
import pytest

from gateway.app import build as build_gateway
from services.inspection.app import build as build_inspection
from tests.conftest import eventually
from tests.factories import DRAW, active_inspector, activity, copied_inspector, copied_school, graphql, school

pytestmark = pytest.mark.integration


@pytest.fixture
def stack(settings, registry, serve):
    inspection = serve(build_inspection(settings))
    ports = settings.ports | {"registry": registry.port, "inspection": inspection.port}
    return inspection, serve(build_gateway(replace(settings, ports=ports)))


def test_schools_with_their_activities_team_and_findings_cost_three_calls(stack, registry, token, settings):
    inspection, gateway = stack
    with registry.client(token()) as reg:
        leader = copied_inspector(reg, settings, "李明远", roles=["responsible"])
        schools = [copied_school(reg, settings, f"学校{i}") for i in range(6)]
    with inspection.client(token()) as client:
        for i, school_id in enumerate(schools):
            location = client.post(
                "/v1/activities", json=activity(target_id=school_id, target_name=f"学校{i}")
            ).headers["Location"]
            client.post(f"{location}/team", json={"leader_id": leader})
            client.post(f"{location}/notice", json={"notified_on": "2026-10-08"})
            client.post(f"{location}/on-site", json={"on": "2026-10-10"})
            client.post(
                f"{location}/findings",
                json={
                    "findings": [
                        {
                            "area": "safety",
                            "severity": "minor",
                            "description": "消防通道堵塞",
                            "needs_rectification": True,
                        }
                    ]
                },
            )
        eventually(
            lambda: len(client.get("/v1/activities", params={"status": "findings_recorded"}).json()["items"]) == 6,
            what="six activities",
        )
    calls = gateway.app.state.subgraphs.calls
    before = dict(calls)
    data = graphql(
        gateway,
        token(),
        """{ schools(first: 50) { nodes { name activities { title status { value }
        findings { area { value } description } team { name } } } } }""",
    )["data"]
    spent = {k: calls[k] - before.get(k, 0) for k in calls if calls[k] - before.get(k, 0)}
    nodes = data["schools"]["nodes"]
    assert len(nodes) == 6 and all(len(n["activities"]) == 1 for n in nodes)
    first = nodes[0]["activities"][0]
    assert first["status"] == {"value": "findings_recorded"} and first["team"] == [{"name": "李明远"}]
    assert first["findings"] == [{"area": {"value": "safety"}, "description": "消防通道堵塞"}]
    assert spent == {"registry": 2, "inspection": 1}  # schools, then activities, then the teams' inspectors
    by_inspector = graphql(gateway, token(), f'{{ inspector(id: "{leader}") {{ activities {{ title }} }} }}')["data"]
    assert len(by_inspector["inspector"]["activities"]) == 6


def test_draws_coverage_and_public_reports_through_the_gateway(stack, registry, token, settings):
    inspection, gateway = stack
    with registry.client(token()) as reg:
        for i in range(4):
            school(reg, f"小学{i}")
        for name in ("甲", "乙"):
            active_inspector(reg, name)
    with psycopg.connect(settings.database_url) as conn:
        eventually(
            lambda: (
                conn.execute("SELECT count(*) FROM inspection.inspector_copy WHERE status = 'active'").fetchone()[0]
                == 2
                and conn.execute("SELECT count(*) FROM inspection.school_copy").fetchone()[0] == 4
            ),
            what="the copy",
        )
    with inspection.client(token()) as client:
        location = client.post("/v1/draws", json=DRAW | {"targets": {"stages": ["primary"], "count": 2}}).headers[
            "Location"
        ]
        client.post(f"{location}/performance")
    draw_id = location.rsplit("/", 1)[1]
    data = graphql(
        gateway, None, f'{{ draw(id: "{draw_id}") {{ status seed targets verification {{ ok detail }} }} }}'
    )["data"]
    coverage = graphql(
        gateway, token(), '{ routineCoverage(month: "2026-10") { schools visited zones { notVisited { name } } } }'
    )
    reports = graphql(gateway, None, '{ publicReports(jurisdiction: "500120") { title } }')
    assert data["draw"]["status"] == "performed" and data["draw"]["verification"]["ok"] is True
    assert len(data["draw"]["targets"]) == 2 and data["draw"]["seed"]
    assert coverage["data"]["routineCoverage"]["schools"] == 4 and coverage["data"]["routineCoverage"]["visited"] == 0
    assert reports["data"]["publicReports"] == []


def test_the_self_evaluation_comes_through_the_gateway_to_the_office_and_not_to_another_unit(
    stack, registry, token, settings
):
    """Issue 19: the office preparing a visit could not read what the school submitted, in REST or GraphQL."""
    import base64

    inspection, gateway = stack
    with registry.client(token()) as reg:
        leader = copied_inspector(reg, settings, "李明远")
        school_id = copied_school(reg, settings, "璧山区青岚小学")
    with inspection.client(token()) as client:
        location = client.post("/v1/activities", json=activity(kind="comprehensive", target_id=school_id)).headers[
            "Location"
        ]
        client.post(f"{location}/team", json={"leader_id": leader})
        client.post(f"{location}/notice", json={"notified_on": "2026-10-08"})
    evidence = {
        "name": "自评报告.pdf",
        "media_type": "application/pdf",
        "content_base64": base64.b64encode(b"%PDF-1.4 self").decode(),
    }
    with inspection.client(token(role="unit", unit=school_id)) as unit:
        assert (
            unit.post(
                f"{location}/self-evaluation",
                json={"items": [{"item": "依法治校", "score": 92}], "evidence": [evidence]},
            ).status_code
            == 200
        )
    with inspection.client(token()) as client:
        eventually(
            lambda: client.get(location).json().get("status") == "self_evaluation_submitted",
            what="the submission in the read model",
        )
    query = """{ schools(first: 5) { nodes { activities { selfEvaluation { items { item score } evidence { name href } } } } } }"""
    office = graphql(gateway, token(), query)["data"]["schools"]["nodes"][0]["activities"][0]["selfEvaluation"]
    own = graphql(gateway, token(role="unit", unit=school_id), query)["data"]["schools"]["nodes"]
    activity_id = location.rsplit("/", 1)[1]
    other = graphql(
        gateway,
        token(role="unit", unit="s-other"),
        f'{{ activity(id: "{activity_id}") {{ selfEvaluation {{ items {{ score }} }} }} }}',
    )
    assert office["items"] == [{"item": "依法治校", "score": 92.0}]
    assert office["evidence"][0]["name"] == "自评报告.pdf" and office["evidence"][0]["href"].startswith(
        f"/v1/activities/{activity_id}/evidence/"
    )
    assert own[0]["activities"][0]["selfEvaluation"]["items"][0]["score"] == 92.0
    assert not (other.get("data") or {}).get("activity"), (
        other
    )  # another unit sees neither the activity nor its evaluation
