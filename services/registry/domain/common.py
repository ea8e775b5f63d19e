"""What the registry's aggregates share: stages, name rules, labelled enums, lifecycle checks."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from dudao.errors import Conflict, InvalidInput


class Labelled(StrEnum):
    """An enum whose members carry a Chinese label for display (`label_zh`)."""

    @property
    def label_zh(self) -> str:
        return type(self).LABELS[self.value]  # type: ignore[attr-defined]


class Stage(Labelled):
    """School stage (学段). Nine-year, twelve-year and complete secondary schools span stages."""

    kindergarten = "kindergarten"
    primary = "primary"
    junior_secondary = "junior_secondary"
    senior_secondary = "senior_secondary"
    nine_year = "nine_year"
    twelve_year = "twelve_year"
    complete_secondary = "complete_secondary"
    secondary_vocational = "secondary_vocational"
    special_education = "special_education"


Stage.LABELS = {  # type: ignore[attr-defined]
    "kindergarten": "幼儿园",
    "primary": "小学",
    "junior_secondary": "初级中学",
    "senior_secondary": "高级中学",
    "nine_year": "九年一贯制学校",
    "twelve_year": "十二年一贯制学校",
    "complete_secondary": "完全中学",
    "secondary_vocational": "中等职业学校",
    "special_education": "特殊教育学校",
}


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
        raise RuleViolation(
            f"cannot {command.replace('_', ' ')} a {kind} that is {state}; allowed when {' or '.join(sorted(allowed))}",
            field="status",
            rule=f"{kind}_lifecycle",
            command=command,
            status_now=state,
        )
