"""The office's start page in one round trip: each part comes from the service that owns it, all asked at once,
and a service that is down costs only its own part."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import strawberry

from dudao.clock import Clock
from dudao.subgraph import wanted
from gateway.accountability import AccountabilitySummary
from gateway.inspection import RoutineCoverage
from gateway.monitoring import AreaVerdict, VerdictTally
from gateway.registry import StaffingCompliance
from gateway.shapes import selection, shape
from gateway.types import Jurisdiction, loaders_of


@strawberry.type
class StatusCount:
    status: str
    count: int


@strawberry.type
class Link:
    """What one service of this instance receives from another instance (联网状态)."""

    service: str
    direction: str = strawberry.field(description="up: from a lower instance; down: from the upper one")
    jurisdiction: str = strawberry.field(description="the other instance's division code")
    jurisdiction_name: str = strawberry.field(description="its name")
    connected: bool
    last_arrived_at: datetime | None = strawberry.field(description="when its latest event arrived here")
    last_notification_id: int | None = strawberry.field(description="that event's number where it was recorded")
    behind: int | None = strawberry.field(
        description="events waiting there, as the link last said; null while not connected"
    )

    @classmethod
    def of(cls, d: dict[str, Any]) -> Link:
        arrived = d["last_arrived_at"]
        return cls(**(d | {"last_arrived_at": datetime.fromisoformat(arrived) if arrived else None}))


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
        found = await loaders_of(info).ask(
            "registry",
            "staffingCompliance",
            selection(StaffingCompliance, wanted(info)),
            jurisdiction=self.jurisdiction_code,
        )
        return shape(StaffingCompliance, found)

    @strawberry.field(description="This month's routine visits (经常性督导) to compulsory-education schools.")
    async def routine_coverage(self, info: strawberry.Info) -> RoutineCoverage | None:
        found = await loaders_of(info).ask(
            "inspection",
            "routineCoverage",
            selection(RoutineCoverage, wanted(info)),  # the start page shows the figures, not every school
            month=self.month,
            jurisdiction=self.jurisdiction_code,
        )
        return shape(RoutineCoverage, found)

    @strawberry.field(description="Open and overdue rectification items and supervision notices (整改与督办).")
    async def rectification(self, info: strawberry.Info) -> AccountabilitySummary | None:
        return shape(AccountabilitySummary, await self._summary(info))

    @strawberry.field(description="Interviews (约谈) by status.")
    async def interviews(self, info: strawberry.Info) -> list[StatusCount] | None:
        return self._measures(await self._summary(info), "interview")

    @strawberry.field(description="Circulars (通报) by status.")
    async def circulars(self, info: strawberry.Info) -> list[StatusCount] | None:
        return self._measures(await self._summary(info), "circular")

    @strawberry.field(
        description="Each framework's latest verdicts here and below, with the CVs (差异系数) where the rule has them."
    )
    async def latest_verdicts(self, info: strawberry.Info) -> list[AreaVerdict] | None:
        found = await loaders_of(info).ask(
            "monitoring", "latestVerdicts", selection(AreaVerdict, wanted(info)), jurisdiction=self.jurisdiction_code
        )
        return [shape(AreaVerdict, v) for v in found]

    @strawberry.field(
        description="Each framework's newest verdicts here and below, counted: how many areas pass and which fail"
        " (a province's hundreds of counties in a line each; latestVerdicts has every area's CVs)."
    )
    async def verdicts(self, info: strawberry.Info) -> list[VerdictTally] | None:
        found = await loaders_of(info).ask(
            "monitoring", "verdictTallies", selection(VerdictTally, wanted(info)), jurisdiction=self.jurisdiction_code
        )
        return [shape(VerdictTally, v) for v in found]

    @strawberry.field(
        description="This instance's links to the instances below and above it, per service: connected, when the"
        " latest event arrived, how far behind. For admin and ops; empty when nothing is linked."
    )
    async def links(self, info: strawberry.Info) -> list[Link] | None:
        loaders = loaders_of(info)
        services = sorted(loaders.client.urls)
        answers = await asyncio.gather(
            *(loaders.client.read(service, "/v1/links", loaders.token) for service in services)
        )
        return [Link.of(link) for answer in answers for link in answer["links"]]

    async def _summary(self, info: strawberry.Info) -> dict:
        # Asked by three fields; the request's loader makes it one call.
        return await loaders_of(info).ask(
            "accountability",
            "accountabilitySummary",
            selection(AccountabilitySummary),
            jurisdiction=self.jurisdiction_code,
        )

    @staticmethod
    def _measures(summary: dict, kind: str) -> list[StatusCount]:
        return [StatusCount(status=m["status"], count=m["count"]) for m in summary["measures"] if m["kind"] == kind]


def dashboard(jurisdiction: str, month: str | None, clock: Clock) -> Dashboard:
    """The dashboard of `jurisdiction` for `month` (default: this month in China)."""
    return Dashboard(month=month or clock.today().strftime("%Y-%m"), jurisdiction_code=jurisdiction)
