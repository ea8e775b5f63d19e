"""What every aggregate shares: labelled enums, name and value checks, lifecycle tables, rule violations.

No domain words here: each service's domain builds its own enums and tables on these.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum, StrEnum
from typing import Any, TypeVar

from dudao.errors import Conflict, InvalidInput


class Labelled(StrEnum):
    """An enum whose members carry a Chinese label for display (`label_zh`)."""

    @property
    def label_zh(self) -> str:
        return type(self).LABELS[self.value]  # type: ignore[attr-defined]


class RuleViolation(Conflict):
    """A command that the aggregate's state or a policy rule forbids (409, naming the rule)."""


def require_name(value: str, field: str = "name") -> str:
    value = value.strip()
    if not value:
        raise InvalidInput(f"{field} must not be empty", field=field, rule="non_empty")
    return value


def check_transition(kind: str, transitions: Mapping[str, frozenset[str]], command: str, state: str) -> None:
    """Refuse `command` unless the aggregate's `state` allows it, naming the lifecycle rule."""
    allowed = transitions[command]
    if state not in allowed:
        article = "an" if kind[:1] in "aeiou" else "a"
        raise RuleViolation(
            f"cannot {command.replace('_', ' ')} {article} {kind} that is {state}; "
            f"allowed when {' or '.join(sorted(allowed))}",
            field="status",
            rule=f"{kind}_lifecycle",
            command=command,
            status_now=state,
        )


E = TypeVar("E", bound=Enum)


def choice(enum: type[E], value: Any, field: str) -> E:
    try:
        return enum(value)
    except (ValueError, TypeError):
        raise InvalidInput(
            f"{field} must be one of {', '.join(m.value for m in enum)}, not {value!r}", field=field, rule="not_in_list"
        ) from None


def text(value: Any, field: str, *, required: bool = True) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be text", field=field, rule="text")
    return require_name(value, field) if required else value.strip()


def flag(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"{field} must be true or false", field=field, rule="boolean")
    return value
