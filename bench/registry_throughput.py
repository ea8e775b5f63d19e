"""Registry command throughput: HTTP registrations (p50/p99) next to raw Application.save() of the same aggregate,
and how fast the outbox relay publishes a backlog (it refills a deleted stream from the event store).

Starts its own PostgreSQL and NATS (or uses DATABASE_URL / NATS_URL), runs the registry service in
a subprocess as `make run` does, and prints figures. Not a test: it never fails on a number.

    .venv/bin/python bench/registry_throughput.py [--requests 2000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import httpx
import nats
from nats.js.errors import NotFoundError

from dudao import auth, bus
from dudao.callers import Principal
from dudao.commands import Caller
from dudao.config import Settings
from dudao.events import Envelope
from dudao.relay import Relay
from dudao_cli.servers import LocalNats, LocalPostgres, free_port
from services.registry.app import PARTS as REGISTRY
from services.registry.application import Registry
from services.registry.commands import RegisterSchool
from services.registry.domain import Ownership, Stage

COUNTY = "500120"


def body(i: int, county: str = COUNTY) -> dict:
    return {"name": f"基准学校{i}", "jurisdiction": county, "stage": "primary", "ownership": "public", "enrolment": i}


def raw_saves(settings: Settings, count: int, county: str = COUNTY) -> float:
    """Saves per second straight into the event store, no HTTP."""
    app = Registry(settings)
    envelope = Envelope.for_request(actor="bench", jurisdiction=county)
    loader = Principal(sub="loader", roles=frozenset({"admin"}), jur=county)
    started = time.perf_counter()
    for i in range(count):
        app.register_school(
            RegisterSchool(
                name=f"直存学校{i}",
                jurisdiction=county,
                stage=Stage.primary,
                ownership=Ownership.public,
                enrolment=i,
                now=datetime.now(UTC),
            ),
            Caller(loader, envelope, new_id=uuid4()),
        )
    elapsed = time.perf_counter() - started
    app.close()
    return count / elapsed


async def http_load(
    url: str, token: str, count: int, concurrency: int, county: str = COUNTY
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                t = time.perf_counter()
                response = await client.post("/v1/schools", json=body(i, county))
                latencies.append(time.perf_counter() - t)
                if response.status_code != 201:
                    raise SystemExit(f"request {i} failed: {response.status_code} {response.text}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return count / (time.perf_counter() - started), latencies


async def relay_drain(settings: Settings) -> tuple[int, float]:
    """Delete the registry's stream and time a relay refilling it from the event store: (events, events/s)."""
    nc = await nats.connect(settings.nats_url)
    js = nc.jetstream()
    await js.delete_stream(bus.stream_name("registry"))
    app = Registry(settings)
    expected = app.recorder.max_notification_id()
    stop = asyncio.Event()
    started = time.perf_counter()
    task = asyncio.create_task(Relay(settings, app, REGISTRY.crossings).run(stop))
    try:
        while True:
            with contextlib.suppress(NotFoundError):
                if (await js.stream_info(bus.stream_name("registry"))).state.messages >= expected:
                    break
            await asyncio.sleep(0.05)
        return expected, expected / (time.perf_counter() - started)
    finally:
        stop.set()
        await task
        app.close()
        await nc.close()


def wait_for(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        servers = []
        db, nats_url = os.environ.get("DATABASE_URL"), os.environ.get("NATS_URL")
        if not db:
            servers.append(LocalPostgres(home / "pg", free_port()))
            db = servers[-1].start()
        if not nats_url:
            servers.append(LocalNats(home / "nats", free_port()))
            nats_url = servers[-1].start()
        port = free_port()
        settings = Settings(database_url=db, nats_url=nats_url, dev_key_path=home / "key.pem", home=home)
        token = auth.issue_dev_token(settings, sub="bench", roles=["admin"], jur="500120")
        env = os.environ | {"DATABASE_URL": db, "NATS_URL": nats_url, "DUDAO_DEV_KEY": str(settings.dev_key_path)}
        service = subprocess.Popen(
            [sys.executable, "-m", "dudao_cli", "serve", "registry", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(f"http://127.0.0.1:{port}/healthz")
            print(f"registry: {args.requests} POST /v1/schools at concurrency {args.concurrency} …", flush=True)
            asyncio.run(http_load(f"http://127.0.0.1:{port}", token, 50, 4))  # warm up
            rate, latencies = asyncio.run(http_load(f"http://127.0.0.1:{port}", token, args.requests, args.concurrency))
            print(f"raw Application.save(): {args.requests} saves …", flush=True)
            raw = raw_saves(settings, args.requests)
            service.terminate()
            service.wait()
            print("relay: refilling the stream from the event store …", flush=True)
            drained, drain_rate = asyncio.run(relay_drain(settings))
        finally:
            if service.poll() is None:
                service.terminate()
                service.wait()
            for server in reversed(servers):
                server.stop()

    quantiles = statistics.quantiles(latencies, n=100)
    print()
    print(f"HTTP commands/s        {rate:8.1f}")
    print(f"HTTP latency p50       {quantiles[49] * 1000:8.1f} ms")
    print(f"HTTP latency p99       {quantiles[98] * 1000:8.1f} ms")
    print(f"raw saves/s            {raw:8.1f}")
    print(f"HTTP / raw             {rate / raw:8.2f}")
    print(f"relay events/s         {drain_rate:8.1f}  ({drained} events, one publish acked before the next)")


if __name__ == "__main__":
    main()
