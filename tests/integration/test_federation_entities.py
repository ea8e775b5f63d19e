"""A router's entity fetch against running subgraphs: `_entities` returns each entity the caller may see by its key,
and null for a key that is unknown or outside the caller's jurisdiction."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import ServedApp, eventually
from tests.factories import school
from tests.integration.conftest import CITY, COUNTY_B, FRAMEWORK, PERIOD, enter_and_submit

pytestmark = pytest.mark.integration


def entities(service: ServedApp, token: str, representations: list[dict], selection: str) -> list[dict | None]:
    """POST the query a router sends to fetch entities; the list comes back in the representations' order."""
    query = f"query($r: [_Any!]!) {{ _entities(representations: $r) {{ {selection} }} }}"
    with service.client(token) as client:
        response = client.post("/graphql", json={"query": query, "variables": {"r": representations}})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]["_entities"]


def test_the_registry_resolves_a_school_by_its_key_for_whoever_may_see_it(registry, token):
    with registry.client(token()) as client:
        school_id = school(client, "联邦实验小学")
        eventually(lambda: client.get(f"/v1/schools/{school_id}").status_code == 200, what="the school projected")
    representations = [{"__typename": "School", "id": school_id}, {"__typename": "School", "id": str(uuid.uuid4())}]
    selection = "... on School { id name jurisdiction }"

    found = entities(registry, token(jur="500120"), representations, selection)
    assert found == [{"id": school_id, "name": "联邦实验小学", "jurisdiction": "500120"}, None]
    # another district's office may not see it
    assert entities(registry, token(jur="500101"), representations, selection) == [None, None]


def test_monitoring_resolves_a_unit_result_by_framework_period_and_unit(place):
    enter_and_submit(place, "A")
    key = {"__typename": "UnitResult", "framework": FRAMEWORK, "period": PERIOD, "unitId": place.schools["A"]}
    representations = [key, key | {"period": "2030-2031"}, key | {"unitId": "no-such-unit"}]
    selection = "... on UnitResult { framework period unitId unitName passes parts { stage } }"

    found = eventually(
        lambda: (e := entities(place.monitoring, place.token(jur=CITY), representations, selection))[0] and e,
        what="A's result recorded",
    )
    assert found == [
        {
            "framework": FRAMEWORK,
            "period": PERIOD,
            "unitId": place.schools["A"],
            "unitName": "东川区A校",
            "passes": found[0]["passes"],
            "parts": [{"stage": "primary"}],
        },
        None,
        None,
    ]
    # another county's office may not see Dongchuan's school
    assert entities(place.monitoring, place.token(jur=COUNTY_B), representations, selection) == [None, None, None]
