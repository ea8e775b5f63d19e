"""Reads remembered until their read models change (decision 044): staffing, routine coverage, the measures counted.
A registration, a visit, a proposal or a replay's switch is seen by the next read; nothing written around the
projection is."""

from __future__ import annotations

import asyncio
import dataclasses

import asyncpg
import psycopg
import pytest

from dudao.service import prepare_tables
from services.registry.app import PARTS
from tests.conftest import TODAY, eventually
from tests.factories import active_inspector, school
from tests.integration.test_inspection import inspection  # noqa: F401 - the fixture
from tests.integration.test_replay import DIRECTORY, replay, schools_projected
from tests.integration.test_subgraph_links import accountability, answer, measure  # noqa: F401 - the fixture

pytestmark = pytest.mark.integration


def schools_counted(client) -> int:
    return client.get("/v1/staffing-compliance").json()["schools"]


def test_staffing_counts_a_school_as_soon_as_the_directory_has_it(registry, token):
    with registry.client(token()) as client:
        for i in range(3):
            school(client, f"璧山区第{i}小学")
        eventually(lambda: schools_counted(client) == 3, what="three schools counted")
        assert schools_counted(client) == 3  # now answered from memory
        school(client, "璧山区第三小学")
        eventually(lambda: schools_counted(client) == 4, what="the fourth school counted")


def test_staffing_answers_from_the_tables_a_replay_switched_in(registry, token, settings):
    with registry.client(token()) as client:
        ids = [school(client, f"璧山区第{i}小学") for i in range(3)]
        eventually(lambda: schools_projected(client, 3), what="the schools projected")
        with psycopg.connect(settings.database_url) as conn:  # a read model gone wrong, around the projection
            conn.execute("DELETE FROM registry.school_directory WHERE id = %s", (ids[0],))
        assert schools_counted(client) == 2
        with psycopg.connect(settings.database_url) as conn:  # unseen: only the projection, a replay, a start renew
            conn.execute("DELETE FROM registry.school_directory WHERE id = %s", (ids[1],))
        assert schools_counted(client) == 2

        rebuilt = replay(settings, "--projection", "directory")
        assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
        assert schools_counted(client) == 3


def test_a_start_renews_the_directory_s_mark_a_new_version_s_too_where_it_drops_the_tables(settings):
    """Another replica, still running, must not answer from what it remembered of the tables before; and a quiet
    directory has a mark from its start, not only from its next event."""
    parts = dataclasses.replace(PARTS, projections=[dataclasses.replace(DIRECTORY, version=DIRECTORY.version + 1)])

    async def run() -> list[object]:
        pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
        try:
            marks = []
            for starting in (PARTS, PARTS, parts):
                await prepare_tables(pool, starting)
                marks.append(await pool.fetchval("SELECT mark FROM registry.read_model_marks"))
            return marks
        finally:
            await pool.close()

    first, again, new_version = asyncio.run(run())
    assert first is not None and len({first, again, new_version}) == 3


def test_routine_coverage_follows_the_schools_and_the_visits(inspection, registry, token):  # noqa: F811 - the fixture
    """It reads two read models, the registry's copy and the visits: either changing is seen by the next read."""
    with registry.client(token()) as reg:
        inspector = active_inspector(reg, "甲督学", roles=["responsible"])
        first = school(reg, "甲一小学")
    with inspection.client(token()) as office:
        month = f"{TODAY:%Y-%m}"  # the services' clock: a visit today has happened, whatever the calendar says
        totals = f'{{ routineCoverage(month: "{month}") {{ schools visited }} }}'  # as a start page asks: remembered
        covered = lambda: answer(inspection, totals, token())["routineCoverage"]  # noqa: E731
        eventually(lambda: covered()["schools"] == 1, what="the school copied")
        assert covered()["visited"] == 0
        with registry.client(token()) as reg:
            school(reg, "甲二小学")
        eventually(lambda: covered()["schools"] == 2, what="the second school copied")
        visited = {"school_id": first, "inspector_id": inspector, "visited_on": TODAY.isoformat()}
        made = office.post("/v1/routine-visits", json=visited | {"items_checked": ["作业管理"], "problems": []})
        assert made.status_code == 201, made.text
        eventually(lambda: covered()["visited"] == 1, what="the visit counted")


def test_the_measures_counted_follow_a_proposal(accountability, token):  # noqa: F811 - the fixture
    query = "{ accountabilitySummary { measures { kind status count } } }"
    with accountability.client(token()) as office:
        measure(office, "interviews", "s-1", trigger="duties_not_fulfilled")
        counted = lambda: answer(accountability, query, token())["accountabilitySummary"]["measures"]  # noqa: E731
        eventually(lambda: counted() == [{"kind": "interview", "status": "proposed", "count": 1}], what="one")
        measure(office, "interviews", "s-2", trigger="duties_not_fulfilled")
        eventually(lambda: counted() == [{"kind": "interview", "status": "proposed", "count": 2}], what="two")
