"""Each read shape is declared once: as the gateway's strawberry type. What the gateway asks a subgraph for
(`selection`) and how the answer becomes the type (`shape`) both follow from its data fields, so a field is written
once. `tests/unit/test_gateway_shapes.py` walks every such type against its subgraph's schema and fails when one
drifts (a field gone, renamed, or nullable where the gateway promises a value).

Field names are the subgraph's in snake case. A private field named `…_code` holds the subgraph's `…` (the gateway
shows `jurisdiction` as a `Jurisdiction`, keeping the code). A type's `GIVEN` names fields taken from the enclosing
answer rather than asked for (a finding knows its activity's id).

A resolver that hands the client what it shaped asks only for what the client selected (`subgraph.wanted`): at
province size the start page's verdicts are some 20,000 fields, and each costs the subgraph and the gateway
microseconds to resolve. A type with resolvers of its own is asked for all its scalars (a resolver reads them); nested shapes are
asked for only when selected. `shape` fills what was not asked for with None, or an empty list."""

from __future__ import annotations

import dataclasses
import functools
import re
import types
import typing
from datetime import date, datetime
from typing import Any, TypeVar

import strawberry
from strawberry.types.private import StrawberryPrivate

from dudao.subgraph import Wanted

T = TypeVar("T")


def camel(name: str) -> str:
    return re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), name)


@dataclasses.dataclass(frozen=True)
class Field:
    name: str  # the gateway's
    key: str  # the subgraph's
    hint: Any  # the type, unwrapped of Private
    given: str | None  # the enclosing answer's key it is taken from, if not asked for
    private: bool  # not the client's to select: kept for the gateway's own resolvers
    required: bool  # no default of its own


def is_shape(hint: Any) -> bool:
    return isinstance(hint, type) and hasattr(hint, "__strawberry_definition__")


@functools.cache
def fields_of(cls: type) -> tuple[Field, ...]:
    """The data fields of a gateway type (not its resolvers), with the subgraph key each comes from."""
    hints = typing.get_type_hints(cls, include_extras=True)
    given: dict[str, str] = getattr(cls, "GIVEN", {})
    found = []
    for f in dataclasses.fields(cls):
        if getattr(f, "base_resolver", None) is not None:
            continue
        hint = hints[f.name]
        private = typing.get_origin(hint) is typing.Annotated and any(
            isinstance(m, StrawberryPrivate) for m in hint.__metadata__
        )
        if private:
            hint = typing.get_args(hint)[0]
        key = camel(f.name[: -len("_code")]) if private and f.name.endswith("_code") else camel(f.name)
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        found.append(Field(f.name, key, hint, given.get(f.name), private, required))
    return tuple(found)


@functools.cache
def has_resolvers(cls: type) -> bool:
    return any(getattr(f, "base_resolver", None) is not None for f in dataclasses.fields(cls))


def inner(hint: Any) -> Any:
    """The type inside Optional and list."""
    while True:
        origin = typing.get_origin(hint)
        if origin in (typing.Union, types.UnionType):
            hint = next(a for a in typing.get_args(hint) if a is not type(None))
        elif origin is list:
            hint = typing.get_args(hint)[0]
        else:
            return hint


def selection(cls: type, chosen: Wanted | None = None) -> str:
    """What to ask the subgraph for to build `cls`: every data field, nested shapes with their own selections; or,
    given the client's selection `chosen` (`subgraph.wanted`), only what it selects and what the type's resolvers read."""
    if chosen is None:
        return _everything(cls)
    keep_scalars = has_resolvers(cls)
    parts = []
    for f in fields_of(cls):
        if f.given:
            continue
        nested = inner(f.hint)
        below = chosen.get(f.key)
        if is_shape(nested):
            if below is not None and not f.private:
                parts.append(f"{f.key} {{ {selection(nested, below)} }}")
        elif below is not None or f.private or keep_scalars:
            parts.append(f.key)
    return " ".join(parts) or "__typename"


@functools.cache
def _everything(cls: type) -> str:
    parts = []
    for f in fields_of(cls):
        if f.given:
            continue
        nested = inner(f.hint)
        parts.append(f"{f.key} {{ {_everything(nested)} }}" if is_shape(nested) else f.key)
    return " ".join(parts)


def shape(cls: type[T], answer: dict[str, Any], enclosing: dict[str, Any] | None = None) -> T:
    """`cls` from a subgraph's camelCase answer (asked with `selection`): dates and times parsed, ids as ids, nested
    shapes built the same way; what was not asked for is None, or an empty list (nobody selected it)."""
    values: dict[str, Any] = {}
    for f in fields_of(cls):
        if f.given:
            values[f.name] = (enclosing or {})[f.given]
        elif f.key in answer:
            values[f.name] = _value(f.hint, answer[f.key], answer)
        elif f.required:
            values[f.name] = [] if typing.get_origin(f.hint) is list else None
    return cls(**values)


def _value(hint: Any, raw: Any, enclosing: dict[str, Any]) -> Any:
    if raw is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return _value(next(a for a in typing.get_args(hint) if a is not type(None)), raw, enclosing)
    if origin is list:
        return [_value(typing.get_args(hint)[0], x, enclosing) for x in raw]
    if hint is date:
        return date.fromisoformat(raw)
    if hint is datetime:
        return datetime.fromisoformat(raw)
    if hint is strawberry.ID:
        return strawberry.ID(str(raw))
    if is_shape(hint):
        return shape(hint, raw, enclosing)
    return raw
