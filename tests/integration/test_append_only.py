"""Event tables are append-only in the database: the role the services connect as cannot change history."""

from __future__ import annotations

import psycopg
import pytest

from dudao.config import APP_ROLE
from tests.conftest import eventually

pytestmark = pytest.mark.integration

SCHOOL = {
    "name": "璧山区青岚小学",
    "jurisdiction": "500120",
    "stage": "primary",
    "ownership": "public",
    "enrolment": 900,
}


def registered_school(registry, token) -> str:
    """A school registered through the API and read back from its projection: the normal flow, as the app role."""
    with registry.client(token()) as client:
        created = client.post("/v1/schools", json=SCHOOL)
        assert created.status_code == 201
        location = created.headers["Location"]
        eventually(lambda: client.get(location).status_code == 200, what="the school in the projection")
    return location.rsplit("/", 1)[-1]


def refused_as_the_app_role(settings, statement: str) -> bool:
    with psycopg.connect(settings.app_database_url()) as conn:
        try:
            conn.execute(statement)
        except psycopg.errors.InsufficientPrivilege:
            return True
    return False


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE registry.registry_events SET topic = topic",
        "DELETE FROM registry.registry_events",
        "TRUNCATE registry.registry_events",
        "DROP TABLE registry.registry_events",
        "ALTER TABLE registry.registry_events DISABLE TRIGGER ALL",
        "UPDATE registry.registry_tracking SET notification_id = notification_id",
        "DELETE FROM registry.registry_tracking",
        "TRUNCATE registry.registry_tracking",
        "UPDATE registry.event_chain SET link = link",  # the hash chain's links too (decision 017)
        "INSERT INTO registry.event_chain VALUES (999999, ''::bytea)",
        "DELETE FROM registry.event_chain",
    ],
)
def test_the_app_role_cannot_change_what_was_stored(registry, token, settings, statement):
    registered_school(registry, token)
    assert refused_as_the_app_role(settings, statement)
    with psycopg.connect(settings.database_url) as conn:
        assert conn.execute("SELECT count(*) FROM registry.registry_events").fetchone()[0] >= 1


def test_the_service_connects_as_the_app_role(registry, token, settings):
    registered_school(registry, token)
    with psycopg.connect(settings.database_url) as conn:
        users = {
            row[0] for row in conn.execute("SELECT usename FROM pg_stat_activity WHERE datname = current_database()")
        }
        owners = dict(
            conn.execute("SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'registry'").fetchall()
        )
    assert APP_ROLE in users
    assert owners["registry_events"] != APP_ROLE
    assert owners["school_directory"] == APP_ROLE  # read models are the app's: it drops and rebuilds them


def test_the_app_role_may_append_events(registry, token, settings):
    registered_school(registry, token)
    with psycopg.connect(settings.app_database_url()) as conn:
        conn.execute("LOCK TABLE registry.registry_events IN EXCLUSIVE MODE")  # what the event store does on insert
        assert conn.execute("SELECT count(*) FROM registry.registry_events").fetchone()[0] >= 1
