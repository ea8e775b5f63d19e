"""The office's start page under load: p50/p99 of the gateway's `dashboard` query at 50 concurrent clients.

Starts the whole stack with demo data as `make run` does (`dudao up`, in a temporary home on free ports), then has
`--clients` clients ask the dashboard `--requests` times in all, and prints figures. Not a test: it never fails on
a number.

    .venv/bin/python bench/dashboard.py [--requests 2000] [--clients 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass

import aiohttp

from dudao_cli.servers import free_port

DASHBOARD = """query($j: String!) { dashboard(jurisdiction: $j) { month jurisdiction { name }
  staffing { schools inspectors r1 { met } r2 { met } r3 { met } r4 { met } }
  routineCoverage { schools visited coverage }
  rectification { openCases items overdueItems noticesIssued onTimeRate }
  interviews { status count } circulars { status count }
  verdicts { framework period areas passing failing noVerdict provisional } } }"""
TOKEN = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]+")
SERVICES = ("gateway", "registry", "inspection", "accountability", "monitoring")


@dataclass
class Stack:
    """`dudao up` running: its process, each service's port, and the admin token it printed."""

    proc: subprocess.Popen
    ports: dict[str, int]
    token: str

    def url(self, name: str = "gateway") -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=60)


def start(home: str, env: dict[str, str] | None = None, args: tuple[str, ...] = ()) -> Stack:
    """`dudao up` on free ports (with `env` added to this process's, e.g. servers already running); waits until it
    printed its admin token."""
    ports = {name: free_port() for name in SERVICES}
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "NATS_URL", "DUDAO_DEV_KEY")}
    base |= {"DUDAO_HOME": home, "DUDAO_PG_PORT": str(free_port()), "DUDAO_NATS_PORT": str(free_port())}
    base |= {f"DUDAO_{name.upper()}_PORT": str(port) for name, port in ports.items()}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dudao_cli", "up", *args],
        env=base | (env or {}),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    for line in proc.stdout:
        print(f"  | {line.rstrip()}", flush=True)
        if match := TOKEN.search(line):
            return Stack(proc, ports, match.group(0))
    raise SystemExit(f"dudao up exited with {proc.wait()} before it was running")


async def load(
    url: str, token: str, jurisdiction: str, requests: int, clients: int, query: str = DASHBOARD
) -> tuple[float, list[float], Counter[str]]:
    """`requests` queries from `clients` clients at once: queries per second, each latency, the errors by rule.

    The clients go through aiohttp, as the gateway's own calls do (decision 038): the load shares the machine with
    the stack, and httpx spent about 6 ms of CPU on each start page, as much as the whole stack answering it from
    memory (decision 047)."""
    latencies: list[float] = []
    errors: Counter[str] = Counter()  # each answer's errors, by the rule they name
    remaining = iter(range(requests))
    body = {"query": query, "variables": {"j": jurisdiction}}
    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=600)  # slow is a figure
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(url, connector=connector, timeout=timeout, headers=headers) as client:

        async def one_client() -> None:
            for _ in remaining:
                started = time.perf_counter()
                async with client.post("/graphql", json=body) as response:
                    answer = await response.json()
                latencies.append(time.perf_counter() - started)
                for error in answer.get("errors") or []:
                    errors[(error.get("extensions") or {}).get("rule") or error.get("message", "?")[:80]] += 1

        started = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(clients)))
        return requests / (time.perf_counter() - started), latencies, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--jurisdiction", default="500120", help="the demo's county (DUDAO_JURISDICTION)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        print("starting the stack with demo data (dudao up) …", flush=True)
        stack = start(home)
        try:
            print(f"warming up, then {args.requests} dashboard queries from {args.clients} clients …", flush=True)
            asyncio.run(load(stack.url(), stack.token, args.jurisdiction, 100, 10))
            _, alone, _ = asyncio.run(load(stack.url(), stack.token, args.jurisdiction, 200, 1))
            rate, latencies, errors = asyncio.run(
                load(stack.url(), stack.token, args.jurisdiction, args.requests, args.clients)
            )
        finally:
            stack.stop()
    quantiles = statistics.quantiles(latencies, n=100)
    print()
    print(f"dashboard queries/s    {rate:8.1f}   ({args.clients} concurrent clients, {args.requests} queries)")
    print(f"latency p50            {quantiles[49] * 1000:8.1f} ms")
    print(f"latency p99            {quantiles[98] * 1000:8.1f} ms")
    print(f"errors in answers      {sum(errors.values()):8d}   {dict(errors) or ''}")
    print(
        f"one client alone p50   {statistics.median(alone) * 1000:8.1f} ms   (no queueing: the cost of one round trip)"
    )


if __name__ == "__main__":
    main()
