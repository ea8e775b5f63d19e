"""The layers (issue 23): the domain holds the rules and no web, GraphQL or messaging framework."""

from __future__ import annotations

import json
import subprocess
import sys

FRAMEWORKS = ("fastapi", "starlette", "strawberry", "nats", "uvicorn", "httpx")


def test_no_services_domain_imports_a_web_graphql_or_messaging_framework():
    probe = (
        "import importlib, json, sys\n"
        "found = {}\n"
        "for service in ('registry', 'inspection', 'accountability', 'monitoring'):\n"
        "    importlib.import_module(f'services.{service}.domain')\n"
        f"    found[service] = sorted(m for m in {FRAMEWORKS!r} if m in sys.modules)\n"
        "print(json.dumps(found))\n"
    )
    answer = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert answer.returncode == 0, answer.stderr
    assert json.loads(answer.stdout) == {"registry": [], "inspection": [], "accountability": [], "monitoring": []}


def test_the_kernel_imports_no_service_no_gateway_and_not_the_command_above_it():
    import ast
    from pathlib import Path

    kernel = Path(__file__).resolve().parents[2] / "dudao"
    upward = []
    for path in sorted(kernel.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            upward += [f"{path.name}: {n}" for n in names if n.split(".")[0] in ("services", "gateway", "dudao_cli")]
    assert upward == []
