"""`dudao generate province` (issue 24): a province written through the domain into the event stores (registry,
inspection, accountability, monitoring), deterministic
from its seed, and a second run with the same seed adds nothing. A small one here keeps the generator from rotting;
the benchmark's province is `make bench-province`'s."""

from __future__ import annotations

import io
import random
from collections import Counter

import psycopg
import pytest

from dudao_cli import generate
from services.monitoring.demo import PERIOD
from services.monitoring.domain.collection import level_id
from tests.conftest import TODAY

pytestmark = pytest.mark.integration


def topics(settings, service: str) -> Counter:
    with psycopg.connect(settings.database_url) as conn:
        rows = conn.execute(f"SELECT topic FROM {service}.{service}_events").fetchall()
    return Counter(topic.rsplit(".", 1)[-1] for (topic,) in rows)


def test_a_small_province_is_written_through_the_domain_and_a_second_run_adds_nothing(settings):
    out = io.StringIO()

    made = generate.province(settings, "500000", schools=300, months=2, seed=7, today=TODAY, out=out)

    assert (made.counties, made.schools) == (38, 300)
    registry, inspection = topics(settings, "registry"), topics(settings, "inspection")
    accountability, monitoring = topics(settings, "accountability"), topics(settings, "monitoring")
    assert registry["Registered"] == 300 + made.inspectors
    ratio = generate.profile_at("500000").get("inspector_school_ratio")
    assert registry["Activated"] == registry["Filed"] == made.inspectors >= 300 // ratio  # R1 in every county
    assert registry["ResponsibleInspectorAssigned"] == registry["ZoneAssigned"] == 300
    assert inspection["Recorded"] == made.visits > 300  # this month's visits not yet due are left out
    assert inspection["ReportIssued"] == accountability["Opened"] == accountability["FeedbackGiven"] == made.cases
    assert made.activities == made.cases == 300 // generate.SCHOOLS_PER_ACTIVITY
    with psycopg.connect(settings.database_url) as conn:  # no fact dated after the day it was generated
        latest = conn.execute(
            "SELECT max((convert_from(state, 'UTF8')::jsonb->'reported_on'->>'_data_')::date) FROM accountability.accountability_events"
            " WHERE topic LIKE '%ItemReported'"
        ).fetchone()[0]
    assert latest is None or latest <= TODAY
    compulsory = made.submissions - made.counties  # each county also gives its preschool figures
    assert monitoring["ValuesEntered"] == monitoring["Submitted"] == made.submissions > compulsory > 200
    assert monitoring["PeriodOpened"] == 2
    with psycopg.connect(settings.database_url) as conn:  # 逐级审核: every county level approved and accepted
        levels = Counter(
            (str(level), topic.rsplit(".", 1)[-1])
            for level, topic in conn.execute("SELECT originator_id, topic FROM monitoring.monitoring_events")
        )
    for framework in ("balanced_development", "preschool_inclusive"):
        for county in generate.counties_of("500000"):
            assert levels[(str(level_id(framework, PERIOD, county.code)), "Accepted")] == 1
        top = str(level_id(framework, PERIOD, "500000"))
        assert (levels[(top, "Approved")], levels[(top, "Accepted")]) == (1, 0)
    assert made.total == sum(sum(t.values()) for t in (registry, inspection, accountability, monitoring))
    assert "schools" in out.getvalue() and "routine visits" in out.getvalue()  # progress, in words

    again = generate.province(settings, "500000", schools=300, months=2, seed=7, today=TODAY, out=io.StringIO())

    assert again.total == 0
    assert topics(settings, "registry") == registry and topics(settings, "monitoring") == monitoring


def test_the_same_seed_plans_the_same_schools_and_another_seed_others():
    counties = generate.counties_of("510000")
    plan = lambda seed: generate._plan_schools(random.Random(seed), counties, 200, seed)  # noqa: E731

    assert plan(1) == plan(1)
    assert plan(1) != plan(2)
    assert len(counties) == 183 and {s.county for s in plan(1)} <= {c.code for c in counties}


def test_generate_refuses_stores_a_running_stack_works_on_and_writes_nothing(settings):
    # A relay or consumer of a running stack holds an advisory lock on its store (dudao.leadership); a reaction of
    # that stack would record what the generator writes (accountability opens each issued report's case, same id).
    with psycopg.connect(settings.database_url) as worker:
        worker.execute("SELECT pg_advisory_lock(hashtext('dudao-consumer:accountability:reactions'))")

        with pytest.raises(SystemExit) as stopped:
            generate.province(settings, "500000", schools=30, months=1, seed=7, today=TODAY, out=io.StringIO())

    said = str(stopped.value.code)
    assert said.startswith("dudao generate: a stack is running on these event stores")
    assert "stop it" in said and "run it again" in said
    with psycopg.connect(settings.database_url) as conn:
        assert conn.execute("SELECT to_regclass('registry.registry_events')").fetchone()[0] is None or not topics(
            settings, "registry"
        )


def test_generate_without_a_database_url_starts_the_stacks_own_postgresql_and_stops_it_after(tmp_path, monkeypatch):
    # `dudao up` keeps its PostgreSQL in DUDAO_HOME; with no stack running, `dudao generate` writes there by starting
    # it for the while, so that `dudao up --no-seed` then runs on the generated province.
    from dudao_cli.main import main
    from dudao_cli.servers import LocalPostgres, free_port

    port = free_port()
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("DUDAO_HOME", str(tmp_path))
    monkeypatch.setenv("DUDAO_PG_PORT", str(port))
    monkeypatch.setenv("DUDAO_TODAY", TODAY.isoformat())

    main(["generate", "province", "500000", "--schools", "5", "--months", "1"])

    pg = LocalPostgres(tmp_path / "postgres", port)
    assert not pg.is_running()
    try:
        with psycopg.connect(pg.start()) as conn:
            assert conn.execute("SELECT count(*) FROM registry.registry_events").fetchone()[0] > 5
    finally:
        pg.stop()
