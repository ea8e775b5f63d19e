"""The monitoring subgraph's fields for the gateway's batching: many units' results in one call, and each
framework's latest verdicts per level with their CVs, both scoped to the caller."""

from __future__ import annotations

import pytest

from tests.conftest import eventually
from tests.factories import COUNTY, school_values
from tests.integration.conftest import CITY, COUNTY_A, COUNTY_B, FRAMEWORK, PERIOD, Place, enter_and_submit, results

pytestmark = pytest.mark.integration

NEXT_PERIOD = "2026-2027"


def graphql(at: Place, jur: str, query: str) -> dict:
    with at.monitoring.client(at.token(jur=jur)) as client:
        response = client.post("/graphql", json={"query": query})
    assert response.status_code == 200, response.text
    return response.json()


def results_for(at: Place, jur: str, ids: list[str], filters: str = "") -> dict[str, list[dict]]:
    args = ", ".join(f'"{i}"' for i in ids)
    query = (
        f"{{ resultsForUnits(unitIds: [{args}]{filters}) {{ key results {{ framework period unitId unitName }} }} }}"
    )
    return {g["key"]: g["results"] for g in graphql(at, jur, query)["data"]["resultsForUnits"]}


def test_results_for_many_units_come_grouped_in_the_order_asked_and_scoped_to_the_caller(place):
    enter_and_submit(place, "A")
    enter_and_submit(place, "D")
    a, d, x = place.schools["A"], place.schools["D"], place.schools["X"]
    grouped = eventually(
        lambda: (g := results_for(place, CITY, [x, d, a, "nobody"])) and g[a] and g[d] and g, what="A and D recorded"
    )

    assert list(grouped) == [x, d, a, "nobody"]
    assert grouped[a] == [{"framework": FRAMEWORK, "period": PERIOD, "unitId": a, "unitName": "东川区A校"}]
    assert grouped[x] == grouped["nobody"] == []
    assert results_for(place, CITY, [a], f', framework: "{FRAMEWORK}", period: "{PERIOD}"')[a] == grouped[a]
    assert results_for(place, CITY, [a], ', framework: "preschool_inclusive"')[a] == []
    assert results_for(place, COUNTY_B, [a, d]) == {a: [], d: []}  # Xundian's office does not see Dongchuan's schools
    refused = graphql(place, CITY, f'{{ resultsForUnits(unitIds: ["{a}"], period: "2025") {{ key }} }}')
    assert refused["errors"][0]["extensions"]["rule"] == "school_year"


def verdicts(at: Place, jur: str, asked: str | None = None) -> dict:
    argument = f'(jurisdiction: "{asked}")' if asked else ""
    query = f"""{{ latestVerdicts{argument} {{ framework frameworkName period jurisdiction frameworkVersion passes provisional
        computedAt stages {{ stage schools pupils indicators {{ key cv cvMax within }} }} }} }}"""
    return graphql(at, jur, query)


def tallies(at: Place, jur: str, asked: str | None = None) -> dict:
    argument = f'(jurisdiction: "{asked}")' if asked else ""
    query = f"""{{ verdictTallies{argument} {{ framework frameworkName period areas passing failing noVerdict
        provisional }} }}"""
    return graphql(at, jur, query)


def test_a_start_page_gets_each_frameworks_verdicts_counted_as_the_verdicts_themselves_show_them(place):
    """Decision 037: a province's start page counts its hundreds of counties' verdicts rather than list their CVs."""
    for name in ("A", "D", "E"):
        enter_and_submit(place, name)
    with place.office(CITY) as office:
        eventually(lambda: results(office)["area"]["units"] == 3, what="Dongchuan's verdict over three schools")
    assert [t["areas"] for t in tallies(place, CITY)["data"]["verdictTallies"]] == [1]  # remembered (decision 044)
    with place.monitoring.client(place.token(role="unit", jur=COUNTY_B, unit=place.schools["X"])) as x:
        path = f"/v1/submissions/{FRAMEWORK}/{PERIOD}/{place.schools['X']}"
        # A's staff in a school with next to no rooms, ground, equipment or classrooms: it meets 3 of 7 bars (6 needed)
        undersized = school_values(
            {"primary": 400}, {"primary": 24}, {"primary": 20}, {"primary": 8}, {"primary": 4}, 40, 40, 1000, 0
        )
        assert x.put(path, json={"values": undersized}).status_code == 200
        assert x.post(f"{path}/submit").status_code == 200
    with place.office(CITY) as office:
        eventually(lambda: results(office, COUNTY_B)["area"]["units"] == 1, what="Xundian's verdict")
        eventually(lambda: results(office)["area"]["units"] == 3, what="Dongchuan's verdict over three schools")
    found = verdicts(place, CITY)["data"]["latestVerdicts"]
    print(found)
    [tally] = tallies(place, CITY)["data"]["verdictTallies"]
    assert tally == {
        "framework": FRAMEWORK,
        "frameworkName": found[0]["frameworkName"],
        "period": PERIOD,
        "areas": 2,
        "passing": 1,
        "failing": [COUNTY_B],
        "noVerdict": 0,
        "provisional": sum(v["provisional"] for v in found),
    }
    assert [v["passes"] for v in found] == [True, False]  # as the verdicts themselves say
    assert tallies(place, COUNTY_A)["data"]["verdictTallies"] == [  # the county's office counts its own
        tally | {"areas": 1, "passing": 1, "failing": [], "provisional": int(found[0]["provisional"])}
    ]
    outside = tallies(place, COUNTY_B, asked=CITY)
    assert outside["data"] is None and outside["errors"][0]["extensions"]["rule"] == "out_of_scope"


def test_latest_verdicts_show_each_county_under_the_office_for_its_newest_period_with_the_cvs(place):
    for name in ("A", "D", "E"):
        enter_and_submit(place, name)
    with place.office(CITY) as office:
        eventually(lambda: results(office)["area"]["units"] == 3, what="Dongchuan's verdict over three schools")
    found = verdicts(place, CITY)["data"]["latestVerdicts"]
    assert [(v["framework"], v["period"], v["jurisdiction"], v["frameworkVersion"]) for v in found] == [
        (FRAMEWORK, PERIOD, COUNTY_A, 1)
    ]
    verdict = found[0]
    assert (
        verdict["frameworkName"].startswith("Compulsory education high-quality balanced development")
        and verdict["computedAt"]
    )
    primary = next(s for s in verdict["stages"] if s["stage"] == "primary")
    floor = next(i for i in primary["indicators"] if i["key"] == "teaching_floor_area_per_pupil")
    assert primary["pupils"] == 1000 and floor["cv"] == pytest.approx(0.233285, abs=1e-6)  # as in test_monitoring
    assert floor["within"] is (floor["cv"] <= floor["cvMax"])
    assert verdicts(place, COUNTY_A)["data"]["latestVerdicts"] == found  # the county's own
    assert verdicts(place, COUNTY_B)["data"]["latestVerdicts"] == []

    # a newer period with any result replaces the older one
    with place.office(CITY) as office:
        assert office.post(f"/v1/frameworks/{FRAMEWORK}/periods", json={"period": NEXT_PERIOD}).status_code == 201
    with place.unit("A") as unit:
        path = f"/v1/submissions/{FRAMEWORK}/{NEXT_PERIOD}/{place.schools['A']}"
        # The new period is open once monitoring's read side has it (a 404 period_not_open until then changes nothing).
        eventually(
            lambda: unit.put(path, json={"values": COUNTY["A"][1]}).status_code == 200, what="the new period open"
        )
        assert unit.post(f"{path}/submit").status_code == 200
    newer = eventually(
        lambda: (v := verdicts(place, CITY)["data"]["latestVerdicts"]) and v[0]["period"] == NEXT_PERIOD and v,
        what="the newer period",
    )
    assert [(v["period"], v["jurisdiction"]) for v in newer] == [(NEXT_PERIOD, COUNTY_A)]

    outside = verdicts(place, COUNTY_B, asked=CITY)
    assert outside["data"] is None and outside["errors"][0]["extensions"]["rule"] == "out_of_scope"
