"""Linked instances (issue 8, the link itself): a county's NATS as a leaf node of the city's, each with its own
JetStream domain; the city's stream sources the county's events, and a real cut loses and repeats nothing."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from dataclasses import replace

import nats
import psycopg
import pytest

from dudao import bus
from dudao.servers import LocalNats, free_port
from services.registry.app import build as build_registry
from tests.conftest import _fresh_database, eventually
from tests.integration.test_registry_places import school

pytestmark = pytest.mark.integration

CITY, COUNTY = "530100", "530113"


@pytest.fixture
def linked(tmp_path):
    """The city's NATS with a leaf-node port, and the county's NATS connected to it as a leaf node."""
    leaf_port = free_port()
    city = LocalNats(tmp_path / "city", free_port(), jetstream_domain=bus.domain(CITY), leaf_port=leaf_port)
    county = LocalNats(tmp_path / "county", free_port(), jetstream_domain=bus.domain(COUNTY), upstream=f"nats-leaf://127.0.0.1:{leaf_port}")
    with city, county:
        yield city, county


async def _stream_ids(url: str, subjects: str) -> list[str]:
    """The message ids (origin:notification) in a service's stream on one server, in stream order."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        try:
            info = await js.stream_info(bus.stream_name("registry"))
        except nats.js.errors.NotFoundError:
            return []
        ids = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg(bus.stream_name("registry"), seq)
            if msg.subject.startswith(subjects.rstrip(">")):
                ids.append(msg.headers[bus.HEADER_MSG_ID])
        return ids
    finally:
        await nc.close()


def recorded(settings) -> int:
    """How many events the county's registry has recorded."""
    with psycopg.connect(settings.database_url) as conn:
        return conn.execute("SELECT count(*) FROM registry.registry_events").fetchone()[0]


def stream_ids(server: LocalNats, subjects: str) -> list[str]:
    return asyncio.run(_stream_ids(server.url, subjects))


async def _streams(url: str, *services: str) -> None:
    nc = await nats.connect(url)
    try:
        for service in services:
            await bus.ensure_stream(nc.jetstream(), service, CITY)
    finally:
        await nc.close()


async def _consumer_filters(url: str) -> dict[str, str]:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        found = {}
        for stream in ("registry", "inspection", "accountability"):
            with contextlib.suppress(nats.js.errors.NotFoundError):
                for info in await js.consumers_info(bus.stream_name(stream)):
                    found[info.name] = info.config.filter_subject
        return found
    finally:
        await nc.close()


def link(upper: LocalNats, *lower: str, code: str = CITY) -> str:
    """`dudao link` run on the upper instance (by default the city's)."""
    env = os.environ | {"NATS_URL": upper.url, "DUDAO_JURISDICTION": code}
    done = subprocess.run([sys.executable, "-m", "dudao.cli", "link", *lower], env=env, capture_output=True, text=True, timeout=60)
    return done.stdout + done.stderr


def test_the_city_sources_the_countys_events_and_a_cut_loses_and_repeats_nothing(linked, settings, serve, token, postgres):
    city, county = linked
    registry = serve(build_registry(replace(settings, jurisdiction=COUNTY, nats_url=county.url)))
    county_events = bus.service_subjects("registry", COUNTY)
    with registry.client(token(jur=COUNTY)) as client:
        for i in range(3):
            school(client, f"东川区第{i}小学", jur=COUNTY)
        eventually(lambda: len(stream_ids(county, county_events)) == recorded(settings), what="the county's relay to publish")

        assert "530113 registry        now sourced into DUDAO_REGISTRY" in link(city, COUNTY)
        assert "530113 registry        already sourced" in link(city, COUNTY)  # registering it again changes nothing
        assert "not a division below" in link(city, "530200")  # another city's county
        eventually(lambda: stream_ids(city, county_events) == stream_ids(county, county_events), what="the city to source")

        city.stop()  # the link is cut: the county keeps taking commands
        for i in range(3, 8):
            school(client, f"东川区第{i}小学", jur=COUNTY)
        eventually(lambda: len(stream_ids(county, county_events)) == recorded(settings), what="the county's relay during the cut")
        city.start()

    expected = stream_ids(county, county_events)
    eventually(lambda: stream_ids(city, county_events) == expected, timeout=30, what="the city to catch up after the cut")
    numbers = [int(i.rsplit(":", 1)[1]) for i in stream_ids(city, county_events)]
    assert numbers == sorted(set(numbers)) == list(range(1, recorded(settings) + 1))  # each once, in order
    assert all(i.startswith(f"{COUNTY}:registry:") for i in expected)

    # The city's own registry reads the county's schools from what was sourced; its reactions stay on its own events.
    asyncio.run(_streams(city.url, "inspection", "accountability"))  # what the city's registry reacts to
    city_registry = serve(build_registry(replace(settings, jurisdiction=CITY, nats_url=city.url, database_url=_fresh_database(postgres))))
    with city_registry.client(token(jur=CITY)) as client:
        schools = eventually(
            lambda: len(r := client.get("/v1/schools", params={"jurisdiction": COUNTY}).json()["items"]) == 8 and r,
            what="the county's schools read at the city",
        )  # fmt: skip
    assert {s["name"] for s in schools} == {f"东川区第{i}小学" for i in range(8)}
    filters = eventually(lambda: (f := asyncio.run(_consumer_filters(city.url))) and len(f) >= 3 and f, what="the consumers")
    reactions = {name: f for name, f in filters.items() if "sanctions" in name or "participation" in name}
    assert reactions and all(f.startswith(f"dudao.{CITY}.") for f in reactions.values()), filters


PROVINCE, NANCHANG_COUNTY, JINGDEZHEN = "360000", "360102", "360200"  # Jiangxi: a county of Nanchang; Jingdezhen city itself


def test_at_the_province_a_city_user_sees_its_own_counties_and_not_the_other_citys(tmp_path, settings, serve, token, postgres):
    leaf_port = free_port()
    province = LocalNats(tmp_path / "province", free_port(), jetstream_domain=bus.domain(PROVINCE), leaf_port=leaf_port)
    counties = {
        code: LocalNats(tmp_path / code, free_port(), jetstream_domain=bus.domain(code), upstream=f"nats-leaf://127.0.0.1:{leaf_port}")
        for code in (NANCHANG_COUNTY, JINGDEZHEN)
    }  # fmt: skip
    with province, counties[NANCHANG_COUNTY], counties[JINGDEZHEN]:
        for code, server in counties.items():
            county = replace(settings, jurisdiction=code, nats_url=server.url, database_url=_fresh_database(postgres))
            with serve(build_registry(county)).client(token(jur=code)) as client:
                school(client, f"{code}第一小学", jur=code)
        assert link(province, NANCHANG_COUNTY, JINGDEZHEN, code=PROVINCE).count("now sourced") == 8
        at_province = replace(settings, jurisdiction=PROVINCE, nats_url=province.url, database_url=_fresh_database(postgres))
        registry = serve(build_registry(at_province))
        with registry.client(token(jur=PROVINCE)) as office:
            eventually(lambda: len(office.get("/v1/schools", params={"limit": 50}).json()["items"]) == 2, what="both counties' schools")
        with registry.client(token(jur="360100")) as nanchang:
            own = nanchang.get("/v1/schools", params={"limit": 50}).json()["items"]
            other = nanchang.get("/v1/schools", params={"jurisdiction": JINGDEZHEN})
            whole = nanchang.get("/v1/schools", params={"jurisdiction": PROVINCE})
    assert [s["name"] for s in own] == [f"{NANCHANG_COUNTY}第一小学"]
    assert other.status_code == 403 and other.json()["rule"] == "outside_jurisdiction"
    assert whole.status_code == 403
