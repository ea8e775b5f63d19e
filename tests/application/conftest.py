"""The fast tier: each service's application on eventsourcing's in-memory recorders (`Settings.event_store =
"memory"`), its person keys and policy-profile copy in memory too. Given some events, when a command comes from a
caller, then what it answers or refuses, and what the store then holds: in milliseconds, without PostgreSQL or NATS.

What needs the real servers (the hash chain's trigger, projections, the relay, links, HTTP) stays in the integration
tier."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dudao.config import Settings
from dudao.errors import Problem
from services.accountability.application import Accountability
from services.inspection.application import Inspection
from services.monitoring.application import Monitoring
from services.registry.application import Registry

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # 10:00 in China on the test clock's day
TODAY = NOW.date()
SHIPPED = Path(__file__).resolve().parents[2] / "services/registry/policy_profiles"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/application/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.application)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return replace(Settings(), event_store="memory", home=tmp_path, jurisdiction="500120", today=TODAY)


def with_shipped_profiles(app):
    """The service's profile copy as the registry's shipped profiles fill it (the nation, 500000, 500120, …)."""
    for path in sorted(SHIPPED.glob("*.json")):
        shipped = json.loads(path.read_text(encoding="utf-8"))
        app.profiles.keep(shipped["jurisdiction"], 1, shipped["values"])
    return app


@pytest.fixture
def registry(settings) -> Registry:
    return Registry(settings)


@pytest.fixture
def inspection(settings) -> Inspection:
    return with_shipped_profiles(Inspection(settings))


@pytest.fixture
def accountability(settings) -> Accountability:
    return with_shipped_profiles(Accountability(settings))


@pytest.fixture
def monitoring(settings) -> Monitoring:
    app = Monitoring(settings)
    app.install_shipped_frameworks(NOW)
    return app


def refused(call, status: int, rule: str) -> Problem:
    """Then: `call` is refused with this status and rule (what the route would answer as problem+json)."""
    with pytest.raises(Problem) as caught:
        call()
    assert (caught.value.status, caught.value.rule) == (status, rule), caught.value.detail
    return caught.value


def recorded(app, aggregate_id) -> list[str]:
    """The names of the events the store holds for an aggregate, in order."""
    return [type(e).__name__ for e in app.events.get(aggregate_id)]
