"""The one graph over the four services, for the tests of the gateway: each service served, and the gateway in
front of them."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from gateway.app import build as build_gateway
from services.accountability.app import build as build_accountability
from services.inspection.app import build as build_inspection
from services.monitoring.app import build as build_monitoring
from tests.conftest import ServedApp, eventually
from tests.factories import COUNTY, activity, copied_inspector, copied_school, walk_to_issue


@dataclass
class Graph:
    registry: ServedApp
    inspection: ServedApp
    accountability: ServedApp
    monitoring: ServedApp
    gateway: ServedApp

    def calls(self) -> dict[str, int]:
        return dict(self.gateway.app.state.subgraphs.calls)


def gateway_for(settings, serve, **ports: int) -> ServedApp:
    return serve(build_gateway(replace(settings, ports=settings.ports | ports)))


@pytest.fixture
def graph(settings, registry, serve) -> Graph:
    served = {"registry": registry} | {
        name: serve(build(settings))
        for name, build in (
            ("inspection", build_inspection),
            ("accountability", build_accountability),
            ("monitoring", build_monitoring),
        )
    }
    gateway = gateway_for(settings, serve, **{name: app.port for name, app in served.items()})
    return Graph(**served, gateway=gateway)


@pytest.fixture
def reported_schools(graph, token, settings) -> list[str]:
    """Six schools, each with an issued report whose one finding opened a rectification case; the first school has
    balanced-development data submitted."""
    with graph.registry.client(token()) as reg:
        leader = copied_inspector(reg, settings, "李明远", roles=["responsible"])
        schools = [copied_school(reg, settings, f"璧山区学校{i}", stage="primary") for i in range(6)]
    with graph.inspection.client(token()) as client:
        for i, school_id in enumerate(schools):
            location = client.post(
                "/v1/activities", json=activity(target_id=school_id, target_name=f"璧山区学校{i}")
            ).headers["Location"]
            walk_to_issue(client, location, leader, f"消防通道堵塞{i}")
    with graph.accountability.client(token()) as client:
        eventually(lambda: len(client.get("/v1/cases", params={"limit": 50}).json()["items"]) == 6, what="six cases")
    with graph.monitoring.client(token()) as office:
        assert (
            office.post("/v1/frameworks/balanced_development/periods", json={"period": "2025-2026"}).status_code == 201
        )
        path = f"/v1/submissions/balanced_development/2025-2026/{schools[0]}"
        eventually(
            lambda: office.put(path, json={"values": COUNTY["A"][1]}).status_code == 200, what="the school copied"
        )
        assert office.post(f"{path}/submit").status_code == 200
        eventually(
            lambda: office.get("/v1/results/balanced_development/2025-2026").json()["units"], what="a unit result"
        )
    return schools
