"""Who calls: the roles a token may carry, and the verified caller (`Principal`). No web framework here: the
domain and the rules name roles too; `dudao.auth` verifies tokens into these."""

from __future__ import annotations

from dataclasses import dataclass

from dudao import jurisdiction
from dudao.rules import Labelled


class Role(Labelled):
    admin = "admin", "督导机构"
    inspector = "inspector", "督学"
    unit = "unit", "被督导单位"
    committee = "committee", "督导委员会"
    national = "national", "国家平台"
    ops = "ops", "运维"
    agency = "agency", "第三方评估机构"


@dataclass(frozen=True)
class Principal:
    """Who is calling: subject, roles, the jurisdiction they act in, the unit they speak for."""

    sub: str
    roles: frozenset[str]
    jur: str
    unit: str | None = None
    instance: str | None = None  # the jurisdiction of the instance answering: writes stay inside it
    writing: bool = False  # the request changes something (POST, PUT, PATCH, DELETE)

    def has_any(self, roles: tuple[str, ...]) -> bool:
        return not roles or bool(self.roles.intersection(roles))

    def can_act_in(self, code: str) -> bool:
        return jurisdiction.contains(self.jur, code)
