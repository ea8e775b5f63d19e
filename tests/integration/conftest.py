"""What more than one module of integration tests stands on: the one graph over the four services, for the tests of
the gateway (each service served, and the gateway in front of them); and a city's monitoring, for the tests of
collection and of results."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from gateway.app import build as build_gateway
from services.accountability.app import build as build_accountability
from services.inspection.app import build as build_inspection
from services.monitoring.app import build as build_monitoring
from services.registry.app import build as build_registry
from tests.conftest import ServedApp, eventually
from tests.factories import COUNTY, activity, copied_inspector, copied_school, school, walk_to_issue


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


# --- a city's monitoring: collection and results ----------------------------------------------------------------

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


def results(client, jurisdiction: str = COUNTY_A) -> dict:
    return client.get(f"/v1/results/{FRAMEWORK}/{PERIOD}", params={"jurisdiction": jurisdiction}).json()
