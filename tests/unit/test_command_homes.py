"""Each command has one home: a command object in the service's `commands` module and one application method named
for it, taking the command and the caller. Routes parse, call and answer: no lambda or closure goes from a route into
the application, and no command method hides one of eventsourcing's own `Application` methods."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import re
from pathlib import Path

import pytest
from eventsourcing.application import Application

from services.accountability.application import Accountability
from services.inspection.application import Inspection
from services.monitoring.application import Monitoring
from services.registry.application import Registry

ROOT = Path(__file__).resolve().parents[2]
APPLICATIONS = {
    "registry": Registry,
    "inspection": Inspection,
    "monitoring": Monitoring,
    "accountability": Accountability,
}
NOT_COMMANDS = {"Unit"}  # a value a command carries (the unit a measure is about), not a command


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def commands_of(service: str) -> list[type]:
    module = importlib.import_module(f"services.{service}.commands")
    return [
        cls
        for name, cls in vars(module).items()
        if dataclasses.is_dataclass(cls) and cls.__module__ == module.__name__ and name not in NOT_COMMANDS
    ]


@pytest.mark.parametrize("service", sorted(APPLICATIONS))
def test_every_command_object_has_one_application_method_named_for_it_taking_it_and_the_caller(service):
    app = APPLICATIONS[service]
    found = commands_of(service)
    assert found, f"services/{service}/commands.py declares no commands"
    for command in found:
        assert dataclasses.fields(command) and command.__dataclass_params__.frozen, f"{command.__name__} is not frozen"
        method = getattr(app, snake(command.__name__), None)
        assert callable(method), f"{app.__name__} has no {snake(command.__name__)} for {command.__name__}"
        parameters = list(inspect.signature(method).parameters.values())
        assert [p.name for p in parameters[:3]] == ["self", "command", "caller"], method.__qualname__
        assert parameters[1].annotation in (command.__name__, command), method.__qualname__
        assert parameters[2].annotation in ("Caller",), method.__qualname__


@pytest.mark.parametrize("service", sorted(APPLICATIONS))
def test_no_command_method_hides_an_eventsourcing_application_method(service):
    app, base = APPLICATIONS[service], set(dir(Application))
    hidden = {snake(c.__name__) for c in commands_of(service)} & base
    assert not hidden, f"{app.__name__} would replace eventsourcing's {sorted(hidden)} (as `notify` once did)"


def test_routes_hand_no_lambda_or_function_to_the_application():
    """A route may define no function inside itself and write no lambda: what the application runs is its own."""
    offending = []
    for path in sorted(ROOT.glob("services/*/api/*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Lambda):
                offending.append(f"{path.relative_to(ROOT)}:{node.lineno} lambda")
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                inner = [
                    n for n in ast.walk(node) if n is not node and isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
                ]
                offending += [f"{path.relative_to(ROOT)}:{n.lineno} {n.name} inside {node.name}" for n in inner]
    allowed = {"_register_reads", "_register_publish"}  # route factories: they define routes, not commands
    offending = [o for o in offending if not any(f"inside {a}" in o for a in allowed)]
    assert not offending, "\n".join(offending)
