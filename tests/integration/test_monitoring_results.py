"""Monitoring's results over real PostgreSQL and NATS: recorded under the period's framework version as the
submissions change, a what-if under another, the city's roll-up of its counties, and a rebuild that derives them
once, the same as live. The city and its schools are `conftest.place`."""

from __future__ import annotations

import asyncio
import io
from dataclasses import replace

import asyncpg
import nats
import psycopg
import pytest

from dudao import replay, stream_reading
from services.monitoring.app import PARTS as MONITORING
from services.monitoring.projections import areas, reads
from tests.conftest import eventually
from tests.factories import COUNTY
from tests.integration.conftest import CITY, COUNTY_A, FRAMEWORK, PERIOD, act, enter_and_submit, results, sub

pytestmark = pytest.mark.integration


def test_results_follow_the_submissions_and_a_new_framework_version_leaves_them_intact(place, settings):
    for name in ("A", "D", "E"):
        enter_and_submit(place, name)
    with place.office(CITY) as office:
        recorded = eventually(
            lambda: (r := results(office)) and r["area"]["units"] == 3 and r, what="the county result"
        )
        area = recorded["area"]
        assert recorded["framework_version"] == 1 and area["submission_versions"].keys() == {
            place.schools[n] for n in "ADE"
        }
        # A (400, 6.0) and D's primary part (600, 10.0): X̄ = 8.4, S² = (400·2.4² + 600·1.6²) / 1000 = 3.84, CV = 1.959592 / 8.4
        primary_floor = area["stages"]["primary"]["indicators"]["teaching_floor_area_per_pupil"]
        assert primary_floor["cv"] == pytest.approx(0.233285, abs=1e-6)
        assert {u["unit_name"] for u in recorded["units"]} == {"东川区A校", "东川区D校", "东川区E校"}

        # a submission changes: returned, corrected, resubmitted: the result follows, naming the new version
        with place.office(COUNTY_A) as county:
            act(county, sub(place, "A", "return"), {"reason": "面积有误"})
        enter_and_submit(place, "A", dict(COUNTY["A"][1], teaching_floor_area=3200))
        changed = eventually(
            lambda: (
                (r := results(office))["area"]["submission_versions"].get(place.schools["A"], 0)
                > area["submission_versions"][place.schools["A"]]
                and r
            ),
            what="the result recomputed",
        )
        # A now (400, 8.0): X̄ = 9.2, S² = (400·1.2² + 600·0.8²) / 1000 = 0.96, CV = 0.979796 / 9.2
        assert changed["area"]["stages"]["primary"]["indicators"]["teaching_floor_area_per_pupil"][
            "cv"
        ] == pytest.approx(0.106500, abs=1e-6)

        # version 2 raises the primary floor-area bar to 9 m²: the 2025-2026 results stay as they were
        definition = office.get(f"/v1/frameworks/{FRAMEWORK}").json()["definition"]
        definition["indicators"][3]["bar"]["primary"]["value"] = 9.0
        published = office.post("/v1/frameworks", json={"definition": definition, "note": "生均面积标准提高"})
        assert published.json()["version"] == 2
        eventually(
            lambda: office.get(f"/v1/frameworks/{FRAMEWORK}").json()["current_version"] == 2, what="version 2 projected"
        )
        assert results(office) == changed

        # the what-if under version 2 stands beside the recorded one: A's 8.0 m² now misses its bar
        side = office.get(
            f"/v1/results/{FRAMEWORK}/{PERIOD}/what-if", params={"jurisdiction": COUNTY_A, "version": 2}
        ).json()
        assert (side["recorded"]["framework_version"], side["what_if"]["framework_version"]) == (1, 2)
        a_now = next(u for u in side["what_if"]["units"] if u["unit_id"] == place.schools["A"])
        a_then = next(u for u in side["recorded"]["units"] if u["unit_id"] == place.schools["A"])
        floor = [i for i in a_now["parts"][0]["indicators"] if i["key"] == "teaching_floor_area_per_pupil"][0]
        assert floor["meets"] is False and floor["bar"]["value"] == 9.0
        assert [i for i in a_then["parts"][0]["indicators"] if i["key"] == "teaching_floor_area_per_pupil"][0][
            "meets"
        ] is True

        # a new period opens under version 2
        assert office.post(f"/v1/frameworks/{FRAMEWORK}/periods", json={"period": "2026-2027"}).json()["version"] == 2
    with psycopg.connect(settings.database_url) as conn:
        kinds = {
            r[0].rsplit(".", 1)[-1]
            for r in conn.execute("SELECT topic FROM monitoring.monitoring_events WHERE topic LIKE '%Framework.%'")
        }
    assert {"Published", "VersionPublished", "PeriodOpened"} <= kinds


async def rebuild_collection(settings) -> None:
    """`dudao replay monitoring --projection collection` at the city."""
    nc = await nats.connect(settings.nats_url)
    try:
        await replay.rebuild(
            replace(settings, jurisdiction=CITY), MONITORING, nc.jetstream(), ["collection"], io.StringIO()
        )
    finally:
        await nc.close()


def test_a_rebuild_derives_each_level_s_result_once_at_its_end_and_the_same_as_live(place, settings, monkeypatch):
    for name in ("A", "D", "E"):
        enter_and_submit(place, name)
    with place.office(CITY) as office:
        live = eventually(lambda: (r := results(office)) and r["area"]["units"] == 3 and r, what="the live result")
        monkeypatch.setattr(
            stream_reading, "BATCH", 2
        )  # the stream's events in several batches, each marking results due
        derived: list[int] = []
        counting = areas.area_over

        async def counted(*args, **kwargs):
            derived.append(1)
            return await counting(*args, **kwargs)

        monkeypatch.setattr(areas, "area_over", counted)
        computing, computed = areas.unit_result, []
        monkeypatch.setattr(areas, "unit_result", lambda d, unit: computed.append(unit.unit_id) or computing(d, unit))

        asyncio.run(rebuild_collection(settings))
        # nine submission events in batches of two: Dongchuan's area once, at the end (a settle after each batch would
        # derive it for each batch that changed a submission; after each event, six times)
        assert len(derived) == 1
        # each school's result computed once, and the area from those results as recorded, not each computed again
        assert sorted(computed) == sorted(set(computed)) and len(computed) == 3
        again = results(office)
        assert (again["area"], again["units"]) == (live["area"], live["units"])  # computed_at is the rebuild's own
    with psycopg.connect(settings.database_url) as conn:
        assert conn.execute("SELECT count(*) FROM monitoring.results_due").fetchone()[0] == 0


def test_a_rebuild_whose_results_cannot_be_derived_stops_before_the_switch(place, settings, monkeypatch):
    """The rebuild derives its results once, at its end: if that fails, it says so and switches nothing."""
    for name in ("A", "D"):
        enter_and_submit(place, name)
    with place.office(CITY) as office:
        live = eventually(lambda: (r := results(office)) and r["area"]["units"] == 2 and r, what="the live result")

        def unreadable(definition, unit):
            raise ValueError(f"unit {unit.unit_id} cannot be computed")

        monkeypatch.setattr(areas, "unit_result", unreadable)

        with pytest.raises(SystemExit, match="the rebuilt collection could not be derived .*the live read model is"):
            asyncio.run(rebuild_collection(settings))
        assert results(office) == live  # computed_at too: the live rows, as they were


def test_the_city_sees_its_counties_rolled_up(place):
    for name in ("A", "D", "E"):
        enter_and_submit(place, name)
    with place.office(CITY) as office:
        city = eventually(
            lambda: (r := results(office, CITY)) and len(r["areas"]) == 1 and r["area"]["units"] == 3 and r,
            what="roll-up",
        )
        assert city["areas"][0]["jurisdiction"] == COUNTY_A and city["areas"][0]["name"] == "东川区"
        # the city's area is rolled up from the units' recorded results: with one county, the county's own verdict
        assert city["area"] == results(office, COUNTY_A)["area"]


def test_a_roll_up_asked_without_its_schools_reads_none_of_them_and_gives_the_same_verdict(place, settings):
    """Issue 24: a province's verdict is asked far oftener than its thousands of schools' results; a query that does
    not select them is answered without reading them, from the same figures: its counties' parts merged."""
    from tests.factories import graphql

    for name in ("A", "D", "E"):
        enter_and_submit(place, name)
    fields = "schoolsAssessed schoolsPassing cvWithin passes provisional stages { stage schools pupils indicators { key mean sd cv within } }"
    query = f'{{ balancedDevelopment(period: "{PERIOD}", jurisdiction: "{CITY}") {{ {fields} SCHOOLS }} }}'
    token = place.token(jur=CITY)
    whole = eventually(
        lambda: (
            (b := graphql(place.monitoring, token, query.replace("SCHOOLS", "schools { unitName }")))["data"][
                "balancedDevelopment"
            ]["schoolsAssessed"]
            == 3
            and b["data"]["balancedDevelopment"]
        ),
        what="the city's roll-up of three schools",
    )
    alone = graphql(place.monitoring, token, query.replace("SCHOOLS", ""))["data"]["balancedDevelopment"]
    assert len(whole.pop("schools")) == 3 and alone == whole

    async def statements(units: bool) -> list[str]:
        conn = await asyncpg.connect(settings.database_url)
        ran: list[str] = []
        conn.add_query_logger(lambda record: ran.append(record.query))
        try:
            await reads.results(conn, FRAMEWORK, PERIOD, CITY, units=units)
        finally:
            await conn.close()
        return ran

    alone_ran, whole_ran = asyncio.run(statements(False)), asyncio.run(statements(True))
    assert [q for q in whole_ran if reads.UNIT_COLUMNS in q]  # the units' whole results, when asked for
    # the wider area is its jurisdictions' parts merged (decision 035): not a statement reads a unit's result
    assert not [q for q in alone_ran if "monitoring.unit_results" in q], alone_ran
    with place.office(CITY) as office:  # and the same as the county's own verdict, its only county here
        area = results(office, COUNTY_A)["area"]
    assert [alone["passes"], alone["cvWithin"], alone["schoolsPassing"]] == [
        area["passes"],
        area["cv_within"],
        area["units_passing"],
    ]
