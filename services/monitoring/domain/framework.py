"""Indicator frameworks (评估指标体系) as versioned data.

A framework is a JSON document (shipped ones live in `services/monitoring/frameworks/`, its shape in
`definition.py`). The `Framework` aggregate keeps every published version and pins one to each
collection period (填报周期), so a later version never changes what an earlier period was assessed under.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

from dudao.errors import Conflict, InvalidInput, NotFound
from services.monitoring.domain.definition import Definition

FRAMEWORK_NAMESPACE = uuid.UUID("0c6b8e52-3f5e-4d84-9a57-6f0d2b1c7e90")
PERIOD = re.compile(r"^(\d{4})-(\d{4})$")  # a school year (学年), e.g. 2025-2026


def framework_id(code: str) -> uuid.UUID:
    return uuid.uuid5(FRAMEWORK_NAMESPACE, f"framework:{code}")


def check_period(period: str, field: str = "period") -> str:
    match = PERIOD.match(period or "")
    if not match or int(match.group(2)) != int(match.group(1)) + 1:
        raise InvalidInput(
            f"{field} must be a school year such as 2025-2026, not {period!r}", field=field, rule="school_year"
        )
    return period


# --- the aggregate -------------------------------------------------------------------------------------------


class Framework(Aggregate):
    """An indicator framework (评估指标体系): every version ever published, and the version each period uses."""

    @event("Published")
    def __init__(self, *, code: str, definition: dict[str, Any], note: str, published_at: datetime):
        self.code = code
        self.versions: dict[int, dict[str, Any]] = {1: definition}
        self.periods: dict[str, int] = {}

    @classmethod
    def publish_first(cls, definition: dict[str, Any], note: str, now: datetime) -> Framework:
        parsed = Definition.parse(definition)
        return cls._create(
            cls.Published,
            id=framework_id(parsed.code),
            code=parsed.code,
            definition=definition,
            note=note,
            published_at=now,
        )

    @property
    def current(self) -> int:
        return max(self.versions)

    def definition(self, version: int | None = None) -> Definition:
        version = self.current if version is None else version
        if version not in self.versions:
            raise NotFound(
                f"{self.code} has no version {version}; it has 1 to {self.current}",
                field="version",
                rule="no_such_version",
            )
        return Definition.parse(self.versions[version])

    def publish(self, definition: dict[str, Any], note: str, now: datetime) -> int:
        """Publish a new version (a no-op when it is the current one again); earlier periods keep theirs."""
        parsed = Definition.parse(definition)
        if parsed.code != self.code:
            raise InvalidInput(f"this is framework {self.code}, not {parsed.code}", field="code", rule="code_mismatch")
        if definition != self.versions[self.current]:
            self._version_published(number=self.current + 1, definition=definition, note=note, published_at=now)
        return self.current

    def adopt(self, number: int, definition: dict[str, Any], note: str, now: datetime) -> None:
        """Take version `number` as the upper level published it (decision 011): the same number for the same
        definition, so submissions and results mean the same thing on both sides of the link."""
        if number in self.versions:
            if self.versions[number] != definition:
                raise Conflict(
                    f"version {number} of {self.code} here differs from the upper level's; publish {self.code} only at the"
                    " level that owns it",
                    field="version",
                    rule="framework_version_conflict",
                )
            return
        self._version_published(number=number, definition=definition, note=note, published_at=now)

    def adopt_period(self, period: str, version: int, now: datetime) -> None:
        """Open a period as the upper level opened it, under the same version."""
        if self.periods.get(period) == version:
            return
        if period in self.periods:
            raise Conflict(
                f"{period} is open here under version {self.periods[period]} of {self.code}, above under {version}",
                field="period",
                rule="period_conflict",
            )
        self._period_opened(code=self.code, period=period, version=version, opened_at=now)

    @event("VersionPublished")
    def _version_published(self, number: int, definition: dict[str, Any], note: str, published_at: datetime) -> None:
        self.versions[number] = definition

    def open_period(self, period: str, now: datetime) -> int:
        """Open a collection period (填报周期) under the current version, which its results keep for good."""
        check_period(period)
        if period in self.periods:
            raise Conflict(
                f"{period} is already open under version {self.periods[period]} of {self.code}",
                field="period",
                rule="period_already_open",
            )
        self._period_opened(code=self.code, period=period, version=self.current, opened_at=now)
        return self.periods[period]

    @event("PeriodOpened")
    def _period_opened(self, code: str, period: str, version: int, opened_at: datetime) -> None:
        self.periods[period] = version

    def version_for(self, period: str) -> int:
        if period not in self.periods:
            raise Conflict(
                f"{self.code} has no collection open for {period}; an office opens it first",
                field="period",
                rule="period_not_open",
            )
        return self.periods[period]
