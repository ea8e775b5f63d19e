"""The gateway: reads through the registry subgraph, batched with DataLoaders, the caller's token forwarded."""

from __future__ import annotations

import socket
from dataclasses import replace

import pytest

from gateway.app import build as build_gateway
from tests.conftest import eventually
from tests.factories import graphql

pytestmark = pytest.mark.integration


@pytest.fixture
def gateway(settings, registry, serve):
    ports = settings.ports | {"registry": registry.port}
    return serve(build_gateway(replace(settings, ports=ports)))


@pytest.fixture
def fifty_schools(registry, token) -> list[str]:
    with registry.client(token()) as client:
        ids = [
            client.post(
                "/v1/schools",
                json={
                    "name": f"学校{i:02d}",
                    "jurisdiction": "500120",
                    "stage": "primary",
                    "ownership": "public",
                    "enrolment": i,
                },
            ).json()["id"]
            for i in range(50)
        ]
        eventually(
            lambda: len(client.get("/v1/schools", params={"limit": 200}).json()["items"]) == 50, what="50 schools"
        )
    return ids


def registry_calls(gateway) -> int:
    return gateway.app.state.subgraphs.calls["registry"]


def test_fifty_schools_with_their_jurisdiction_cost_one_registry_call(gateway, fifty_schools, token):
    before = registry_calls(gateway)
    result = graphql(
        gateway, token(), "{ schools(first: 50) { nodes { id name jurisdiction { code name parent { code } } } } }"
    )
    nodes = result["data"]["schools"]["nodes"]
    assert len(nodes) == 50
    assert {n["jurisdiction"]["name"] for n in nodes} == {"璧山区"}
    assert registry_calls(gateway) - before == 1


def test_fifty_lookups_by_id_are_batched_into_one_call(gateway, fifty_schools, token):
    query = "{ " + " ".join(f's{i}: school(id: "{sid}") {{ name }}' for i, sid in enumerate(fifty_schools)) + " }"
    before = registry_calls(gateway)
    result = graphql(gateway, token(), query)
    assert result["data"]["s49"]["name"] == "学校49"
    assert registry_calls(gateway) - before == 1


def test_paging_through_the_gateway_follows_the_cursor(gateway, fifty_schools, token):
    query = "query($a: String) { schools(first: 20, after: $a) { nodes { name } pageInfo { hasNextPage endCursor } } }"
    names, after = [], None
    while True:
        page = graphql(gateway, token(), query, {"a": after})["data"]["schools"]
        names += [n["name"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert names == [f"学校{i:02d}" for i in range(50)]


def test_the_callers_token_decides_what_the_gateway_shows(gateway, fifty_schools, token):
    anonymous = graphql(gateway, None, "{ schools { nodes { id } } }")
    elsewhere = graphql(gateway, token(jur="530113"), "{ schools { nodes { id } } }")
    outside = graphql(gateway, token(jur="530113"), '{ schools(jurisdiction: "500120") { nodes { id } } }')
    assert anonymous["errors"][0]["extensions"]["rule"] == "unauthenticated"
    assert elsewhere["data"]["schools"]["nodes"] == []
    assert outside["errors"][0]["extensions"]["rule"] == "out_of_scope"


def test_inspectors_are_read_through_the_gateway(gateway, registry, token):
    with registry.client(token()) as client:
        client.post("/v1/inspectors", json={"name": "李明远", "jurisdiction": "500120", "employment": "full_time"})
    query = "{ inspectors { nodes { name employmentLabelZh jurisdiction { name } } } }"
    result = eventually(
        lambda: (r := graphql(gateway, token(), query))["data"]["inspectors"]["nodes"] and r, what="inspector"
    )
    assert result["data"]["inspectors"]["nodes"] == [
        {"name": "李明远", "employmentLabelZh": "专职", "jurisdiction": {"name": "璧山区"}}
    ]


def test_a_township_and_a_school_under_it_show_the_name_its_county_registered(gateway, registry, token):
    """Issue 21: a township is named by its county's office in the registry; the gateway shows that name wherever it
    shows the code, and any listed code with its parents."""
    with registry.client(token()) as client:
        assert client.put("/v1/townships/500120001", json={"name": "璧城街道"}).status_code == 200
        client.post(
            "/v1/schools",
            json={
                "name": "璧城小学",
                "jurisdiction": "500120001",
                "stage": "primary",
                "ownership": "public",
                "enrolment": 500,
            },
        )
    query = (
        "{ schools { nodes { name jurisdiction { code name parent { name } } } }"
        ' shenyang: jurisdiction(code: "210102") { name parent { name parent { name } } } }'
    )
    result = eventually(
        lambda: (r := graphql(gateway, token(), query))["data"]["schools"]["nodes"] and r, what="the school"
    )
    assert result["data"]["schools"]["nodes"] == [
        {"name": "璧城小学", "jurisdiction": {"code": "500120001", "name": "璧城街道", "parent": {"name": "璧山区"}}}
    ]
    assert result["data"]["shenyang"] == {"name": "和平区", "parent": {"name": "沈阳市", "parent": {"name": "辽宁省"}}}
    unnamed = graphql(gateway, token(), '{ jurisdiction(code: "500120002") { name } }')
    assert unnamed["data"]["jurisdiction"]["name"] == "500120002"  # not named yet: its code says where


def test_a_registry_that_is_down_is_an_error_naming_it_not_a_crash(settings, serve, token):
    with socket.socket() as reserved:  # bound but not listening: connections are refused, and no one else gets the port
        reserved.bind(("127.0.0.1", 0))
        dead_port = reserved.getsockname()[1]
        gateway = serve(build_gateway(replace(settings, ports=settings.ports | {"registry": dead_port})))
        result = graphql(gateway, token(), "{ schools { nodes { id } } }")
    assert result["errors"][0]["extensions"] == {"status": 503, "rule": "subgraph_unavailable", "service": "registry"}
