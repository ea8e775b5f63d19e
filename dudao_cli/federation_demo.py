"""`make demo-federation`: a province and two of its counties on this machine, linked, each with demo data.

Each instance is a whole `dudao up` of its own (PostgreSQL, NATS, the services and the gateway) on free ports under
`.dudao/federation/<code>`. The counties' NATS servers are leaf nodes of the province's; `dudao link` makes the
province source the counties' streams. The demo waits until the province answers for each county
what the county answers for itself, prints that roll-up query and its answer, then runs until Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from dudao import jurisdiction
from dudao_cli.servers import free_port

PROVINCE, COUNTIES = "530000", ("530113", "530114")  # Yunnan; Dongchuan and Chenggong, both under Kunming
SERVICES = ("gateway", "registry", "inspection", "accountability", "monitoring")
TOKEN = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]+")


def board(code: str, links: bool = False) -> str:
    """The start page of `code`, under the alias c<code>; with `links`, the instance's links too."""
    return (
        f'c{code}: dashboard(jurisdiction: "{code}") {{ jurisdiction {{ name }} staffing {{ schools inspectors r1 {{ met }} }}'
        " routineCoverage { schools visited } latestVerdicts { framework jurisdiction passes }"
        " verdicts { framework areas passing failing }"
        " rectification { openCases closedCases items overdueItems noticesIssued } interviews { status count }"
        + (
            " links { service direction jurisdiction connected lastArrivedAt lastNotificationId behind }"
            if links
            else ""
        )
        + " }"
    )


# The province's board shows how its links to the counties stand (issue 20).
ROLLUP = "{ " + " ".join(board(code, links=code == PROVINCE) for code in (PROVINCE, *COUNTIES)) + " }"


class Instance:
    """One `dudao up` for one jurisdiction, on free ports."""

    def __init__(self, code: str, home: Path, *flags: str):
        self.code, self.ports = code, {name: free_port() for name in (*SERVICES, "pg", "nats")}
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "NATS_URL", "DUDAO_DEV_KEY")}
        env |= {f"DUDAO_{name.upper()}_PORT": str(port) for name, port in self.ports.items()}
        env |= {"DUDAO_HOME": str(home / code), "DUDAO_JURISDICTION": code}
        self.env = env
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dudao_cli", "up", *flags],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.token = ""

    def wait_until_running(self) -> None:
        for line in self.proc.stdout:
            if "demo data for" in line and " steps in " not in line:
                continue  # the loader's progress: only its count at the end is shown
            print(f"  [{self.code}] {line.rstrip()}", flush=True)
            if match := TOKEN.search(line):
                self.token = match.group(0)
                return
        raise SystemExit(f"the {self.code} instance exited with {self.proc.wait()} before it was running")

    def ask(self, query: str) -> dict:
        response = httpx.post(
            f"http://127.0.0.1:{self.ports['gateway']}/graphql",
            json={"query": query},
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
        )
        return response.json()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def _counties_arrived(answer: dict, counties: list[Instance]) -> bool:
    """Whether the province answers for each county exactly what the county answers for itself."""
    data = answer.get("data") or {}
    for county in counties:
        own = (county.ask("{ " + board(county.code) + " }").get("data") or {}).get(f"c{county.code}")
        if not own or data.get(f"c{county.code}") != own:
            return False
    return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", default=".dudao/federation", help="where the three instances keep their data")
    parser.add_argument("--no-wait", action="store_true", help="stop everything once the answer is printed")
    args = parser.parse_args(argv)
    # A service manager's SIGTERM, or `timeout`'s, stops all three the way Ctrl-C does (the instances run in sessions
    # of their own, so nothing else would reach them).
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.default_int_handler)
    home = Path(args.home).resolve()
    leaf_port = free_port()
    names = ", ".join(jurisdiction.name_of(c) for c in COUNTIES)
    print(f"starting {jurisdiction.name_of(PROVINCE)} ({PROVINCE}) and {names} …", flush=True)
    province = Instance(PROVINCE, home, "--leaf-port", str(leaf_port))
    # All three start at once: a county's NATS keeps dialling the province's leaf port until it answers.
    counties = [
        Instance(code, home, "--upstream", f"nats-leaf://127.0.0.1:{leaf_port}", "--upper", PROVINCE)
        for code in COUNTIES
    ]
    instances = [province, *counties]
    try:
        for instance in instances:
            instance.wait_until_running()
        linked = subprocess.run(
            [sys.executable, "-m", "dudao_cli", "link", *COUNTIES],
            capture_output=True,
            text=True,
            env=province.env | {"NATS_URL": f"nats://127.0.0.1:{province.ports['nats']}"},
        )
        print(linked.stdout + linked.stderr, end="", flush=True)
        if linked.returncode != 0:
            raise SystemExit("linking failed; see above")
        deadline, answer, before = time.monotonic() + 120, {}, None
        # Arrived: the province answers for each county what the county answers for itself, twice in a row (so a
        # county still projecting its own demo is not taken for one that has finished).
        while time.monotonic() < deadline and not (
            _counties_arrived(answer := province.ask(ROLLUP), counties) and answer == before
        ):
            before = answer
            time.sleep(1)
        print(f"\nThe province's gateway (http://127.0.0.1:{province.ports['gateway']}/graphql), asked:\n{ROLLUP}\n")
        print("answers:\n" + json.dumps(answer, ensure_ascii=False, indent=2), flush=True)
        if not _counties_arrived(answer, counties):
            raise SystemExit(
                "the counties' data did not reach the province within 120 s; see the logs under " + str(home)
            )
        print(f"\nadmin token for {PROVINCE}:\n{province.token}\n\nCtrl-C stops all three.", flush=True)
        if not args.no_wait:
            while all(i.proc.poll() is None for i in instances):
                time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        print("\nstopping …", flush=True)
        for instance in reversed(instances):
            instance.stop()
        print("stopped.", flush=True)


if __name__ == "__main__":
    main()
