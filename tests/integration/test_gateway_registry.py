"""Issue 3 through the gateway: the links an office follows, bounded subgraph calls, the public view."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gateway.app import build as build_gateway
from tests.conftest import eventually
from tests.factories import COMMITTEE, active_inspector, school

pytestmark = pytest.mark.integration


@pytest.fixture
def gateway(settings, registry, serve):
    return serve(build_gateway(replace(settings, ports=settings.ports | {"registry": registry.port})))


def graphql(gateway, token: str | None, query: str) -> dict:
    with gateway.client(token) as client:
        response = client.post("/graphql", json={"query": query})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def zone_with_schools(registry, token):
    """Two zones of five schools each, a listed responsible inspector per zone, training and an assessment."""
    with registry.client(token()) as client:
        zones = []
        for z in range(2):
            zone_id = client.post("/v1/zones", json={"name": f"责任区{z}", "jurisdiction": "500120"}).json()["id"]
            inspector = active_inspector(
                client, f"督学{z}", roles=["listed", "responsible"], public_contact=f"023-0000-000{z}"
            )
            client.post(f"/v1/zones/{zone_id}/listed-inspectors", json={"inspector_id": inspector})
            client.post(
                f"/v1/inspectors/{inspector}/trainings",
                json={"kind": "pre_service", "title": "上岗培训", "hours": 24, "completed_on": "2024-02-01"},
            )
            client.post(f"/v1/inspectors/{inspector}/assessments", json={"year": 2025, "grade": "excellent"})
            for s in range(5):
                school_id = school(client, f"学校{z}{s}")
                client.put(f"/v1/schools/{school_id}/zone", json={"zone_id": zone_id})
                client.put(f"/v1/schools/{school_id}/responsible-inspector", json={"inspector_id": inspector})
            zones.append(zone_id)
        client.post(
            f"/v1/schools/{school_id}/principal",
            json={"name": "周校长", "term_start": "2023-09-01", "term_end": "2028-08-31"},
        )
        client.put("/v1/committees/500120", json=COMMITTEE)
        eventually(
            lambda: (
                sum(
                    1
                    for s in client.get("/v1/schools", params={"limit": 200}).json()["items"]
                    if s["responsible_inspector_id"]
                )
                == 10
                and client.get(f"/v1/schools/{school_id}").json()["principal"] is not None
                and client.get("/v1/committees/500120").status_code == 200
            ),
            what="schools in zones with their inspectors",
        )
    return zones


QUERY = """{ schools(first: 50) { nodes { name principal { name } licence { labelZh }
  zone { name listedInspectors { name publicContact } }
  responsibleInspector { name status { labelZh } trainings { kind { value } hours } assessments { year grade { labelZh } }
    zones { name } } } } }"""


def test_schools_with_zone_inspector_training_and_assessment_cost_three_calls(gateway, zone_with_schools, token):
    before = gateway.app.state.subgraphs.calls["registry"]
    nodes = graphql(gateway, token(), QUERY)["data"]["schools"]["nodes"]
    calls = gateway.app.state.subgraphs.calls["registry"] - before
    assert len(nodes) == 10
    first = next(n for n in nodes if n["name"] == "学校00")
    assert first["zone"] == {
        "name": "责任区0",
        "listedInspectors": [{"name": "督学0", "publicContact": "023-0000-0000"}],
    }
    assert first["responsibleInspector"]["trainings"] == [{"kind": {"value": "pre_service"}, "hours": 24.0}]
    assert first["responsibleInspector"]["assessments"] == [{"year": 2025, "grade": {"labelZh": "优秀"}}]
    assert first["responsibleInspector"]["zones"] == [{"name": "责任区0"}]
    assert next(n for n in nodes if n["name"] == "学校14")["principal"] == {"name": "周校长"}
    assert first["licence"] == {"labelZh": "有效"}
    # schools, then zones and inspectors (one batch each); the inspectors' zones are already loaded.
    assert calls == 3


def test_committee_staffing_and_the_public_view_through_the_gateway(gateway, zone_with_schools, token):
    data = graphql(
        gateway,
        token(),
        """{ committee(jurisdiction: "500120") { director memberUnits { name contactPerson } jurisdiction { name } }
      staffingCompliance(jurisdiction: "500120") { schools inspectors profileVersion r1 { requiredInspectors met } r3 { met } } }""",
    )["data"]
    public = graphql(
        gateway, None, '{ publicListedInspectors(jurisdiction: "500120") { name zone schools publicContact } }'
    )
    hidden = graphql(gateway, None, "{ inspectors { nodes { name } } }")
    assert data["committee"]["memberUnits"][0] == {"name": "区委组织部", "contactPerson": "张三"}
    assert data["committee"]["jurisdiction"] == {"name": "璧山区"}
    assert data["staffingCompliance"] == {
        "schools": 10,
        "inspectors": 2,
        "profileVersion": "000000@1/500000@1/500120@1",
        "r1": {"requiredInspectors": 2, "met": True},
        "r3": {"met": False},
    }
    assert [p["name"] for p in public["data"]["publicListedInspectors"]] == ["督学0", "督学1"]
    assert len(public["data"]["publicListedInspectors"][0]["schools"]) == 5
    assert hidden["errors"][0]["extensions"]["rule"] == "unauthenticated"
