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


def kernel_imports(path: Path) -> tuple[set[str], list[str]]:
    """The kernel modules `path` imports at its top (not under TYPE_CHECKING), and those it imports inside a function."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dudao"):
            top |= {node.module} if node.module != "dudao" else {f"dudao.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            top |= {a.name for a in node.names if a.name.startswith("dudao.")}
    inner = [
        f"{path.name}:{node.lineno} {node.module}"
        for function in ast.walk(tree)
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(function)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dudao")
    ]
    return top, inner


def test_the_kernel_has_no_import_circle_and_hides_none_inside_a_function():
    """Declarations (`dudao.parts`), cursors, route helpers and the process assembly (`dudao.service`) are apart, so
    no kernel module needs a function-local import to break a circle."""
    graph, hidden = {}, []
    for path in sorted((ROOT / "dudao").glob("*.py")):
        top, inner = kernel_imports(path)
        graph[f"dudao.{path.stem}"] = {m for m in top if m != f"dudao.{path.stem}"}
        hidden += inner
    assert hidden == []
    visiting, done, circles = set(), set(), []

    def visit(module: str, trail: list[str]) -> None:
        if module in done or module not in graph:
            return
        if module in visiting:
            circles.append(" -> ".join([*trail[trail.index(module) :], module]))
            return
        visiting.add(module)
        for imported in sorted(graph[module]):
            visit(imported, [*trail, module])
        visiting.discard(module)
        done.add(module)

    for module in sorted(graph):
        visit(module, [])
    assert circles == []
