"""Test fixtures: our own PostgreSQL and NATS on free ports (or the DUDAO_TEST_* servers), a fresh database per test."""

from __future__ import annotations

import asyncio
import os
import shutil
import ssl
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date
from pathlib import Path

import httpx
import nats
import psycopg
import pytest
import uvicorn
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from dudao import auth, telemetry
from dudao.config import Settings
from dudao_cli.servers import LocalNats, LocalPostgres, free_port

# One in-memory exporter for the whole session: the telemetry test reads it, others ignore it.
SPANS = InMemorySpanExporter()
_provider = TracerProvider()
_provider.add_span_processor(SimpleSpanProcessor(SPANS))
trace.set_tracer_provider(_provider)
# One TLS context for every test client: httpx makes a new one per client otherwise (about 20 ms each, loading the
# CA bundle), and tests make thousands of clients to plain-HTTP services.
TLS = ssl.create_default_context()
DROPPER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="drop-test-db")  # see `settings`
METRICS = telemetry.READER  # likewise for measurements (dudao.metrics): the reader `/metrics` serves
metrics.set_meter_provider(MeterProvider(metric_readers=[METRICS]))


async def until(check: Callable[[], Awaitable[object]], timeout: float = 15, what: str = "condition"):
    """`eventually` for a test's own event loop: await `check` until it returns something truthy, or fail."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not (result := await check()):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
    return result


async def stream_messages(js, stream: str) -> list:
    """Every message a stream holds, in order: none for a stream that is not there or empty (an empty stream reports
    first_seq 0, which get_msg refuses with 10003), and none for a sequence deleted inside it."""
    try:
        state = (await js.stream_info(stream)).state
    except NotFoundError:
        return []
    if not state.messages:
        return []
    found = []
    for seq in range(state.first_seq, state.last_seq + 1):
        try:
            found.append(await js.get_msg(stream, seq))
        except NotFoundError:
            continue
    return found


def measured(name: str, **attributes: str) -> float | None:
    """The current value of a metric's data points that carry `attributes` (summed; a histogram's count of
    measurements), or None if none has any."""
    values = [
        point.value if hasattr(point, "value") else point.count
        for resource in (METRICS.get_metrics_data() or metrics_data_empty()).resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == name
        for point in metric.data.data_points
        if all(point.attributes.get(k) == v for k, v in attributes.items())
    ]
    return sum(values) if values else None


def metrics_data_empty():
    from opentelemetry.sdk.metrics.export import MetricsData

    return MetricsData(resource_metrics=[])


def eventually(check: Callable[[], object], timeout: float = 30, interval: float = 0.05, what: str = "condition"):
    """Poll `check` until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def stored_events(settings: Settings, aggregate: str) -> int:
    """How many events of one aggregate type the registry's event store holds."""
    with psycopg.connect(settings.database_url) as conn:
        if conn.execute("SELECT to_regclass('registry.registry_events')").fetchone()[0] is None:
            return 0
        return conn.execute(
            "SELECT count(*) FROM registry.registry_events WHERE topic LIKE %s", (f"%:{aggregate}.%",)
        ).fetchone()[0]


@pytest.fixture(scope="session")
def postgres(tmp_path_factory) -> Iterator[str]:
    """A server URL (database `dudao`); tests get their own database from `settings`."""
    if url := os.environ.get("DUDAO_TEST_DATABASE_URL"):
        yield url
        return
    # Not under pytest's basetemp: pytest makes /tmp/pytest-of-<user> private (0700) whenever a session starts, and
    # PostgreSQL, run as its own user when we are root, then cannot reach its data directory and stops mid-run
    # ("PANIC: could not open file .../global/pg_control: Permission denied").
    base = Path(tempfile.mkdtemp(prefix="dudao-test-pg-"))
    base.chmod(0o755)
    server = LocalPostgres(base / "data", free_port(), log=base / "postgres.log")
    try:
        yield server.start()
    finally:
        DROPPER.shutdown(wait=True)
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory) -> Iterator[LocalNats | None]:
    if os.environ.get("DUDAO_TEST_NATS_URL"):
        yield None
        return
    base = tmp_path_factory.mktemp("nats")
    server = LocalNats(base / "store", free_port(), log=base / "nats.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def nats_url(nats_server) -> str:
    return os.environ.get("DUDAO_TEST_NATS_URL") or nats_server.url


def _fresh_database(server_url: str) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = server_url.rpartition("/")
    return f"{base}/{name}"


async def _delete_streams(url: str) -> None:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        for info in await js.streams_info():
            await js.delete_stream(info.config.name)
    finally:
        await nc.close()


# "Today" for every service a test starts, whatever the calendar says (a test moves it with `clock.set_today`).
TODAY = date(2026, 11, 20)


@pytest.fixture
def settings(postgres, nats_url, tmp_path, request) -> Iterator[Settings]:
    """Settings for one test: its own database (dropped afterwards), empty JetStream, its own dev key, the clocks at
    TODAY. A dead letter left unresolved fails the test, unless it is marked `dead_letters`: an event a consumer
    could not apply is an event lost to a read model."""
    asyncio.run(_delete_streams(nats_url))
    key = tmp_path / "dev-key.pem"
    auth.ensure_dev_key(key)
    database = _fresh_database(postgres)
    yield replace(
        Settings(),
        home=tmp_path,
        database_url=database,
        nats_url=nats_url,
        dev_key_path=key,
        jurisdiction="500120",
        today=TODAY,
    )
    if request.node.get_closest_marker("dead_letters") is None and (letters := _dead_letters(database)):
        DROPPER.submit(_drop_database, postgres, database.rpartition("/")[2])
        pytest.fail("dead letters left by this test:\n" + "\n".join(letters), pytrace=False)
    # Each test's database goes when the test does (1,400 of them filled gigabytes), in the background: a drop takes
    # 50-300 ms, and the next test need not wait for it.
    DROPPER.submit(_drop_database, postgres, database.rpartition("/")[2])


def _dead_letters(database: str) -> list[str]:
    with psycopg.connect(database, autocommit=True) as conn:
        schemas = [
            r[0]
            for r in conn.execute(
                "SELECT table_schema FROM information_schema.tables WHERE table_name = 'dead_letters'"
            )
        ]
        return [
            f"{schema} {consumer} {subject}: {error}"
            for schema in schemas
            for consumer, subject, error in conn.execute(
                f'SELECT consumer, subject, error FROM "{schema}".dead_letters WHERE resolved_at IS NULL ORDER BY id'
            )
        ]


def _drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def token(settings) -> Callable[..., str]:
    def make(role: str = "admin", jur: str = "500120", sub: str = "tester", unit: str | None = None) -> str:
        return auth.issue_dev_token(settings, sub=sub, roles=[role], jur=jur, unit=unit)

    return make


class ServedApp:
    """A FastAPI app served by uvicorn on a free port in a thread (its own event loop)."""

    def __init__(self, app, port: int):
        self.app, self.port = app, port

    def _start(self, port: int) -> None:
        self.port, self.url = port, f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()

    def __enter__(self) -> ServedApp:
        # A free port can be taken between choosing and binding it; then uvicorn's thread ends: try another.
        for attempt in range(3):
            self._start(self.port if attempt == 0 else free_port())
            eventually(lambda: self.server.started or not self.thread.is_alive(), timeout=30, what="the app to start")
            if self.server.started:
                return self
        raise AssertionError("the app could not bind a port three times")

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)

    def begin_exit(self) -> None:
        """Ask the app to stop without waiting (several stop together; `__exit__` then waits)."""
        self.server.should_exit = True

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, verify=TLS)


@pytest.fixture
def serve() -> Iterator[Callable[..., ServedApp]]:
    started: list[ServedApp] = []

    def start(app) -> ServedApp:
        served = ServedApp(app, free_port()).__enter__()
        started.append(served)
        return served

    yield start
    for served in started:
        served.begin_exit()
    for served in reversed(started):
        served.__exit__(None, None, None)


@pytest.fixture
def registry(settings, serve) -> ServedApp:
    """The registry service with its relay and projection consumer, over real HTTP."""
    from services.registry.app import build

    return serve(build(settings))


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def fetch_timing_out(monkeypatch, at: int) -> list[int]:
    """Make the `at`-th pull fetch of this test raise asyncio's own TimeoutError, as nats-py's fetch does when its
    deadline runs out between its two requests (a busy server or process); the calls made, to show it came."""
    fetch, calls = JetStreamContext.PullSubscription.fetch, []

    async def timing_out(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == at:
            raise TimeoutError  # asyncio's, not nats-py's own subclass of it
        return await fetch(self, *args, **kwargs)

    monkeypatch.setattr(JetStreamContext.PullSubscription, "fetch", timing_out)
    return calls
