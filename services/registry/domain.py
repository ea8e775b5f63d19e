"""Registry domain: schools (学校) and inspectors (督学) as event-sourced aggregates. No I/O."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from dudao.errors import InvalidInput


class Stage(StrEnum):
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

    @property
    def label_zh(self) -> str:
        return _STAGE_LABELS[self]


_STAGE_LABELS = {
    Stage.kindergarten: "幼儿园",
    Stage.primary: "小学",
    Stage.junior_secondary: "初级中学",
    Stage.senior_secondary: "高级中学",
    Stage.nine_year: "九年一贯制学校",
    Stage.twelve_year: "十二年一贯制学校",
    Stage.complete_secondary: "完全中学",
    Stage.secondary_vocational: "中等职业学校",
    Stage.special_education: "特殊教育学校",
}


class Ownership(StrEnum):
    """Who runs the school (办学性质): public (公办) or private (民办)."""

    public = "public"
    private = "private"

    @property
    def label_zh(self) -> str:
        return {"public": "公办", "private": "民办"}[self.value]


class Employment(StrEnum):
    """Whether an inspector works full-time (专职) or part-time (兼职) as an inspector."""

    full_time = "full_time"
    part_time = "part_time"

    @property
    def label_zh(self) -> str:
        return {"full_time": "专职", "part_time": "兼职"}[self.value]


def _require_name(name: str, field: str = "name") -> str:
    name = name.strip()
    if not name:
        raise InvalidInput(f"{field} must not be empty", field=field, rule="non_empty")
    return name


def _require_enrolment(enrolment: int) -> int:
    if enrolment < 0:
        raise InvalidInput("enrolment must be 0 or more", field="enrolment", rule="non_negative")
    return enrolment


class School(Aggregate):
    """A school (学校) under a jurisdiction's supervision."""

    @event("Registered")
    def __init__(
        self, *, name: str, jurisdiction: str, stage: Stage, ownership: Ownership, enrolment: int, registered_at: datetime
    ):
        self.name = _require_name(name)
        self.jurisdiction = jurisdiction
        self.stage = Stage(stage)
        self.ownership = Ownership(ownership)
        self.enrolment = _require_enrolment(enrolment)
        self.registered_at = registered_at

    @classmethod
    def register(
        cls, *, school_id: UUID, name: str, jurisdiction: str, stage: Stage, ownership: Ownership, enrolment: int, now: datetime
    ) -> School:
        # Validate before the event exists, so a bad command records nothing.
        name, enrolment = _require_name(name), _require_enrolment(enrolment)
        return cls._create(
            cls.Registered,
            id=school_id,
            name=name,
            jurisdiction=jurisdiction,
            stage=stage,
            ownership=ownership,
            enrolment=enrolment,
            registered_at=now,
        )

    def update_details(self, *, name: str, enrolment: int, now: datetime) -> None:
        name, enrolment = _require_name(name), _require_enrolment(enrolment)
        if (name, enrolment) != (self.name, self.enrolment):
            self._details_updated(name=name, enrolment=enrolment, updated_at=now)

    @event("DetailsUpdated")
    def _details_updated(self, name: str, enrolment: int, updated_at: datetime) -> None:
        self.name, self.enrolment = name, enrolment


class Inspector(Aggregate):
    """An inspector (督学) registered with a jurisdiction's supervision body."""

    @event("Registered")
    def __init__(self, *, name: str, jurisdiction: str, employment: Employment, registered_at: datetime):
        self.name = _require_name(name)
        self.jurisdiction = jurisdiction
        self.employment = Employment(employment)
        self.registered_at = registered_at

    @classmethod
    def register(
        cls, *, inspector_id: UUID, name: str, jurisdiction: str, employment: Employment, now: datetime
    ) -> Inspector:
        return cls._create(
            cls.Registered,
            id=inspector_id,
            name=_require_name(name),
            jurisdiction=jurisdiction,
            employment=employment,
            registered_at=now,
        )

    def update_details(self, *, name: str, employment: Employment, now: datetime) -> None:
        name, employment = _require_name(name), Employment(employment)
        if (name, employment) != (self.name, self.employment):
            self._details_updated(name=name, employment=employment, updated_at=now)

    @event("DetailsUpdated")
    def _details_updated(self, name: str, employment: Employment, updated_at: datetime) -> None:
        self.name, self.employment = name, Employment(employment)
