"""The gateway's own GraphQL schema: one graph over the four services, resolved with per-request DataLoaders.

Every root field is nullable, as are the links between services, so a service that is slow or down costs only
the fields it owns: the rest of the answer comes back with an error naming it.
"""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from dudao import jurisdiction as divisions
from dudao import subgraph
from dudao.subgraph import wanted
from gateway import limits
from gateway.accountability import (
    AccountabilitySummary,
    Measure,
    MeasureConnection,
    PublicOutcome,
    RectificationCase,
    RectificationCaseConnection,
    Restriction,
    cases_page,
    measures_page,
)
from gateway.audit import AuditTrail, audit_page
from gateway.changes import ChangeFeed, changes_page
from gateway.dashboard import Dashboard, dashboard
from gateway.inspection import (
    Activity,
    ActivityConnection,
    Draw,
    PublicReport,
    RoutineCoverage,
    activities_page,
)
from gateway.live import Subscription
from gateway.monitoring import (
    BalancedDevelopment,
    CollectionStatus,
    Framework,
    MonitoringResult,
    results_of,
)
from gateway.registry import (
    Committee,
    Inspector,
    InspectorConnection,
    ListedInspector,
    School,
    SchoolConnection,
    StaffingCompliance,
    Zone,
    inspectors_page,
    schools_page,
)
from gateway.shapes import selection, shape
from gateway.types import Jurisdiction, loaders_of


@strawberry.type
class Query:
    @strawberry.field(description="An administrative division by its code, with what lies below it.")
    def jurisdiction(self, code: str) -> Jurisdiction | None:
        return Jurisdiction.of(code) if divisions.is_known(code) else None

    @strawberry.field(
        description="The office's start page: staffing, routine coverage, rectification, interviews, circulars, CVs."
    )
    def dashboard(self, info: strawberry.Info, jurisdiction: str, month: str | None = None) -> Dashboard:
        return dashboard(subgraph.division(jurisdiction), month, info.context["clock"])

    # --- registry ---------------------------------------------------------------------------------------------

    @strawberry.field(description="Schools in a jurisdiction's subtree (default: the caller's), a page at a time.")
    async def schools(
        self,
        info: strawberry.Info,
        jurisdiction: str | None = None,
        stage: str | None = None,
        ownership: str | None = None,
        zone_id: strawberry.ID | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> SchoolConnection | None:
        return await schools_page(
            info, jurisdiction=jurisdiction, stage=stage, ownership=ownership, zoneId=zone_id, first=first, after=after
        )

    @strawberry.field
    async def school(self, info: strawberry.Info, id: strawberry.ID) -> School | None:
        return await loaders_of(info).schools.load(str(id))

    @strawberry.field(description="Inspectors in a jurisdiction's subtree (default: the caller's).")
    async def inspectors(
        self,
        info: strawberry.Info,
        jurisdiction: str | None = None,
        employment: str | None = None,
        status: str | None = None,
        role: str | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> InspectorConnection | None:
        return await inspectors_page(
            info, jurisdiction=jurisdiction, employment=employment, status=status, role=role, first=first, after=after
        )

    @strawberry.field
    async def inspector(self, info: strawberry.Info, id: strawberry.ID) -> Inspector | None:
        return await loaders_of(info).inspectors.load(str(id))

    @strawberry.field(description="Responsibility zones (督学责任区) in a jurisdiction's subtree.")
    async def zones(self, info: strawberry.Info, jurisdiction: str | None = None) -> list[Zone] | None:
        loaders = loaders_of(info)
        zones = [
            shape(Zone, z) for z in await loaders.ask("registry", "zones", selection(Zone), jurisdiction=jurisdiction)
        ]
        for zone in zones:
            loaders.zones.prime(str(zone.id), zone)
        return zones

    @strawberry.field(description="The jurisdiction's education supervision committee (政府教育督导委员会).")
    async def committee(self, info: strawberry.Info, jurisdiction: str) -> Committee | None:
        found = await loaders_of(info).ask(
            "registry", "committee", selection(Committee, wanted(info)), jurisdiction=jurisdiction
        )
        return shape(Committee, found) if found else None

    @strawberry.field(description="Staffing against R1–R4 for the jurisdiction's subtree (督学配备达标情况).")
    async def staffing_compliance(
        self, info: strawberry.Info, jurisdiction: str | None = None
    ) -> StaffingCompliance | None:
        return shape(
            StaffingCompliance,
            await loaders_of(info).ask(
                "registry", "staffingCompliance", selection(StaffingCompliance, wanted(info)), jurisdiction=jurisdiction
            ),
        )

    @strawberry.field(
        description="Listed inspectors (挂牌督学): names, zones, schools, public contacts. No token needed."
    )
    async def public_listed_inspectors(self, info: strawberry.Info, jurisdiction: str) -> list[ListedInspector] | None:
        found = await loaders_of(info).ask(
            "registry", "publicListedInspectors", selection(ListedInspector, wanted(info)), jurisdiction=jurisdiction
        )
        return [shape(ListedInspector, x) for x in found]

    # --- inspection -------------------------------------------------------------------------------------------

    @strawberry.field(
        description="Supervision activities by jurisdiction, school (target) or inspector (team member);"
        " reportIssued: only those whose report was issued (and perhaps published)."
    )
    async def activities(
        self,
        info: strawberry.Info,
        jurisdiction: str | None = None,
        school_id: str | None = None,
        inspector_id: strawberry.ID | None = None,
        status: str | None = None,
        first: int = 50,
        after: str | None = None,
        report_issued: bool | None = None,
    ) -> ActivityConnection | None:
        return await activities_page(
            info,
            jurisdiction=jurisdiction,
            schoolId=school_id,
            inspectorId=inspector_id,
            status=status,
            first=first,
            after=after,
            reportIssued=report_issued,
        )

    @strawberry.field
    async def activity(self, info: strawberry.Info, id: strawberry.ID) -> Activity | None:
        return await loaders_of(info).activities.load(str(id))

    @strawberry.field(description="A double-random draw with its verification. Public.")
    async def draw(self, info: strawberry.Info, id: strawberry.ID) -> Draw | None:
        found = await loaders_of(info).ask("inspection", "draw", selection(Draw, wanted(info)), id=str(id))
        return shape(Draw, found) if found else None

    @strawberry.field(description="Which compulsory-education schools had no routine visit yet in the month (YYYY-MM).")
    async def routine_coverage(
        self, info: strawberry.Info, month: str, jurisdiction: str | None = None
    ) -> RoutineCoverage | None:
        return shape(
            RoutineCoverage,
            await loaders_of(info).ask(
                "inspection",
                "routineCoverage",
                selection(RoutineCoverage, wanted(info)),
                month=month,
                jurisdiction=jurisdiction,
            ),
        )

    @strawberry.field(description="Published supervision reports, personal data removed. Public.")
    async def public_reports(
        self, info: strawberry.Info, jurisdiction: str, first: int = 50
    ) -> list[PublicReport] | None:
        found = await loaders_of(info).ask(
            "inspection",
            "publicReports",
            selection(PublicReport, wanted(info)),
            jurisdiction=jurisdiction,
            first=limits.page(first),
        )
        return [shape(PublicReport, r) for r in found]

    # --- accountability ---------------------------------------------------------------------------------------

    @strawberry.field(
        description="Open cases, overdue items, notices issued, measures, rebound and on-time rectification rates."
    )
    async def accountability_summary(
        self, info: strawberry.Info, jurisdiction: str | None = None
    ) -> AccountabilitySummary | None:
        found = await loaders_of(info).ask(
            "accountability",
            "accountabilitySummary",
            selection(AccountabilitySummary, wanted(info)),
            jurisdiction=jurisdiction,
        )
        return shape(AccountabilitySummary, found)

    @strawberry.field(
        description="Rectification cases by jurisdiction, unit and status (opened, in_rectification, closed)."
    )
    async def rectification_cases(
        self,
        info: strawberry.Info,
        jurisdiction: str | None = None,
        unit_id: str | None = None,
        status: str | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> RectificationCaseConnection | None:
        return await cases_page(
            info, jurisdiction=jurisdiction, unitId=unit_id, status=status, first=first, after=after
        )

    @strawberry.field
    async def rectification_case(self, info: strawberry.Info, id: strawberry.ID) -> RectificationCase | None:
        return await loaders_of(info).cases.load(str(id))

    @strawberry.field(
        description="Interviews, circulars, accountability decisions and commendations (kind: one of them)."
    )
    async def measures(
        self,
        info: strawberry.Info,
        jurisdiction: str | None = None,
        kind: str | None = None,
        unit_id: str | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> MeasureConnection | None:
        return await measures_page(info, jurisdiction=jurisdiction, kind=kind, unitId=unit_id, first=first, after=after)

    @strawberry.field
    async def measure(self, info: strawberry.Info, id: strawberry.ID) -> Measure | None:
        return await loaders_of(info).measures.load(str(id))

    @strawberry.field(description="Leaders under a circular's restriction today, and until when.")
    async def restrictions(self, info: strawberry.Info, jurisdiction: str | None = None) -> list[Restriction] | None:
        found = await loaders_of(info).ask(
            "accountability", "restrictions", selection(Restriction, wanted(info)), jurisdiction=jurisdiction
        )
        return [shape(Restriction, r) for r in found]

    @strawberry.field(description="Published circulars, accountability decisions and commendations. Public.")
    async def public_outcomes(
        self, info: strawberry.Info, jurisdiction: str, first: int = 50, after: str | None = None
    ) -> list[PublicOutcome] | None:
        found = await loaders_of(info).ask(
            "accountability",
            "publicOutcomes",
            selection(PublicOutcome, wanted(info)),
            jurisdiction=jurisdiction,
            first=limits.page(first),
            after=after,
        )
        return [shape(PublicOutcome, o) for o in found]

    # --- every service -----------------------------------------------------------------------------------------

    @strawberry.field(
        description="Entities changed after the cursor (kinds: school, inspector, activity, case, outcome), each once,"
        " for incremental sync: read by id what it names, and keep endCursor for next time."
    )
    async def changes(
        self,
        info: strawberry.Info,
        kinds: list[str] | None = None,
        jurisdiction: str | None = None,
        first: int = 100,
        after: str | None = None,
    ) -> ChangeFeed | None:
        return await changes_page(info, kinds, jurisdiction, first, after)

    @strawberry.field(
        description="Who did what, when, in every service (roles admin, ops), oldest first: by actor, jurisdiction, aggregate,"
        " event type (e.g. School.Renamed) and time (ISO 8601; from inclusive, to exclusive)."
    )
    async def audit_trail(
        self,
        info: strawberry.Info,
        actor: str | None = None,
        jurisdiction: str | None = None,
        aggregate_id: strawberry.ID | None = None,
        aggregate_type: str | None = None,
        event_type: str | None = None,
        frm: Annotated[str | None, strawberry.argument(name="from")] = None,
        to: str | None = None,
        services: list[str] | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> AuditTrail | None:
        return await audit_page(
            info,
            services,
            first,
            after,
            actor=actor,
            jurisdiction=jurisdiction,
            eventType=event_type,
            to=to,
            aggregateId=str(aggregate_id) if aggregate_id else None,
            aggregateType=aggregate_type,
            **{"from": frm},
        )

    # --- monitoring -------------------------------------------------------------------------------------------

    @strawberry.field(
        description="Per-school indicators after stage splitting, per-indicator CVs and county verdicts (优质均衡)."
    )
    async def balanced_development(
        self, info: strawberry.Info, period: str, jurisdiction: str | None = None
    ) -> BalancedDevelopment | None:
        found = await loaders_of(info).ask(
            "monitoring",
            "balancedDevelopment",
            selection(BalancedDevelopment, wanted(info)),
            period=period,
            jurisdiction=jurisdiction,
        )
        return shape(BalancedDevelopment, found)

    @strawberry.field(description="Any framework's results under a jurisdiction: the area's verdict and each unit's.")
    async def monitoring_results(
        self, info: strawberry.Info, framework: str, period: str, jurisdiction: str | None = None
    ) -> MonitoringResult | None:
        return await results_of(info, framework=framework, period=period, jurisdiction=jurisdiction)

    @strawberry.field(description="Indicator frameworks with their versions and the version each period uses.")
    async def frameworks(self, info: strawberry.Info) -> list[Framework] | None:
        return [
            shape(Framework, f)
            for f in await loaders_of(info).ask("monitoring", "frameworks", selection(Framework, wanted(info)))
        ]

    @strawberry.field(description="Each unit's submission status and each level's approval for a framework and period.")
    async def collection_status(
        self, info: strawberry.Info, framework: str, period: str, jurisdiction: str | None = None
    ) -> CollectionStatus | None:
        found = await loaders_of(info).ask(
            "monitoring",
            "collectionStatus",
            selection(CollectionStatus, wanted(info)),
            framework=framework,
            period=period,
            jurisdiction=jurisdiction,
        )
        return shape(CollectionStatus, found)

    @strawberry.field(
        description="Routine-visit coverage, rectification, staffing, interviews and circulars, rolled up."
    )
    async def operational_rollup(self, info: strawberry.Info, jurisdiction: str | None = None) -> JSON | None:
        return await loaders_of(info).ask("monitoring", "operationalRollup", jurisdiction=jurisdiction)


schema = strawberry.Schema(query=Query, subscription=Subscription, extensions=limits.extensions())
