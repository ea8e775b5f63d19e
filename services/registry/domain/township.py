"""Townships and streets (乡镇、街道): 9-digit units that the national list does not carry, named by their county's
office (issue 21). Schools and records under a township roll up to its county by their code."""

from __future__ import annotations

from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from dudao import jurisdiction
from dudao.errors import InvalidInput
from dudao.rules import require_name


def township_id(code: str) -> UUID:
    """One township per code, so its id follows from the code."""
    return uuid5(NAMESPACE_URL, f"dudao:township:{code}")


class Township(Aggregate):
    """A township or street (乡镇/街道) of a county, by its 9-digit code (统计用区划代码, 前9位)."""

    @event("Named")
    def __init__(self, *, code: str, county: str, name: str, named_at: datetime):
        self.code, self.county, self.name, self.named_at = code, county, name, named_at

    @classmethod
    def name_new(cls, *, code: str, name: str, now: datetime) -> Township:
        county = code[:6]
        if not (len(code) == 9 and jurisdiction.is_valid_code(code) and jurisdiction.get(county) is not None):
            raise InvalidInput(
                f"{code} is not a township code: 9 digits, the first 6 a listed county (or a city without counties)",
                field="code",
                rule="not_a_township",
            )
        return cls._create(
            cls.Named, id=township_id(code), code=code, county=county, name=require_name(name), named_at=now
        )

    def rename(self, name: str, now: datetime) -> None:
        name = require_name(name)
        if name != self.name:
            self._renamed(name=name, renamed_at=now)

    @event("Renamed")
    def _renamed(self, name: str, renamed_at: datetime) -> None:
        self.name = name
