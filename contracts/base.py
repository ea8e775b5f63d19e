"""A contract class, and the decoding of an arriving event into one."""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
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
        for name, hint, required in _fields(cls):
            if name in event.data:
                values[name] = _typed(hint, event.data[name])
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
def _fields(cls: type[Contract]) -> tuple[tuple[str, Any, bool], ...]:
    """A contract's fields beyond the header, each with its annotation and whether the data must hold it: read once
    per class, since resolving the annotations costs more than decoding an event."""
    hints = typing.get_type_hints(cls)
    return tuple(
        (f.name, hints[f.name], f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
        for f in dataclasses.fields(cls)
        if f.name not in HEADER
    )


def _typed(hint: Any, raw: Any) -> Any:
    """JSON as the annotation says: ISO dates and times parsed, in dicts too; everything else as it came."""
    if raw is None:
        return None
    options = (
        typing.get_args(hint)
        if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union
        else (hint,)
    )
    for option in options:
        if option is datetime and isinstance(raw, str):
            return datetime.fromisoformat(raw)
        if option is date and isinstance(raw, str):
            return date.fromisoformat(raw)
        if typing.get_origin(option) is dict and isinstance(raw, dict):
            _, value_hint = typing.get_args(option)
            return {k: _typed(value_hint, v) for k, v in raw.items()}
    return raw
