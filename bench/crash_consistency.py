"""Kill -9 of the registry under creates and updates, then count read-model rows older than their aggregates.

Starts its own PostgreSQL and NATS, runs the registry service in a subprocess as `make run` does, sends schools
(POST) and changes to them (PUT) from many clients, kills the service with SIGKILL part-way (several times), starts
it again, waits for the read model to be quiet, and compares every school's row in `registry.school_directory` with
the newest version of its aggregate in the event store. Issue 18 measured 3–6 stale rows of 4,000 writes before
decision 023. Not a test: it prints figures and never fails on a number.

    .venv/bin/python bench/crash_consistency.py [--creates 2000] [--updates 2000] [--kills 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psycopg

from dudao import auth
from dudao.config import Settings
from dudao_cli.servers import LocalNats, LocalPostgres, free_port

STALE = """
SELECT count(*) FILTER (WHERE d.version IS NULL) AS missing, count(*) FILTER (WHERE d.version < e.version) AS stale,
       count(*) AS aggregates
FROM (SELECT originator_id AS id, max(originator_version) AS version FROM registry.registry_events
      WHERE topic LIKE '%:School.%' GROUP BY originator_id) e
LEFT JOIN registry.school_directory d ON d.id = e.id
"""


def start_registry(env: dict[str, str], port: int) -> subprocess.Popen:
    service = subprocess.Popen(
        [sys.executable, "-m", "dudao_cli", "serve", "registry", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return service
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("the registry did not come up")


async def load(url: str, token: str, creates: int, updates: int, concurrency: int, sent: dict[str, int]) -> None:
    """Creates, and updates of schools already created, interleaved; errors (the service killed) are counted, not fatal."""
    created: list[str] = []
    work = ["create"] * creates + ["update"] * updates
    random.Random(7).shuffle(work)
    queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
    for item in enumerate(work):
        queue.put_nowait(item)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:

        async def worker() -> None:
            while not queue.empty():
                i, what = queue.get_nowait()
                try:
                    if what == "update" and created:
                        school = random.choice(created)
                        r = await client.put(
                            f"/v1/schools/{school}",
                            json={"name": f"崩溃测试学校{school[:8]}-{i}", "enrolment": i % 3000},
                        )
                    else:
                        r = await client.post(
                            "/v1/schools",
                            json={
                                "name": f"崩溃测试学校{i}",
                                "jurisdiction": "500120",
                                "stage": "primary",
                                "ownership": "public",
                                "enrolment": i,
                            },
                        )
                        if r.status_code == 201:
                            created.append(r.json()["id"])
                    sent["ok" if r.status_code < 300 else "refused"] += 1
                except httpx.HTTPError:
                    sent["lost"] += 1  # the service was killed under this request
                    await asyncio.sleep(0.2)

        await asyncio.gather(*(worker() for _ in range(concurrency)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--creates", type=int, default=2000)
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        pg, nats_server = LocalPostgres(home / "pg", free_port()), LocalNats(home / "nats", free_port())
        db, nats_url = pg.start(), nats_server.start()
        settings = Settings(database_url=db, nats_url=nats_url, dev_key_path=home / "key.pem", home=home)
        token = auth.issue_dev_token(settings, sub="bench", roles=["admin"], jur="500120")
        env = os.environ | {"DATABASE_URL": db, "NATS_URL": nats_url, "DUDAO_DEV_KEY": str(settings.dev_key_path)}
        port = free_port()
        service = start_registry(env, port)
        sent = {"ok": 0, "refused": 0, "lost": 0}
        try:
            print(
                f"registry: {args.creates} creates and {args.updates} updates at concurrency {args.concurrency},"
                f" kill -9 {args.kills} times …",
                flush=True,
            )

            async def run() -> None:
                nonlocal service
                task = asyncio.create_task(
                    load(f"http://127.0.0.1:{port}", token, args.creates, args.updates, args.concurrency, sent)
                )
                for n in range(args.kills):
                    await asyncio.sleep(random.Random(n).uniform(1.0, 3.0))
                    service.send_signal(signal.SIGKILL)
                    service.wait()
                    print(f"  kill -9 #{n + 1} after {sum(sent.values())} requests", flush=True)
                    service = await asyncio.to_thread(start_registry, env, port)
                await task

            asyncio.run(run())
            print("waiting for the read model to be quiet …", flush=True)
            started, last, figures = time.monotonic(), None, None
            with psycopg.connect(db, autocommit=True) as conn:
                while time.monotonic() - started < 300:
                    figures = conn.execute(STALE).fetchone()
                    if figures == last and figures[0] == 0 and figures[1] == 0:
                        break
                    last = figures
                    time.sleep(2)
                missing, stale, aggregates = figures
        finally:
            service.terminate()
            service.wait()
            nats_server.stop()
            pg.stop()

    print()
    print(f"requests answered       {sent['ok'] + sent['refused']:8d}  ({sent['refused']} refused)")
    print(f"requests cut by kill -9 {sent['lost']:8d}")
    print(f"schools stored          {aggregates:8d}")
    print(f"rows missing            {missing:8d}")
    print(
        f"rows stale              {stale:8d}  (older than their aggregate; issue 18 measured 3–6 before decision 023)"
    )


if __name__ == "__main__":
    main()
