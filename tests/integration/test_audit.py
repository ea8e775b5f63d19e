"""The audit: who did what, when, in which request, on every service and through the gateway; any aggregate as it stood."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import pytest

from gateway.app import build as build_gateway
from services.accountability.app import build as build_accountability
from services.inspection.app import build as build_inspection
from services.monitoring.app import build as build_monitoring
from tests.conftest import ServedApp, eventually

pytestmark = pytest.mark.integration

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def school(**overrides) -> dict:
    body = {
        "name": "璧山区青岚小学",
        "jurisdiction": "500120",
        "stage": "primary",
        "ownership": "public",
        "enrolment": 900,
    }
    return body | overrides


def request_headers(correlation: str) -> dict[str, str]:
    return {"X-Correlation-Id": correlation, "traceparent": f"00-{TRACE}-00f067aa0ba902b7-01"}


def trail(client, expected: int | None = None, **params) -> list[dict]:
    """Every audit entry the filters select, read a page of `limit` at a time (after waiting for `expected` of them)."""
    if expected is not None:
        eventually(
            lambda: len(client.get("/v1/audit", params=params | {"limit": 200}).json()["items"]) >= expected,
            what=f"{expected} audit entries",
        )
    response = client.get("/v1/audit", params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


@dataclass
class Renamed:
    """A school registered by alice and renamed by bob: its id and its two audit entries."""

    id: str
    registered: dict
    renamed: dict


@pytest.fixture
def renamed(registry, token) -> Renamed:
    return _renamed(registry, token)


def _renamed(registry, token) -> Renamed:
    """A school registered by alice and renamed by bob, with their two audit entries."""
    with registry.client(token(sub="alice")) as alice, registry.client(token(sub="bob")) as bob:
        created = alice.post("/v1/schools", json=school(), headers=request_headers("corr-register"))
        assert created.status_code == 201, created.text
        school_id = created.json()["id"]
        changed = bob.put(
            f"/v1/schools/{school_id}",
            json={"name": "璧山区青岚实验小学", "enrolment": 950},
            headers=request_headers("corr-rename"),
        )
        assert changed.status_code == 200, changed.text
        first, second = trail(alice, expected=2, aggregate_id=school_id)
    return Renamed(school_id, first, second)


def test_each_entry_says_who_when_what_and_in_which_request_and_trace(renamed):
    first, second = renamed.registered, renamed.renamed
    assert (first["actor"], first["event_type"], first["aggregate_type"]) == ("alice", "School.Registered", "School")
    assert first["version"] == 1
    assert (second["actor"], second["event_type"], second["version"]) == ("bob", "School.DetailsUpdated", 2)
    assert (first["correlation_id"], second["correlation_id"]) == ("corr-register", "corr-rename")
    assert first["trace_id"] == second["trace_id"] == TRACE
    assert first["jurisdiction"] == second["jurisdiction"] == "500120"
    assert second["data"]["name"] == "璧山区青岚实验小学" and "timestamp" not in second["data"]
    assert datetime.fromisoformat(first["at"]) < datetime.fromisoformat(second["at"])


def test_the_audit_filters_by_actor_type_and_time(registry, token, renamed):
    with registry.client(token()) as client:
        assert [e["actor"] for e in trail(client, actor="bob")] == ["bob"]
        assert [e["event_type"] for e in trail(client, event_type="School.Registered")] == ["School.Registered"]
        assert len(trail(client, aggregate_type="School")) == 2 and trail(client, aggregate_type="Inspector") == []
        assert [e["actor"] for e in trail(client, **{"from": renamed.renamed["at"]})] == ["bob"]
        assert [e["actor"] for e in trail(client, to=renamed.renamed["at"], aggregate_id=renamed.id)] == ["alice"]
        refused = client.get("/v1/audit", params={"from": "last tuesday"})
    assert refused.status_code == 422 and refused.json()["field"] == "from"


def test_the_audit_pages_with_a_cursor(registry, token, renamed):
    with registry.client(token()) as client:
        schools = {"limit": 1, "aggregate_type": "School"}  # the registry also recorded its shipped policy profiles
        page = client.get("/v1/audit", params=schools).json()
        assert [e["actor"] for e in page["items"]] == ["alice"] and page["next_cursor"]
        page = client.get("/v1/audit", params=schools | {"cursor": page["next_cursor"]}).json()
        assert [e["actor"] for e in page["items"]] == ["bob"] and page["next_cursor"]
        last = client.get("/v1/audit", params=schools | {"cursor": page["next_cursor"]}).json()
        assert last == {"items": [], "next_cursor": None}
        assert client.get("/v1/audit", params={"cursor": "garbage"}).json()["field"] == "cursor"


def test_a_county_admin_sees_only_their_countys_events(settings, serve, token):
    from services.registry.app import build

    registry = serve(build(replace(settings, jurisdiction="500000")))  # Chongqing's instance holds both districts
    renamed = _renamed(registry, token)
    with registry.client(token(jur="500000", sub="city")) as city:
        elsewhere = city.post("/v1/schools", json=school(name="万州小学", jurisdiction="500101")).json()["id"]
        assert len(trail(city, expected=3, aggregate_type="School")) == 3
    with registry.client(token(jur="500120")) as bishan:
        assert {e["aggregate_id"] for e in trail(bishan, aggregate_type="School")} == {renamed.id}
        assert {e["jurisdiction"] for e in trail(bishan, limit=200)} == {"500120"}
        assert bishan.get("/v1/audit", params={"jurisdiction": "500101"}).status_code == 403
        assert bishan.get(f"/v1/audit/{elsewhere}").status_code == 403
    with registry.client(token(jur="500101")) as wanzhou:
        assert [e["aggregate_id"] for e in trail(wanzhou, aggregate_type="School")] == [elsewhere]


def test_only_admin_and_ops_may_read_the_audit(registry, token, renamed):
    with registry.client(token(role="inspector")) as inspector, registry.client(token(role="ops")) as ops:
        assert inspector.get("/v1/audit").status_code == 403
        assert inspector.get(f"/v1/audit/{renamed.id}").status_code == 403
        assert len(trail(ops, aggregate_type="School")) == 2


def test_a_school_as_it_stood_at_a_version_and_at_a_time(registry, token, renamed):
    registered, changed = (
        datetime.fromisoformat(renamed.registered["at"]),
        datetime.fromisoformat(renamed.renamed["at"]),
    )
    between = registered + (changed - registered) / 2
    with registry.client(token()) as client:
        now = client.get(f"/v1/audit/{renamed.id}").json()
        at_one = client.get(f"/v1/audit/{renamed.id}", params={"version": 1}).json()
        then = client.get(f"/v1/audit/{renamed.id}", params={"as_of": between.isoformat()}).json()
    assert (now["version"], now["state"]["name"], now["state"]["enrolment"]) == (2, "璧山区青岚实验小学", 950)
    assert (at_one["version"], at_one["current_version"]) == (1, 2)
    assert (at_one["state"]["name"], at_one["state"]["enrolment"]) == ("璧山区青岚小学", 900)
    assert then == at_one
    assert datetime.fromisoformat(at_one["at"]) == registered and datetime.fromisoformat(now["at"]) == changed
    assert at_one["aggregate_type"] == "School" and at_one["state"]["jurisdiction"] == "500120"


def test_point_in_time_refuses_unknown_ids_and_garbage(registry, token, renamed):
    with registry.client(token()) as client:
        unknown = client.get("/v1/audit/00000000-0000-0000-0000-00000000beef")
        too_early = client.get(f"/v1/audit/{renamed.id}", params={"as_of": "2000-01-01T00:00:00Z"})
        too_far = client.get(f"/v1/audit/{renamed.id}", params={"version": 3})
        bad_time = client.get(f"/v1/audit/{renamed.id}", params={"as_of": "soon"})
        bad_version = client.get(f"/v1/audit/{renamed.id}", params={"version": "two"})
    assert unknown.status_code == too_early.status_code == too_far.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert (bad_time.status_code, bad_time.json()["field"]) == (422, "as_of")
    assert (bad_version.status_code, bad_version.json()["field"]) == (422, "version")


# --- through the gateway ------------------------------------------------------------------------------------------

QUERY = """
query($after: String, $actor: String, $from: String) {
  auditTrail(first: 2, after: $after, actor: $actor, from: $from) {
    nodes { service actor eventType aggregateType aggregateId correlationId traceId data jurisdiction { code } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


@pytest.fixture
def everything(settings, registry, serve) -> tuple[ServedApp, ServedApp, ServedApp]:
    """The four services and the gateway over them: (registry, accountability, gateway)."""
    others = {"inspection": build_inspection, "accountability": build_accountability, "monitoring": build_monitoring}
    served = {name: serve(build(settings)) for name, build in others.items()}
    ports = {"registry": registry.port} | {name: app.port for name, app in served.items()}
    return registry, served["accountability"], serve(build_gateway(replace(settings, ports=settings.ports | ports)))


def ask(gateway: ServedApp, token: str, **variables) -> dict:
    with gateway.client(token) as client:
        response = client.post("/graphql", json={"query": QUERY, "variables": variables})
    assert response.status_code == 200, response.text
    return response.json()


def test_the_gateway_merges_every_services_audit_in_time_order(everything, token, renamed):
    registry, accountability, gateway = everything
    interview = {
        "unit_kind": "school",
        "unit_id": renamed.id,
        "unit_name": "璧山区青岚实验小学",
        "trigger": "duties_not_fulfilled",
        "reason": "整改不力",
    }
    with accountability.client(token(sub="carol")) as client:
        proposed = eventually(
            lambda: (r := client.post("/v1/interviews", json=interview)).status_code == 201 and r,
            what="the interview proposed",
        )
        eventually(lambda: trail(client), what="accountability's audit entry")
    since = renamed.registered["at"]  # what the test did, not the policy profiles the registry installed at start
    first = ask(gateway, token(), **{"from": since})["data"]["auditTrail"]
    assert [(n["service"], n["actor"]) for n in first["nodes"]] == [("registry", "alice"), ("registry", "bob")]
    assert first["pageInfo"]["hasNextPage"]
    assert first["nodes"][0]["traceId"] == TRACE and first["nodes"][0]["jurisdiction"]["code"] == "500120"
    rest = ask(gateway, token(), after=first["pageInfo"]["endCursor"], **{"from": since})["data"]["auditTrail"]
    assert [(n["service"], n["actor"], n["aggregateId"]) for n in rest["nodes"]] == [
        ("accountability", "carol", proposed.json()["id"])
    ]
    assert not rest["pageInfo"]["hasNextPage"]
    assert [n["actor"] for n in ask(gateway, token(), actor="carol")["data"]["auditTrail"]["nodes"]] == ["carol"]


def test_the_gateways_audit_trail_is_for_admin_and_ops_only(everything, token, renamed):
    refused = ask(everything[2], token(role="inspector"))
    assert refused["data"]["auditTrail"] is None
    assert refused["errors"][0]["extensions"]["status"] == 403
