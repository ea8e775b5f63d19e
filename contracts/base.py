"""A contract class, and the decoding of an arriving event into one."""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, ClassVar, TypeVar

from dudao.consumer import InboundEvent

C = TypeVar("C", bound="Contract")
HEADER = ("aggregate_id", "version", "at")  # what every contract has from the message itself


@dataclasses.dataclass(frozen=True, kw_only=True)
class Contract:
    """An event as the service recording it promises it to others. `event` is its type on the wire
    (`School.Registered`); `at` is when it was recorded upstream (the same on every redelivery)."""

    event: ClassVar[str] = ""
    aggregate_id: str
    version: int
    at: datetime

    @classmethod
    def decode(cls: type[C], event: InboundEvent) -> C:
        """The contract's fields from the event's data, dates parsed; a field the data lacks and the contract needs
        is a KeyError (the consumer dead-letters the event, naming it)."""
        values: dict[str, Any] = {}
        for name, typed, required in _fields(cls):
            if name in event.data:
                values[name] = event.data[name] if typed is None else typed(event.data[name])
            elif required:
                raise KeyError(f"{event.type} {event.aggregate_id} v{event.version} has no {name}")
        at = datetime.fromisoformat(event.data["timestamp"])
        return cls(aggregate_id=event.aggregate_id, version=event.version, at=at, **values)


class Published:
    """The contracts one service publishes, by event type."""

    def __init__(self, *contracts: type[Contract]):
        self.by_type = {c.event: c for c in contracts}

    def decode(self, event: InboundEvent) -> Contract | None:
        """The event as its contract, or None for an event no other service relies on."""
        contract = self.by_type.get(event.type)
        return contract.decode(event) if contract else None


@functools.cache
def _fields(cls: type[Contract]) -> tuple[tuple[str, Callable[[Any], Any] | None, bool], ...]:
    """A contract's fields beyond the header, each with how its JSON is read (`_typed`; None: as it came) and whether
    the data must hold it: made once per class, since resolving the annotations costs more than decoding an event."""
    hints = typing.get_type_hints(cls)
    return tuple(
        (f.name, _typed(hints[f.name]), f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
        for f in dataclasses.fields(cls)
        if f.name not in HEADER
    )


def _typed(hint: Any) -> Callable[[Any], Any] | None:
    """How JSON is read as the annotation says: ISO dates and times parsed, in dicts too; everything else as it came
    (None: nothing to do for this annotation). The first of a union's types that the value's JSON type fits wins."""
    options = (
        typing.get_args(hint)
        if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union
        else (hint,)
    )
    steps: list[tuple[type, Callable[[Any], Any]]] = []
    for option in options:
        if option is datetime:
            steps.append((str, datetime.fromisoformat))
        elif option is date:
            steps.append((str, date.fromisoformat))
        elif typing.get_origin(option) is dict:
            value = _typed(typing.get_args(option)[1])
            steps.append(
                (dict, dict if value is None else lambda raw, value=value: {k: value(v) for k, v in raw.items()})
            )
    if not steps:
        return None

    def typed(raw: Any) -> Any:
        if raw is None:
            return None
        for kind, step in steps:
            if isinstance(raw, kind):
                return step(raw)
        return raw

    return typed
