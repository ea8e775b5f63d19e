"""Every event the registry can store has a place in its read models: none may be dead-lettered for being unknown."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

from eventsourcing.domain import Aggregate, AggregateCreated

import services.registry.domain
from dudao import personal
from services.registry import projections


def _event_types(*modules) -> set[str]:
    types = set()
    for module in modules:
        for aggregate in vars(module).values():
            if not (
                inspect.isclass(aggregate)
                and issubclass(aggregate, Aggregate)
                and aggregate.__module__ == module.__name__
            ):
                continue
            events = [e for e in vars(aggregate).values() if inspect.isclass(e) and issubclass(e, Aggregate.Event)]
            # Only the leaves are stored: `Event` and an unused `Created` are the bases eventsourcing makes per class.
            leaves = [e for e in events if not any(o is not e and issubclass(o, e) for o in events)]
            creations = [e for e in leaves if issubclass(e, AggregateCreated)]
            if len(creations) > 1:  # `@event("Registered")` on `__init__` creates with Registered, never Created
                leaves = [e for e in leaves if e.__name__ != "Created"]
            types |= {f"{aggregate.__name__}.{e.__name__}" for e in leaves}
    return types


def test_every_registry_event_is_projected_or_declared_not_projected():
    package = services.registry.domain
    modules = [importlib.import_module(f"{package.__name__}.{m.name}") for m in pkgutil.iter_modules(package.__path__)]
    stored = _event_types(*modules, personal)
    assert {"School.HeadReplacementOrdered", "ApiClient.Revoked", "Erasure.Recorded"} <= stored  # the walk finds them
    unknown = stored - set(projections.HANDLERS) - projections.NOT_PROJECTED
    assert not unknown, f"the registry read models would dead-letter {sorted(unknown)}"
