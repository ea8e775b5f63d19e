"""The national platform's read-only API under /national/v1/ (issue 8, first part): role, paging, scope, OpenAPI."""

from __future__ import annotations

import pytest

from tests.conftest import eventually
from tests.integration.test_gateway import fifty_schools, gateway  # noqa: F401  (fixtures)

pytestmark = pytest.mark.integration


def test_the_national_role_pages_through_every_school_with_the_cursor(gateway, fifty_schools, token):  # noqa: F811
    seen, cursor = [], None
    with gateway.client(token(role="national", jur="000000")) as national:
        while True:
            page = national.get(
                "/national/v1/schools",
                params={"jurisdiction": "500120", "limit": 20} | ({"cursor": cursor} if cursor else {}),
            )
            assert page.status_code == 200, page.text
            seen += page.json()["items"]
            if (cursor := page.json()["next_cursor"]) is None:
                break
        staffing = national.get("/national/v1/staffing", params={"jurisdiction": "500120"}).json()
        provinces = national.get("/national/v1/jurisdictions").json()["items"]
    assert sorted(s["id"] for s in seen) == sorted(fifty_schools) and len(seen) == 50
    assert seen[0]["jurisdiction"] == {"code": "500120"} and staffing["schools"] == 50
    assert {"code": "500000", "name": "重庆市", "level": "province"} in provinces


def test_only_the_national_role_reads_and_nothing_writes(gateway, token):  # noqa: F811
    with gateway.client() as anonymous:
        assert anonymous.get("/national/v1/schools").status_code == 401
    with gateway.client(token(role="admin")) as office:
        refused = office.get("/national/v1/schools")
        assert refused.status_code == 403 and refused.json()["rule"] == "role_required"
    with gateway.client(token(role="national", jur="000000")) as national:
        assert national.post("/national/v1/schools", json={}).status_code == 405
        bad = national.get("/national/v1/schools", params={"limit": 500})
        assert bad.status_code == 422 and bad.json()["field"] == "limit"
        paths = national.get("/openapi.json").json()["paths"]
    assert {
        "/national/v1/schools",
        "/national/v1/inspectors",
        "/national/v1/activities",
        "/national/v1/staffing",
    } <= set(paths)


def test_a_provincial_national_client_is_held_to_its_province(gateway, token):  # noqa: F811
    with gateway.client(token(role="national", jur="530000")) as yunnan:
        outside = eventually(
            lambda: yunnan.get("/national/v1/schools", params={"jurisdiction": "500120"}), what="an answer"
        )
        below = yunnan.get("/national/v1/jurisdictions").json()["items"]
    assert outside.status_code == 403 and outside.json()["rule"] == "out_of_scope"
    # by default, what lies below the client's own province: Yunnan's 16 prefectures
    assert (
        len(below) == 16
        and all(j["code"].startswith("53") and j["code"].endswith("00") for j in below)
        and "530100" in [j["code"] for j in below]
    )
