"""Any Federation-2 router can serve the subgraphs (issue 22, decision 008 revised): Apollo's reference composition
accepts the four SDLs, and Apollo's own gateway, installed from npm, answers a cross-service query as ours does."""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from dudao_cli.servers import free_port
from gateway.app import build as build_gateway
from services.accountability.app import build as build_accountability
from services.inspection.app import build as build_inspection
from tests.conftest import eventually
from tests.factories import activity, copied_inspector, copied_school, walk_to_issue

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parents[1] / "federation"
TOOLS = HERE.parents[1] / ".cache" / "federation"  # node_modules from package-lock.json, installed once per checkout


@pytest.fixture(scope="session")
def node_tools() -> Path:
    """Apollo's composition and gateway from npm, as package-lock.json pins them (installed on first use)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip(
            "node and npm are not installed: the Federation-2 checks need them (Node.js 20 from the system's packages)"
        )
    TOOLS.mkdir(parents=True, exist_ok=True)
    with (TOOLS / ".lock").open("w") as lock:  # the test workers share the one installation
        fcntl.flock(lock, fcntl.LOCK_EX)
        wanted = (HERE / "package-lock.json").read_bytes()
        installed = TOOLS / "package-lock.json"
        if not (TOOLS / "node_modules").is_dir() or not installed.is_file() or installed.read_bytes() != wanted:
            for name in ("package.json", "package-lock.json"):
                shutil.copy(HERE / name, TOOLS / name)
            subprocess.run([npm, "ci", "--silent", "--no-audit", "--no-fund"], cwd=TOOLS, check=True, timeout=600)
        for name in ("compose.js", "router.js"):
            shutil.copy(HERE / name, TOOLS / name)
    return TOOLS


def test_apollos_composition_composes_the_four_subgraphs_without_an_error(node_tools, tmp_path):
    from services.accountability.graphql import schema as accountability
    from services.inspection.graphql import schema as inspection
    from services.monitoring.graphql import schema as monitoring
    from services.registry.graphql import schema as registry

    for name, schema in (
        ("registry", registry),
        ("inspection", inspection),
        ("accountability", accountability),
        ("monitoring", monitoring),
    ):
        (tmp_path / f"{name}.graphql").write_text(schema.as_str(), encoding="utf-8")
    composed = subprocess.run(
        ["node", str(node_tools / "compose.js"), str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert composed.returncode == 0 and composed.stdout.startswith("composed"), composed.stdout + composed.stderr


def test_apollos_gateway_answers_a_school_with_its_activities_and_cases_as_ours_does(
    node_tools, settings, registry, serve, token
):
    inspection, accountability = serve(build_inspection(settings)), serve(build_accountability(settings))
    ours = serve(
        build_gateway(
            replace(
                settings,
                ports=settings.ports
                | {"registry": registry.port, "inspection": inspection.port, "accountability": accountability.port},
            )
        )
    )
    with registry.client(token()) as reg:
        leader = copied_inspector(reg, settings, "李明远", roles=["responsible"])
        school_id = copied_school(reg, settings, "璧山区青岚小学", stage="primary")
        copied_school(reg, settings, "璧山区来凤小学", stage="primary")  # no activity, no case
    with inspection.client(token()) as client:
        location = client.post("/v1/activities", json=activity(target_id=school_id)).headers["Location"]
        walk_to_issue(client, location, leader, "消防通道堵塞")
    with accountability.client(token()) as client:
        eventually(lambda: len(client.get("/v1/cases").json()["items"]) == 1, what="the case the report opened")

    port = free_port()
    subgraphs = [
        f"{name}={app.url}/graphql"
        for name, app in (("registry", registry), ("inspection", inspection), ("accountability", accountability))
    ]
    router = subprocess.Popen(
        ["node", str(node_tools / "router.js"), str(port), *subgraphs],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        started = time.monotonic()
        line = router.stdout.readline()
        assert line.startswith("ready"), line + router.stdout.read() if router.poll() is not None else line
        query = "{ schools(first: 10) { nodes { id name activities { id title status { value } } cases { id status unitName } } } }"

        def ask(url):
            return httpx.post(
                url, json={"query": query}, headers={"Authorization": f"Bearer {token()}"}, timeout=30
            ).json()

        theirs, mine = ask(f"http://127.0.0.1:{port}/"), ask(f"{ours.url}/graphql")
        print(f"\nApollo's gateway composed and answered in {time.monotonic() - started:.1f} s")
    finally:
        router.terminate()
        router.wait(timeout=10)
    assert "errors" not in theirs, theirs
    assert theirs == mine
    by_name = {s["name"]: s for s in theirs["data"]["schools"]["nodes"]}
    [visited] = by_name["璧山区青岚小学"]["activities"]
    [case] = by_name["璧山区青岚小学"]["cases"]
    assert (visited["title"], visited["status"]) == ("经常性督导", {"value": "report_issued"})
    assert (case["status"], case["unitName"]) == ("opened", "璧山区青岚小学")
    assert by_name["璧山区来凤小学"]["activities"] == [] and by_name["璧山区来凤小学"]["cases"] == []
