"""Integration tests for dudao_cli.servers: real PostgreSQL and NATS JetStream started from the wheels."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import nats
import psycopg
import pytest
from nats.js.api import StreamConfig

from dudao_cli.servers import LocalNats, LocalPostgres, free_port
from tests.conftest import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[LocalPostgres]:
    server = LocalPostgres(tmp_path / "pg", free_port())
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[LocalNats]:
    server = LocalNats(tmp_path / "nats", free_port())
    try:
        yield server
    finally:
        server.stop()


def test_postgres_starts_survives_restart_and_stops_idempotently(postgres: LocalPostgres) -> None:
    url = postgres.start()
    assert url == f"postgresql://postgres@127.0.0.1:{postgres.port}/dudao" == postgres.url
    assert postgres.is_running()
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
        conn.execute("create table kept (v text)")
        conn.execute("insert into kept values ('still here')")

    postgres.stop()
    assert not postgres.is_running()
    postgres.stop()  # idempotent

    postgres.start()
    with psycopg.connect(postgres.url) as conn:
        assert conn.execute("select v from kept").fetchall() == [("still here",)]


def test_postgres_reuses_a_server_already_running_on_its_data_dir(postgres: LocalPostgres) -> None:
    postgres.start()
    again = LocalPostgres(postgres.data_dir, postgres.port)
    assert again.start(timeout=5) == postgres.url
    with psycopg.connect(again.url) as conn:
        assert conn.execute("select current_database()").fetchone() == ("dudao",)


async def _publish_twice(url: str) -> None:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="T", subjects=["t.>"]))
        first = await js.publish("t.one", b"hello", headers={"Nats-Msg-Id": "m1"})
        second = await js.publish("t.one", b"hello", headers={"Nats-Msg-Id": "m1"})
        assert not first.duplicate
        assert second.duplicate
    finally:
        await nc.close()


async def _stored_messages(url: str) -> int:
    nc = await nats.connect(url)
    try:
        info = await nc.jetstream().stream_info("T")
        return info.state.messages
    finally:
        await nc.close()


@pytest.mark.asyncio
async def test_nats_jetstream_dedups_and_keeps_data_across_restart(nats_server: LocalNats) -> None:
    url = nats_server.start()
    assert url == f"nats://127.0.0.1:{nats_server.port}" == nats_server.url
    await _publish_twice(url)
    assert await _stored_messages(url) == 1

    nats_server.restart()
    assert await _stored_messages(url) == 1

    nats_server.stop()
    nats_server.stop()  # idempotent
    assert not nats_server.is_running()


@pytest.mark.asyncio
async def test_nats_starts_again_after_kill(nats_server: LocalNats) -> None:
    url = nats_server.start()
    await _publish_twice(url)
    nats_server.kill()
    assert not nats_server.is_running()
    assert nats_server.start() == url
    assert await _stored_messages(url) == 1


def test_nats_config_carries_the_jetstream_domain(tmp_path: Path) -> None:
    server = LocalNats(tmp_path / "nats", free_port(), jetstream_domain="hub", monitor_port=free_port())
    with server:
        config = server.config.read_text()
        assert 'domain: "hub"' in config and "http:" in config
        assert server.is_running()
    assert not server.is_running()


def test_nats_config_links_a_lower_server_as_a_leaf_node(tmp_path: Path) -> None:
    upper = LocalNats(tmp_path / "upper", free_port(), jetstream_domain="j530100", leaf_port=free_port())
    lower = LocalNats(
        tmp_path / "lower", free_port(), jetstream_domain="j530113", upstream=f"nats-leaf://127.0.0.1:{upper.leaf_port}"
    )
    with upper, lower:
        assert f'listen: "127.0.0.1:{upper.leaf_port}"' in upper.config.read_text()
        assert f"nats-leaf://127.0.0.1:{upper.leaf_port}" in lower.config.read_text()
        assert eventually(lambda: "Leafnode connection created" in lower.log.read_text(), what="the leaf connection")
