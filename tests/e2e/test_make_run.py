"""`dudao up` (what `make run` runs) as a user meets it: real processes, demo data once, Ctrl-C stops all."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest

from dudao_cli.servers import free_port
from tests.conftest import eventually

pytestmark = pytest.mark.e2e

TOKEN = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]+")


class Up:
    """One `dudao up` process and what it printed."""

    def __init__(
        self, home: Path, ports: dict[str, int], extra_env: dict[str, str] | None = None, args: tuple[str, ...] = ()
    ):
        self.ports = ports
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "NATS_URL")}
        env |= {
            "DUDAO_HOME": str(home),
            "DUDAO_PG_PORT": str(ports["pg"]),
            "DUDAO_NATS_PORT": str(ports["nats"]),
            "DUDAO_GATEWAY_PORT": str(ports["gateway"]),
            "DUDAO_REGISTRY_PORT": str(ports["registry"]),
            "DUDAO_INSPECTION_PORT": str(ports["inspection"]),
            "DUDAO_ACCOUNTABILITY_PORT": str(ports["accountability"]),
            "DUDAO_MONITORING_PORT": str(ports["monitoring"]),
        } | (extra_env or {})
        env.pop("DUDAO_DEV_KEY", None)
        self.env = env
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dudao_cli", "up", *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output = ""

    def wait_until_running(self, timeout: float = 180) -> str:
        """Read output until the banner; return the admin token it printed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line and self.proc.poll() is not None:
                break
            self.output += line
            if (match := TOKEN.search(line)) is not None:
                return match.group(0)
        raise AssertionError(f"dudao up did not come up:\n{self.output}")

    def stop(self, signum: int = signal.SIGINT, timeout: float = 60) -> int:
        self.proc.send_signal(signum)
        code = self.proc.wait(timeout=timeout)
        self.output += self.proc.stdout.read()
        return code

    def gateway(self, token: str, query: str) -> dict:
        response = httpx.post(
            f"http://127.0.0.1:{self.ports['gateway']}/graphql",
            json={"query": query},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        return response.json()


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def left_running(home: Path) -> list[str]:
    """The live processes of the stack whose home is `home`: each service has it in its environment, PostgreSQL and
    NATS in their command lines. Not its ports: since it stopped, another test's server may have been given one."""
    left = []
    for p in psutil.process_iter(["cmdline", "environ", "status"]):
        command = " ".join(p.info["cmdline"] or [])
        ours = str(home) in command or (p.info["environ"] or {}).get("DUDAO_HOME") == str(home)
        if ours and p.info["status"] != psutil.STATUS_ZOMBIE:
            left.append(f"{p.pid} {command}")
    return left


def count_demo(up: Up, token: str) -> tuple[int, int]:
    schools = up.gateway(token, "{ schools(first: 200) { nodes { id stage ownership } } }")["data"]["schools"]["nodes"]
    inspectors = up.gateway(token, "{ inspectors(first: 200) { nodes { id } } }")["data"]["inspectors"]["nodes"]
    return len(schools), len(inspectors)


def wait_for_demo(up: Up, token: str, expected: tuple[int, int]) -> None:
    eventually(lambda: count_demo(up, token) == expected, timeout=30, what=f"{expected} demo schools and inspectors")


def stored_events(pg_port: int) -> int:
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:{pg_port}/dudao") as conn:
        return conn.execute(
            "SELECT (SELECT count(*) FROM registry.registry_events) + (SELECT count(*) FROM inspection.inspection_events)"
            " + (SELECT count(*) FROM monitoring.monitoring_events)"
        ).fetchone()[0]


@pytest.fixture
def ports() -> dict[str, int]:
    return {
        name: free_port()
        for name in ("pg", "nats", "gateway", "registry", "inspection", "accountability", "monitoring")
    }


def test_dudao_up_starts_the_stack_loads_the_demo_once_and_stops_on_ctrl_c_or_sigterm(tmp_path, ports):
    up = Up(tmp_path, ports)
    try:
        token = up.wait_until_running()
        loaded = stored_events(ports["pg"])
        wait_for_demo(up, token, (36, 12))
        stages = {
            s["stage"]
            for s in up.gateway(token, "{ schools(first: 200) { nodes { stage } } }")["data"]["schools"]["nodes"]
        }
        assert len(stages) == 9
        # the demo's balanced-development collection: the 20 compulsory schools submitted, their CVs computed
        query = '{ balancedDevelopment(period: "2025-2026") { schoolsAssessed stages { stage indicators { cv } } } }'
        assessed = eventually(
            lambda: (d := up.gateway(token, query)["data"]["balancedDevelopment"])["schoolsAssessed"] == 20 and d,
            timeout=30,
            what="the demo schools assessed",
        )
        assert all(i["cv"] > 0 for s in assessed["stages"] for i in s["indicators"])
        # the office's start page over the demo, in one round trip
        board = up.gateway(
            token,
            '{ dashboard(jurisdiction: "500120") { staffing { schools inspectors }'
            " routineCoverage { schools } latestVerdicts { framework period } } }",
        )
        assert "errors" not in board, board
        assert board["data"]["dashboard"]["staffing"] == {"schools": 36, "inspectors": 12}
        assert board["data"]["dashboard"]["routineCoverage"]["schools"] == 20
        assert {"framework": "balanced_development", "period": "2025-2026"} in board["data"]["dashboard"][
            "latestVerdicts"
        ]
    finally:
        code = up.stop()
    assert code == 0, up.output
    assert f"http://127.0.0.1:{ports['gateway']}/graphql" in up.output
    assert f"http://127.0.0.1:{ports['registry']}/openapi.json" in up.output
    assert not left_running(tmp_path), f"something kept running after Ctrl-C: {left_running(tmp_path)}"

    again = Up(tmp_path, ports)
    try:
        token = again.wait_until_running()
        assert stored_events(ports["pg"]) == loaded, "the second load recorded events again"
        assert "the demo data is not loaded again" in again.output  # whatever the offices made of it meanwhile
        wait_for_demo(again, token, (36, 12))
    finally:
        assert again.stop(signal.SIGTERM) == 0, again.output  # a service manager stops it the same way


def test_dudao_up_uses_the_servers_named_in_the_environment_and_starts_none(tmp_path, ports, settings):
    up = Up(
        tmp_path, ports, {"DATABASE_URL": settings.database_url, "NATS_URL": settings.nats_url}, args=("--no-seed",)
    )
    try:
        token = up.wait_until_running()
        assert "errors" not in up.gateway(token, "{ schools(first: 1) { nodes { id } } }"), up.output
    finally:
        assert up.stop() == 0, up.output
    assert not (tmp_path / "postgres").exists() and not (tmp_path / "nats").exists()
    assert "starting PostgreSQL" not in up.output and "starting NATS" not in up.output


def test_any_county_starts_with_its_own_chain_and_imports_its_list_as_it_is(tmp_path, ports):
    """Issue 21: `dudao up --jurisdiction 210102` starts 和平区 (沈阳市, 辽宁省) with national defaults, said so, and its
    office's list imports with the command line, a dry run first."""
    up = Up(tmp_path, ports, args=("--jurisdiction", "210102", "--no-seed"))
    try:
        token = up.wait_until_running()
        assert "admin token for 210102" in up.output
        policy = httpx.get(f"http://127.0.0.1:{ports['registry']}/v1/policy/210102", timeout=30).json()
        assert [link["name"] for link in policy["chain"]] == ["全国", "辽宁省", "沈阳市", "和平区"]
        assert policy["national_defaults_only"] and "适用国家默认值" in policy["note_zh"]
        sheet = tmp_path / "和平区学校.csv"
        sheet.write_text(
            "学校标识码,学校名称,行政区划代码,学段,办学性质,城乡类型,在校生数\n"
            "2101020001,沈阳市和平区第一小学,210102,小学,公办,城区,1200\n"
            "2101020002,沈阳市和平区第二中学,210102,初中,公办,城区,900\n",
            encoding="utf-8",
        )

        def run(*flags):
            return subprocess.run(
                [sys.executable, "-m", "dudao_cli", "import", "schools", str(sheet), *flags],
                env=up.env | {"DUDAO_TOKEN": token},
                capture_output=True,
                text=True,
                timeout=60,
            )

        dry = run("--dry-run")
        assert dry.returncode == 0, dry.stdout + dry.stderr
        done = run()
        assert done.returncode == 0, done.stdout + done.stderr
        query = "{ schools(first: 10) { nodes { name jurisdiction { name parent { name } } } } }"
        schools = eventually(
            lambda: len(n := up.gateway(token, query)["data"]["schools"]["nodes"]) == 2 and n,
            timeout=30,
            what="the two imported schools",
        )
        assert {s["jurisdiction"]["name"] for s in schools} == {"和平区"} and schools[0]["jurisdiction"]["parent"][
            "name"
        ] == "沈阳市"

        # Issue 22: a service killed under `dudao up` is restarted, and the rest of the stack keeps running.
        [registry] = [p for p in psutil.Process(up.proc.pid).children() if p.cmdline()[-2:] == ["serve", "registry"]]
        registry.kill()
        line = ""
        while "restarted" not in line:
            line = up.proc.stdout.readline()
            up.output += line
        assert "registry exited with code -9; restarting it in 1 s" in up.output, up.output[-2000:]
        eventually(lambda: listening(ports["registry"]), timeout=60, what="the registry back")
        eventually(
            lambda: len(up.gateway(token, query)["data"]["schools"]["nodes"]) == 2, timeout=30, what="the schools again"
        )
    finally:
        assert up.stop() == 0, up.output
