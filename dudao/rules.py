"""What every aggregate shares: labelled enums, name and value checks, lifecycle tables, rule violations.

No domain words here: each service's domain builds its own enums and tables on these.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from enum import Enum, StrEnum
from typing import Any, TypeVar

from dudao.errors import Conflict, InvalidInput


class Labelled(StrEnum):
    """An enum whose members carry their Chinese label for display inline: `draft = "draft", "草稿"`. The value
    stays the English word (events and the API carry it); `label_zh` is the label."""

    label_zh: str

    def __new__(cls, value: str, label_zh: str) -> Labelled:
        member = str.__new__(cls, value)
        member._value_ = value
        member.label_zh = label_zh
        return member


class RuleViolation(Conflict):
    """A command that the aggregate's state or a policy rule forbids (409, naming the rule)."""


def require_name(value: str, field: str = "name") -> str:
    value = value.strip()
    if not value:
        raise InvalidInput(f"{field} must not be empty", field=field, rule="non_empty")
    return value


def happened(day: date, field: str, *, today: date, after: date | None = None, after_what: str = "") -> date:
    """A fact recorded as having happened (a notice sent, a meeting held, feedback given): not later than `today`
    (China's date, from the service clock) and not earlier than `after`, what it depends on. Planned dates and
    deadlines are not facts and never come here. Each refusal names both dates."""
    if not isinstance(day, date):
        raise InvalidInput(f"{field} must be a date", field=field, rule="date")
    if day > today:
        raise InvalidInput(
            f"{field} {day} is after today ({today}); a fact is recorded once it has happened",
            field=field,
            rule="date_in_future",
            date=day.isoformat(),
            today=today.isoformat(),
        )
    if after is not None and day < after:
        raise InvalidInput(
            f"{field} {day} is before {after_what} ({after})",
            field=field,
            rule="date_order",
            date=day.isoformat(),
            earliest=after.isoformat(),
        )
    return day


def check_transition(kind: str, transitions: Mapping[str, frozenset[str]], command: str, state: str) -> None:
    """Refuse `command` unless the aggregate's `state` allows it, naming the lifecycle rule."""
    allowed = transitions[command]
    if state not in allowed:
        article = "an" if kind[:1] in "aeiou" else "a"
        raise RuleViolation(
            f"cannot {command.replace('_', ' ')} {article} {kind} that is {state}; "
            f"allowed when {' or '.join(sorted(allowed))}",
            field="status",
            rule=f"{kind.replace(' ', '_')}_lifecycle",  # a stable identifier: "level_approval_lifecycle"
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


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def resident_id(value: str, field: str = "id_number") -> str:
    """A resident ID number (公民身份号码, GB 11643-1999): 17 digits, a valid birth date, and its check character."""
    from datetime import date  # only here: the rest of this module knows no dates

    value = value.strip().upper()
    if len(value) != 18 or not value[:17].isdigit() or not (value[17].isdigit() or value[17] == "X"):
        raise InvalidInput(
            f"{field} must be 18 characters: 17 digits and a digit or X", field=field, rule="id_number_format"
        )
    try:
        date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise InvalidInput(
            f"{field} holds no valid birth date (characters 7 to 14)", field=field, rule="id_number_birth_date"
        ) from None
    check = "10X98765432"[sum(int(d) * w for d, w in zip(value, _ID_WEIGHTS, strict=False)) % 11]
    if value[17] != check:
        raise InvalidInput(
            f"{field} fails its check character (GB 11643); check the number", field=field, rule="id_number_checksum"
        )
    return value


def mobile(value: str, field: str = "mobile") -> str:
    """A mainland mobile number: 11 digits starting 13 to 19 (a +86 prefix is dropped)."""
    digits = value.strip().replace(" ", "").replace("-", "").removeprefix("+86")
    if len(digits) != 11 or not digits.isdigit() or digits[:2] < "13":
        raise InvalidInput(
            f"{field} must be an 11-digit mobile number starting 13 to 19", field=field, rule="mobile_format"
        )
    return digits
