"""The office's start page in one round trip: each part comes from the service that owns it, all asked at once,
and a service that is down costs only its own part."""

from __future__ import annotations

import strawberry

from dudao.clock import Clock
from gateway.accountability import SUMMARY_FIELDS, AccountabilitySummary
from gateway.inspection import COVERAGE_FIELDS, RoutineCoverage
from gateway.monitoring import VERDICT_FIELDS, AreaVerdict
from gateway.registry import STAFFING_FIELDS, StaffingCompliance
from gateway.types import Jurisdiction, loaders_of


@strawberry.type
class StatusCount:
    status: str
    count: int


@strawberry.type
class Dashboard:
    """A jurisdiction's supervision at a glance (督导工作看板)."""

    month: str = strawberry.field(description="the month routine coverage is counted for (YYYY-MM, China time)")
    jurisdiction_code: strawberry.Private[str]

    @strawberry.field
    def jurisdiction(self) -> Jurisdiction:
        return Jurisdiction.of(self.jurisdiction_code)

    @strawberry.field(description="Inspector staffing against R1–R4 (督学配备).")
    async def staffing(self, info: strawberry.Info) -> StaffingCompliance | None:
        found = await loaders_of(info).ask("registry", "staffingCompliance", STAFFING_FIELDS, jurisdiction=self.jurisdiction_code)
        return StaffingCompliance.of(found)

    @strawberry.field(description="This month's routine visits (经常性督导) to compulsory-education schools.")
    async def routine_coverage(self, info: strawberry.Info) -> RoutineCoverage | None:
        found = await loaders_of(info).ask(
            "inspection", "routineCoverage", COVERAGE_FIELDS, month=self.month, jurisdiction=self.jurisdiction_code
        )
        return RoutineCoverage.of(found)

    @strawberry.field(description="Open and overdue rectification items and supervision notices (整改与督办).")
    async def rectification(self, info: strawberry.Info) -> AccountabilitySummary | None:
        return AccountabilitySummary.of(await self._summary(info))

    @strawberry.field(description="Interviews (约谈) by status.")
    async def interviews(self, info: strawberry.Info) -> list[StatusCount] | None:
        return self._measures(await self._summary(info), "interview")

    @strawberry.field(description="Circulars (通报) by status.")
    async def circulars(self, info: strawberry.Info) -> list[StatusCount] | None:
        return self._measures(await self._summary(info), "circular")

    @strawberry.field(description="Each framework's latest verdicts here and below, with the CVs (差异系数) where the rule has them.")
    async def latest_verdicts(self, info: strawberry.Info) -> list[AreaVerdict] | None:
        found = await loaders_of(info).ask("monitoring", "latestVerdicts", VERDICT_FIELDS, jurisdiction=self.jurisdiction_code)
        return [AreaVerdict.of(v) for v in found]

    async def _summary(self, info: strawberry.Info) -> dict:
        # Asked by three fields; the request's loader makes it one call.
        return await loaders_of(info).ask("accountability", "accountabilitySummary", SUMMARY_FIELDS, jurisdiction=self.jurisdiction_code)

    @staticmethod
    def _measures(summary: dict, kind: str) -> list[StatusCount]:
        return [StatusCount(status=m["status"], count=m["count"]) for m in summary["measures"] if m["kind"] == kind]


def dashboard(jurisdiction: str, month: str | None, clock: Clock) -> Dashboard:
    """The dashboard of `jurisdiction` for `month` (default: this month in China)."""
    return Dashboard(month=month or clock.today().strftime("%Y-%m"), jurisdiction_code=jurisdiction)
