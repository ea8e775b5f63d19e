"""The layers (issue 23): the domain holds the rules and no web, GraphQL or messaging framework; the kernel imports
no service; a service imports no other service (they share the kernel and the contracts, and talk over NATS)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("registry", "inspection", "accountability", "monitoring")

FRAMEWORKS = ("fastapi", "starlette", "strawberry", "nats", "uvicorn", "httpx")


def frameworks_loaded(modules: tuple[str, ...], frameworks: tuple[str, ...]) -> dict[str, list[str]]:
    """Per service, which of `frameworks` a fresh interpreter holds after importing the service's `modules`."""
    probe = (
        "import importlib, json, sys\n"
        "found = {}\n"
        "for service in ('registry', 'inspection', 'accountability', 'monitoring'):\n"
        f"    for module in {modules!r}:\n"
        "        importlib.import_module(f'services.{service}.{module}')\n"
        f"    found[service] = sorted(m for m in {frameworks!r} if m in sys.modules)\n"
        "print(json.dumps(found))\n"
    )
    answer = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert answer.returncode == 0, answer.stderr
    return json.loads(answer.stdout)


def test_no_services_domain_imports_a_web_graphql_or_messaging_framework():
    found = frameworks_loaded(("domain",), FRAMEWORKS)
    assert found == {"registry": [], "inspection": [], "accountability": [], "monitoring": []}


def test_no_services_commands_or_application_import_a_web_or_graphql_framework():
    """The application runs without HTTP: the fast tier and the workers call it directly."""
    found = frameworks_loaded(("commands", "application"), ("fastapi", "starlette", "strawberry", "uvicorn"))
    assert found == {"registry": [], "inspection": [], "accountability": [], "monitoring": []}


def imports(path: Path) -> list[str]:
    """Every module `path` imports, at the top or inside a function."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append(node.module or "")
    return found


def test_the_kernel_imports_no_service_no_gateway_and_not_the_command_above_it():
    upward = [
        f"{path.name}: {name}"
        for path in sorted((ROOT / "dudao").glob("*.py"))
        for name in imports(path)
        if name.split(".")[0] in ("services", "gateway", "dudao_cli", "contracts")
    ]
    assert upward == []


def test_the_contracts_between_services_import_no_service():
    """`contracts/` is what services share instead of each other's code: it stands on the kernel alone."""
    upward = [
        f"{path.name}: {name}"
        for path in sorted((ROOT / "contracts").glob("*.py"))
        for name in imports(path)
        if name.split(".")[0] in ("services", "gateway", "dudao_cli")
    ]
    assert upward == []


def test_no_service_imports_another_services_code():
    across = [
        f"{path.relative_to(ROOT)}: {name}"
        for service in SERVICES
        for path in sorted((ROOT / "services" / service).rglob("*.py"))
        for name in imports(path)
        if name.startswith("services.") and name.split(".")[1] != service
    ]
    assert across == []
