"""A city and one of its counties, linked as `make demo-federation` links them: how fast a write travels, how fast a
cut link heals both ways, and how many acks cross the link.

Starts one PostgreSQL (a database per instance), two NATS servers (the county's a leaf node of the city's) and the
registry of each instance in a subprocess, then:

1. catch-up: single schools registered at the county, one at a time, each timed until the city reads it;
2. heal: the city's NATS stopped for `--cut` seconds while both sides write (schools below, a policy change above),
   then started again and timed until the city has the county's writes and the county the city's change;
3. acks: `--minutes` of writes on both sides, then the count of `ACK sequence … past last stream sequence` warnings in
   both servers' logs (issue 20 found thousands in 16 minutes).

Not a test: it prints figures, and one JSON line at the end, and never fails on a number.

    .venv/bin/python bench/federation.py [--writes 50] [--cut 30] [--minutes 10]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import httpx
import psycopg

from dudao import auth, bus
from dudao.config import Settings
from dudao_cli.servers import LocalNats, LocalPostgres, free_port

CITY, COUNTY = "530100", "530113"
WARNING = "past last stream sequence"


class Registry:
    """One instance's registry, served by `dudao serve registry` as `make run` serves it."""

    def __init__(self, code: str, database_url: str, nats_url: str, key: Path, home: Path, upper: str | None = None):
        self.code, self.port = code, free_port()
        env = (
            {k: v for k, v in os.environ.items() if not k.startswith("DUDAO_")}
            | {
                "DATABASE_URL": database_url,
                "NATS_URL": nats_url,
                "DUDAO_JURISDICTION": code,
                "DUDAO_DEV_KEY": str(key),
                "DUDAO_HOME": str(home / code),
            }
            | ({"DUDAO_UPPER": upper} if upper else {})
        )
        self.env = env
        log = (home / f"registry-{code}.log").open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dudao_cli", "serve", "registry", "--port", str(self.port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        settings = replace(Settings(), dev_key_path=key, jurisdiction=code)
        self.client = httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}",
            timeout=30,
            headers={
                "Authorization": f"Bearer {auth.issue_dev_token(settings, sub='bench', roles=['admin'], jur=code)}"
            },
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if self.client.get("/healthz").status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise SystemExit(f"the registry of {code} did not come up; see {home}/registry-{code}.log")

    def school(self, name: str, jurisdiction: str) -> str:
        body = {"name": name, "jurisdiction": jurisdiction, "stage": "primary", "ownership": "public", "enrolment": 500}
        response = self.client.post("/v1/schools", json=body)
        response.raise_for_status()
        return response.json()["id"]

    def has(self, school_id: str) -> bool:
        try:
            return self.client.get(f"/v1/schools/{school_id}").status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def until(condition, timeout: float = 120) -> float:
    """Seconds until `condition()` holds (polled every 20 ms), or the timeout."""
    start = time.monotonic()
    while not condition() and time.monotonic() - start < timeout:
        time.sleep(0.02)
    return time.monotonic() - start


def rectification_days_at_county(county: Registry) -> int | None:
    try:
        values = county.client.get(f"/v1/policy/{COUNTY}").json()["values"]
        return (
            values["rectification_days"]["value"]
            if values["rectification_days"]["source_jurisdiction"] == CITY
            else None
        )
    except (httpx.HTTPError, KeyError, ValueError):
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=50, help="single writes timed for the catch-up figure")
    parser.add_argument("--cut", type=float, default=30, help="seconds the link is cut")
    parser.add_argument(
        "--minutes", type=float, default=10, help="minutes of writes on both sides before counting ack warnings"
    )
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="dudao-bench-federation-"))
    home.chmod(0o755)
    key = home / "dev-key.pem"
    auth.ensure_dev_key(key)
    leaf = free_port()
    postgres = LocalPostgres(home / "postgres", free_port(), log=home / "postgres.log")
    city_nats = LocalNats(
        home / "nats-city", free_port(), jetstream_domain=bus.domain(CITY), leaf_port=leaf, log=home / "nats-city.log"
    )
    county_nats = LocalNats(
        home / "nats-county",
        free_port(),
        jetstream_domain=bus.domain(COUNTY),
        upstream=f"nats-leaf://127.0.0.1:{leaf}",
        log=home / "nats-county.log",
    )
    registries: list[Registry] = []
    try:
        url = postgres.start()
        with psycopg.connect(url, autocommit=True) as conn:
            for code in (CITY, COUNTY):
                conn.execute(f"CREATE DATABASE j{code}")
        city_nats.start()
        county_nats.start()
        base = url.rsplit("/", 1)[0]
        city = Registry(CITY, f"{base}/j{CITY}", city_nats.url, key, home)
        county = Registry(COUNTY, f"{base}/j{COUNTY}", county_nats.url, key, home, upper=CITY)
        registries += [city, county]
        linked = subprocess.run(
            [sys.executable, "-m", "dudao_cli", "link", COUNTY], env=city.env, capture_output=True, text=True
        )
        print(linked.stdout.strip(), flush=True)

        print(f"catch-up: {args.writes} single writes at {COUNTY}, each until {CITY} reads it …", flush=True)
        first = county.school("东川区铜都小学", COUNTY)
        until(lambda: city.has(first))
        delays = []
        for i in range(args.writes):
            school_id = county.school(f"东川区第{i}小学", COUNTY)
            delays.append(until(lambda s=school_id: city.has(s)) * 1000)
        delays.sort()
        p50, p95 = statistics.median(delays), delays[int(len(delays) * 0.95) - 1]
        print(f"  one write, county to city: p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {delays[-1]:.0f} ms")

        print(f"heal: the city's NATS stopped for {args.cut:.0f} s while both sides write …", flush=True)
        city_nats.stop()
        written = [county.school(f"东川区断网期间第{i}小学", COUNTY) for i in range(5)]
        changed = city.client.put(
            f"/v1/policy/{CITY}", json={"set": {"rectification_days": 27}, "reason": "断网期间发文"}
        )
        time.sleep(args.cut)
        city_nats.start()
        up_s = until(lambda: all(city.has(s) for s in written))
        down_s = (
            until(lambda: rectification_days_at_county(county) == 27)
            if changed.status_code in (200, 201)
            else float("nan")
        )
        print(
            f"  healed: the county's writes at the city after {up_s:.2f} s, the city's change at the county after {down_s:.2f} s"
        )

        print(f"acks: {args.minutes:g} minutes of writes on both sides …", flush=True)
        end, n = time.monotonic() + args.minutes * 60, 0
        while time.monotonic() < end:
            county.school(f"东川区压测{n}小学", COUNTY)
            city.school(f"五华区压测{n}小学", "530102")
            n += 1
            if n % 200 == 0:
                print(f"  {n * 2} writes, {max(0, end - time.monotonic()) / 60:.1f} minutes left", flush=True)
            time.sleep(0.1)
        last = county.school("东川区收尾小学", COUNTY)
        until(lambda: city.has(last))
        warnings = sum(log.read_text(errors="replace").count(WARNING) for log in (city_nats.log, county_nats.log))
        print(f"  {n * 2} writes; ack warnings in both NATS logs: {warnings}")
        print(
            json.dumps(
                {
                    "catch_up_p50_ms": round(p50),
                    "catch_up_p95_ms": round(p95),
                    "heal_up_s": round(up_s, 2),
                    "heal_down_s": round(down_s, 2),
                    "writes": n * 2,
                    "minutes": args.minutes,
                    "ack_warnings": warnings,
                }
            )
        )
    finally:
        for registry in registries:
            registry.stop()
        county_nats.stop()
        city_nats.stop()
        postgres.stop()


if __name__ == "__main__":
    main()
