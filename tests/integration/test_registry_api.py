"""The registry slice over HTTP: register, read back from the projection, page, update with ETags."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from tests.conftest import eventually, stored_events

pytestmark = pytest.mark.integration


def school(**overrides) -> dict:
    body = {
        "name": "璧山区青岚小学",
        "jurisdiction": "500120",
        "stage": "primary",
        "ownership": "public",
        "enrolment": 900,
    }
    return body | overrides


def inspector(**overrides) -> dict:
    return {"name": "李明远", "jurisdiction": "500120", "employment": "full_time"} | overrides


def read_when_projected(client, path: str, version: int = 1):
    def check():
        response = client.get(path)
        return response.status_code == 200 and response.json()["version"] == version and response

    return eventually(check, what=f"{path} at version {version} in the projection")


def test_a_registered_school_is_read_back_from_the_projection(registry, token):
    with registry.client(token()) as client:
        created = client.post("/v1/schools", json=school())
        assert created.status_code == 201
        assert created.headers["ETag"] == '"1"'
        read = read_when_projected(client, created.headers["Location"])
    body = read.json()
    assert body["name"] == "璧山区青岚小学"
    assert body["stage_label_zh"] == "小学"
    assert body["jurisdiction_name"] == "璧山区"
    assert read.headers["ETag"] == '"1"'


def test_a_registered_inspector_is_read_back(registry, token):
    with registry.client(token()) as client:
        created = client.post("/v1/inspectors", json=inspector())
        assert created.status_code == 201
        body = read_when_projected(client, created.headers["Location"]).json()
    assert body["employment_label_zh"] == "专职"


def test_the_same_idempotency_key_gives_the_same_school_and_one_event(registry, token, settings):
    with registry.client(token()) as client:
        first = client.post("/v1/schools", json=school(), headers={"Idempotency-Key": "k-1"})
        again = client.post("/v1/schools", json=school(), headers={"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert stored_events(settings, "School") == 1


def test_an_idempotency_key_reused_for_another_body_is_a_conflict(registry, token, settings):
    with registry.client(token()) as client:
        client.post("/v1/schools", json=school(), headers={"Idempotency-Key": "k-2"})
        reused = client.post("/v1/schools", json=school(name="另一所学校"), headers={"Idempotency-Key": "k-2"})
    assert reused.status_code == 409
    assert reused.json()["rule"] == "idempotency_key_reused"
    assert stored_events(settings, "School") == 1


def test_schools_are_listed_by_subtree_and_filters_a_page_at_a_time(settings, serve, token):
    from services.registry.app import build

    registry = serve(build(replace(settings, jurisdiction="500000")))  # Chongqing's instance: both districts
    with registry.client(token(jur="500000")) as client:
        for i in range(5):
            client.post("/v1/schools", json=school(name=f"小学{i}"))
        client.post("/v1/schools", json=school(name="民办中学", stage="junior_secondary", ownership="private"))
        client.post("/v1/schools", json=school(name="万州小学", jurisdiction="500101"))
        eventually(lambda: len(client.get("/v1/schools", params={"limit": 200}).json()["items"]) == 7, what="7 schools")

        first = client.get("/v1/schools", params={"jurisdiction": "500120", "stage": "primary", "limit": 3}).json()
        second = client.get(
            "/v1/schools",
            params={"jurisdiction": "500120", "stage": "primary", "limit": 3, "cursor": first["next_cursor"]},
        ).json()
        private = client.get("/v1/schools", params={"ownership": "private"}).json()
        wanzhou = client.get("/v1/schools", params={"jurisdiction": "500101"}).json()
    assert [s["name"] for s in first["items"]] == ["小学0", "小学1", "小学2"]
    assert [s["name"] for s in second["items"]] == ["小学3", "小学4"]
    assert second["next_cursor"] is None
    assert [s["name"] for s in private["items"]] == ["民办中学"]
    assert [s["name"] for s in wanzhou["items"]] == ["万州小学"]


def test_inspectors_are_listed_by_employment(registry, token):
    with registry.client(token()) as client:
        client.post("/v1/inspectors", json=inspector())
        client.post("/v1/inspectors", json=inspector(name="王静怡", employment="part_time"))
        eventually(lambda: len(client.get("/v1/inspectors").json()["items"]) == 2, what="2 inspectors")
        part_time = client.get("/v1/inspectors", params={"employment": "part_time"}).json()
    assert [i["name"] for i in part_time["items"]] == ["王静怡"]


def test_an_update_with_a_current_if_match_succeeds_and_a_stale_one_is_412(registry, token):
    with registry.client(token()) as client:
        location = client.post("/v1/schools", json=school()).headers["Location"]
        updated = client.put(
            location, json={"name": "璧山区青岚实验小学", "enrolment": 950}, headers={"If-Match": '"1"'}
        )
        stale = client.put(location, json={"name": "又一个名字", "enrolment": 1}, headers={"If-Match": '"1"'})
        read = read_when_projected(client, location, version=2)
    assert updated.status_code == 200
    assert updated.headers["ETag"] == '"2"'
    assert stale.status_code == 412
    assert stale.json()["field"] == "If-Match"
    assert read.json()["name"] == "璧山区青岚实验小学"
    assert read.headers["ETag"] == '"2"'


def test_updating_an_unknown_school_is_404(registry, token):
    with registry.client(token()) as client:
        response = client.put(f"/v1/schools/{uuid.uuid4()}", json={"name": "x", "enrolment": 1})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_an_inspector_update_changes_employment(registry, token):
    with registry.client(token()) as client:
        location = client.post("/v1/inspectors", json=inspector()).headers["Location"]
        response = client.put(location, json={"name": "李明远", "employment": "part_time"}, headers={"If-Match": "1"})
        read = read_when_projected(client, location, version=2)
    assert response.status_code == 200
    assert read.json()["employment"] == "part_time"
