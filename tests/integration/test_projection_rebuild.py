"""A projection whose version changes is dropped and rebuilt from the stream at the next start."""

from __future__ import annotations

from dataclasses import replace

import psycopg
import pytest

import services.registry.app as registry_app
from tests.conftest import eventually

pytestmark = pytest.mark.integration

SCHOOL = {"jurisdiction": "500120", "stage": "primary", "ownership": "public", "enrolment": 100}


def names(client) -> list[str]:
    return sorted(s["name"] for s in client.get("/v1/schools").json()["items"])


def test_a_new_projection_version_rebuilds_its_tables_from_the_stream(settings, serve, token, monkeypatch):
    first = serve(registry_app.build(settings))
    with first.client(token()) as client:
        for name in ("甲校", "乙校", "丙校"):
            client.post("/v1/schools", json=SCHOOL | {"name": name})
        eventually(lambda: names(client) == ["丙校", "乙校", "甲校"], what="three schools projected")
    first.__exit__(None, None, None)

    with psycopg.connect(settings.database_url, autocommit=True) as conn:  # an older layout, and a damaged row
        conn.execute("ALTER TABLE registry.school_directory DROP COLUMN locality")
        conn.execute("UPDATE registry.school_directory SET name = 'stale'")

    [projection] = registry_app.PARTS.projections
    monkeypatch.setattr(
        registry_app,
        "PARTS",
        replace(registry_app.PARTS, projections=[replace(projection, version=projection.version + 1)]),
    )
    second = serve(registry_app.build(settings))
    with second.client(token()) as client:
        eventually(lambda: names(client) == ["丙校", "乙校", "甲校"], what="the schools rebuilt from the stream")
        assert client.get("/v1/schools").json()["items"][0]["locality"] is None  # the column is back
