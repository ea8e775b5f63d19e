"""Decision 047 over the real stack: the start page answered from memory while every service's marks stand, shown
anew as soon as any service shows a change, and never kept when it cannot be known what it came from."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.conftest import eventually
from tests.factories import graphql, school

pytestmark = pytest.mark.integration

PAGE = """{ dashboard(jurisdiction: "500120") { month jurisdiction { name }
  staffing { schools r1 { met } } routineCoverage { schools visited coverage }
  rectification { openCases items overdueItems } interviews { status count } circulars { status count }
  latestVerdicts { framework period passes } verdicts { framework areas } } }"""


def from_memory(graph, caller: str) -> dict:
    """The page once what it shows has settled (the fixture's events still reaching read models change their
    marks): asked until asking it again reaches no service."""
    found = {}

    def again() -> bool:
        found["page"] = graphql(graph.gateway, caller, PAGE)
        before = graph.calls()
        return graphql(graph.gateway, caller, PAGE) == found["page"] and graph.calls() == before

    eventually(again, what="the start page answered from memory")
    return found["page"]


def test_a_page_asked_again_comes_from_memory_and_shows_a_change_as_soon_as_its_service_does(
    graph, reported_schools, token
):
    office = token()
    first = from_memory(graph, office)
    assert "errors" not in first and first["data"]["dashboard"]["staffing"]["schools"] == 6, first
    before = graph.calls()

    with graph.registry.client(office) as reg:
        school(reg, "璧山区学校6", "500120", stage="primary")
    eventually(  # the registry's own subgraph shows it ...
        lambda: (
            graphql(graph.registry, office, '{ staffingCompliance(jurisdiction: "500120") { schools } }')["data"][
                "staffingCompliance"
            ]["schools"]
            == 7
        ),
        what="the registry counting the new school",
    )
    # ... and so does the very next page, not one a little later
    assert graphql(graph.gateway, office, PAGE)["data"]["dashboard"]["staffing"]["schools"] == 7
    assert graph.calls() == {k: v + 1 for k, v in before.items()}

    with graph.gateway.client() as ops:  # how the start pages were answered, for ops
        served = ops.get("/metrics").text
    assert re.search(r'dudao_gateway_start_pages_total\{answered="from_memory"\} [1-9]', served), served
    assert re.search(r'dudao_gateway_start_pages_total\{answered="kept"\} [1-9]', served), served


def test_a_new_day_at_a_service_computes_the_page_again(graph, reported_schools, token):
    """What is overdue depends on the accountability service's day, which its marks do not show."""
    office = token()
    from_memory(graph, office)
    before = graph.calls()
    graph.accountability.app.state.clock.advance(timedelta(days=1))
    graphql(graph.gateway, office, PAGE)
    assert graph.calls() == {k: v + 1 for k, v in before.items()}


@pytest.mark.parametrize(
    ("role", "query"),
    [
        pytest.param("admin", PAGE.replace("month", "month links { service }", 1), id="the links, read live"),
        pytest.param("reader", PAGE.replace("month", "month links { service }", 1), id="an answer with an error"),
        pytest.param("admin", '{ staffingCompliance(jurisdiction: "500120") { schools } }', id="not the start page"),
    ],
)
def test_a_page_is_not_kept_when_what_it_came_from_is_not_known(graph, reported_schools, token, role, query):
    from_memory(graph, token())  # settled, and remembered for the office
    caller = token(role=role)
    graphql(graph.gateway, caller, query)
    before = graph.calls()
    graphql(graph.gateway, caller, query)
    assert graph.calls()["registry"] > before["registry"]  # asked again


def test_another_caller_is_never_answered_from_memory(graph, reported_schools, token):
    from_memory(graph, token(sub="office-a"))
    before = graph.calls()
    other = graphql(graph.gateway, token(sub="office-b"), PAGE)
    assert graph.calls() == {k: v + 1 for k, v in before.items()} and "errors" not in other, other
