"""Issue 5 through the gateway: accountabilitySummary, rectification cases with their school, restrictions."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gateway.app import build as build_gateway
from services.accountability.app import build as build_accountability
from tests.conftest import eventually
from tests.factories import graphql, open_case

pytestmark = pytest.mark.integration


def test_the_summary_and_cases_with_their_school_come_through_the_gateway(settings, registry, serve, token):
    accountability = serve(build_accountability(settings))
    ports = settings.ports | {"registry": registry.port, "accountability": accountability.port}
    gateway = serve(build_gateway(replace(settings, ports=ports)))
    case = open_case(settings, serve, token, registry, accountability, target_name="璧山区南门小学")
    with accountability.client(token()) as office:
        office.post(
            f"/v1/cases/{case['id']}/feedback",
            json={"mode": "written", "decision": "限期整改", "requirements": "清理", "given_on": "2026-11-01"},
        )
        eventually(
            lambda: office.get("/v1/cases", params={"status": "in_rectification"}).json()["items"],
            what="feedback projected",
        )

    data = graphql(
        gateway,
        token(),
        """{
        accountabilitySummary(jurisdiction: "500120") { openCases items overdueItems noticesIssued reboundRate jurisdiction { name } }
        rectificationCases(status: "in_rectification") { nodes { unitName status school { name } items { status deadline lapses } } }
        restrictions { name } }""",
    )
    assert "errors" not in data, data
    summary = data["data"]["accountabilitySummary"]
    assert summary == {
        "openCases": 1,
        "items": 1,
        "overdueItems": 0,
        "noticesIssued": 0,
        "reboundRate": None,
        "jurisdiction": {"name": "璧山区"},
    }
    [row] = data["data"]["rectificationCases"]["nodes"]
    assert row["school"] == {"name": "璧山区南门小学"} and row["items"] == [
        {"status": "awaiting_report", "deadline": "2026-12-01", "lapses": 0}
    ]
    assert data["data"]["restrictions"] == []

    outside = graphql(gateway, token(jur="500110"), '{ accountabilitySummary(jurisdiction: "500120") { openCases } }')
    assert outside["errors"][0]["extensions"]["rule"] == "out_of_scope"
