"""The gateway's own GraphQL schema, resolved from the subgraphs with per-request DataLoaders."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.scalars import JSON

from dudao import jurisdiction as divisions
from gateway.accountability import (
    CASE_FIELDS, RESTRICTION_FIELDS, SUMMARY_FIELDS, AccountabilitySummary, RectificationCase, Restriction,
)  # fmt: skip
from gateway.monitoring import (
    BALANCED_FIELDS, COLLECTION_FIELDS, FRAMEWORK_FIELDS, RESULT_FIELDS, BalancedDevelopment, CollectionStatus, Framework,
    MonitoringResult, build,
)  # fmt: skip
from gateway.inspection import ACTIVITY_FIELDS, COVERAGE_FIELDS, DRAW_FIELDS, Activity, Draw, PublicReport, RoutineCoverage
from gateway.subgraphs import SubgraphClient
from gateway.types import (
    COMMITTEE_FIELDS, INSPECTOR_FIELDS, SCHOOL_FIELDS, STAFFING_FIELDS, ZONE_FIELDS, Committee, Inspector,
    InspectorConnection, Jurisdiction, ListedInspector, PageInfo, School, SchoolConnection, StaffingCompliance, Zone,
)  # fmt: skip


class Loaders:
    """Per-request DataLoaders: every lookup by id in one query level costs one subgraph call per type."""

    def __init__(self, client: SubgraphClient, token: str | None):
        self.client, self.token = client, token
        self.schools = DataLoader(load_fn=self._entities("School", SCHOOL_FIELDS, School.of))
        self.inspectors = DataLoader(load_fn=self._entities("Inspector", INSPECTOR_FIELDS, Inspector.of))
        self.zones = DataLoader(load_fn=self._entities("Zone", ZONE_FIELDS, Zone.of))
        self.activities_of_school = DataLoader(load_fn=self._activities_of("activitiesForSchools", "schoolIds"))
        self.activities_of_inspector = DataLoader(load_fn=self._activities_of("activitiesForInspectors", "inspectorIds"))

    def _activities_of(self, field: str, argument: str):
        query = f"query($k: [String!]!) {{ {field}({argument}: $k) {{ key activities {{ {ACTIVITY_FIELDS} }} }} }}"

        async def load(keys: list[str]) -> list[list[Activity]]:
            data = await self.client.query("inspection", query, {"k": keys}, self.token)
            return [[Activity.of(a) for a in group["activities"]] for group in data[field]]

        return load

    def _entities(self, typename: str, fields: str, of):
        query = f"query($r: [_Any!]!) {{ _entities(representations: $r) {{ ... on {typename} {{ {fields} }} }} }}"

        async def load(ids: list[str]) -> list[Any]:
            data = await self.registry(query, {"r": [{"__typename": typename, "id": i} for i in ids]})
            return [of(e) if e else None for e in data["_entities"]]

        return load

    async def registry(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        return await self.client.query("registry", query, variables, self.token)

    async def inspection(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        return await self.client.query("inspection", query, variables, self.token)

    async def accountability(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        return await self.client.query("accountability", query, variables, self.token)

    async def monitoring(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        return await self.client.query("monitoring", query, variables, self.token)


def _loaders(info: strawberry.Info) -> Loaders:
    return info.context["loaders"]


@strawberry.type
class ActivityConnection:
    nodes: list[Activity]
    page_info: PageInfo


@strawberry.type
class Query:
    @strawberry.field(description="Schools in a jurisdiction's subtree (default: the caller's), a page at a time.")
    async def schools(
        self, info: strawberry.Info, jurisdiction: str | None = None, stage: str | None = None,
        ownership: str | None = None, zone_id: strawberry.ID | None = None, first: int = 50, after: str | None = None,
    ) -> SchoolConnection:  # fmt: skip
        loaders = _loaders(info)
        query = (
            "query($j: String, $s: String, $o: String, $z: ID, $f: Int!, $a: String) {"
            " schools(jurisdiction: $j, stage: $s, ownership: $o, zoneId: $z, first: $f, after: $a) {"
            f" nodes {{ {SCHOOL_FIELDS} }} pageInfo {{ hasNextPage endCursor }} }} }}"
        )
        variables = {"j": jurisdiction, "s": stage, "o": ownership, "z": zone_id, "f": first, "a": after}
        page = (await loaders.registry(query, variables))["schools"]
        nodes = [School.of(n) for n in page["nodes"]]
        for school in nodes:
            loaders.schools.prime(str(school.id), school)
        return SchoolConnection(nodes=nodes, page_info=PageInfo.of(page))

    @strawberry.field
    async def school(self, info: strawberry.Info, id: strawberry.ID) -> School | None:
        return await _loaders(info).schools.load(str(id))

    @strawberry.field(description="Inspectors in a jurisdiction's subtree (default: the caller's).")
    async def inspectors(
        self, info: strawberry.Info, jurisdiction: str | None = None, employment: str | None = None,
        status: str | None = None, role: str | None = None, first: int = 50, after: str | None = None,
    ) -> InspectorConnection:  # fmt: skip
        loaders = _loaders(info)
        query = (
            "query($j: String, $e: String, $st: String, $r: String, $f: Int!, $a: String) {"
            " inspectors(jurisdiction: $j, employment: $e, status: $st, role: $r, first: $f, after: $a) {"
            f" nodes {{ {INSPECTOR_FIELDS} }} pageInfo {{ hasNextPage endCursor }} }} }}"
        )
        variables = {"j": jurisdiction, "e": employment, "st": status, "r": role, "f": first, "a": after}
        page = (await loaders.registry(query, variables))["inspectors"]
        nodes = [Inspector.of(n) for n in page["nodes"]]
        for inspector in nodes:
            loaders.inspectors.prime(str(inspector.id), inspector)
        return InspectorConnection(nodes=nodes, page_info=PageInfo.of(page))

    @strawberry.field
    async def inspector(self, info: strawberry.Info, id: strawberry.ID) -> Inspector | None:
        return await _loaders(info).inspectors.load(str(id))

    @strawberry.field(description="Responsibility zones (督学责任区) in a jurisdiction's subtree.")
    async def zones(self, info: strawberry.Info, jurisdiction: str | None = None) -> list[Zone]:
        loaders = _loaders(info)
        data = await loaders.registry(f"query($j: String) {{ zones(jurisdiction: $j) {{ {ZONE_FIELDS} }} }}", {"j": jurisdiction})
        zones = [Zone.of(z) for z in data["zones"]]
        for zone in zones:
            loaders.zones.prime(str(zone.id), zone)
        return zones

    @strawberry.field(description="The jurisdiction's education supervision committee (政府教育督导委员会).")
    async def committee(self, info: strawberry.Info, jurisdiction: str) -> Committee | None:
        data = await _loaders(info).registry(
            f"query($j: String!) {{ committee(jurisdiction: $j) {{ {COMMITTEE_FIELDS} }} }}", {"j": jurisdiction}
        )
        return Committee.of(data["committee"]) if data["committee"] else None

    @strawberry.field(description="Staffing against R1–R4 for the jurisdiction's subtree (督学配备达标情况).")
    async def staffing_compliance(self, info: strawberry.Info, jurisdiction: str | None = None) -> StaffingCompliance:
        data = await _loaders(info).registry(
            f"query($j: String) {{ staffingCompliance(jurisdiction: $j) {{ {STAFFING_FIELDS} }} }}", {"j": jurisdiction}
        )
        return StaffingCompliance.of(data["staffingCompliance"])

    @strawberry.field(description="Listed inspectors (挂牌督学): names, zones, schools, public contacts. No token needed.")
    async def public_listed_inspectors(self, info: strawberry.Info, jurisdiction: str) -> list[ListedInspector]:
        data = await _loaders(info).registry(
            "query($j: String!) { publicListedInspectors(jurisdiction: $j) { name zone schools publicContact } }",
            {"j": jurisdiction},
        )
        return [
            ListedInspector(name=x["name"], zone=x["zone"], schools=x["schools"], public_contact=x["publicContact"])
            for x in data["publicListedInspectors"]
        ]

    @strawberry.field(description="Supervision activities by jurisdiction, school (target) or inspector (team member).")
    async def activities(
        self, info: strawberry.Info, jurisdiction: str | None = None, school_id: str | None = None,
        inspector_id: strawberry.ID | None = None, status: str | None = None, first: int = 50, after: str | None = None,
    ) -> ActivityConnection:  # fmt: skip
        query = (
            "query($j: String, $s: String, $i: ID, $st: String, $f: Int!, $a: String) {"
            " activities(jurisdiction: $j, schoolId: $s, inspectorId: $i, status: $st, first: $f, after: $a) {"
            f" nodes {{ {ACTIVITY_FIELDS} }} pageInfo {{ hasNextPage endCursor }} }} }}"
        )
        variables = {"j": jurisdiction, "s": school_id, "i": inspector_id, "st": status, "f": first, "a": after}
        page = (await _loaders(info).inspection(query, variables))["activities"]
        return ActivityConnection(nodes=[Activity.of(n) for n in page["nodes"]], page_info=PageInfo.of(page))

    @strawberry.field(description="A double-random draw with its verification. Public.")
    async def draw(self, info: strawberry.Info, id: strawberry.ID) -> Draw | None:
        data = await _loaders(info).inspection(f"query($id: ID!) {{ draw(id: $id) {{ {DRAW_FIELDS} }} }}", {"id": id})
        return Draw.of(data["draw"]) if data["draw"] else None

    @strawberry.field(description="Which compulsory-education schools had no routine visit yet in the month (YYYY-MM).")
    async def routine_coverage(self, info: strawberry.Info, month: str, jurisdiction: str | None = None) -> RoutineCoverage:
        data = await _loaders(info).inspection(
            f"query($m: String!, $j: String) {{ routineCoverage(month: $m, jurisdiction: $j) {{ {COVERAGE_FIELDS} }} }}",
            {"m": month, "j": jurisdiction},
        )
        return RoutineCoverage.of(data["routineCoverage"])

    @strawberry.field(description="Published supervision reports, personal data removed. Public.")
    async def public_reports(self, info: strawberry.Info, jurisdiction: str, first: int = 50) -> list[PublicReport]:
        data = await _loaders(info).inspection(
            "query($j: String!, $f: Int!) { publicReports(jurisdiction: $j, first: $f) {"
            " activityId kind title targetName period grade summary findings { area severity description needsRectification } } }",
            {"j": jurisdiction, "f": first},
        )
        return [PublicReport.of(r) for r in data["publicReports"]]

    @strawberry.field(description="Open cases, overdue items, notices issued, rebound and on-time rectification rates.")
    async def accountability_summary(self, info: strawberry.Info, jurisdiction: str | None = None) -> AccountabilitySummary:
        data = await _loaders(info).accountability(
            f"query($j: String) {{ accountabilitySummary(jurisdiction: $j) {{ {SUMMARY_FIELDS} }} }}", {"j": jurisdiction}
        )
        return AccountabilitySummary.of(data["accountabilitySummary"])

    @strawberry.field(description="Rectification cases by jurisdiction, unit and status (opened, in_rectification, closed).")
    async def rectification_cases(
        self, info: strawberry.Info, jurisdiction: str | None = None, unit_id: str | None = None, status: str | None = None,
        first: int = 50,
    ) -> list[RectificationCase]:  # fmt: skip
        data = await _loaders(info).accountability(
            "query($j: String, $u: String, $s: String, $f: Int!) {"
            f" rectificationCases(jurisdiction: $j, unitId: $u, status: $s, first: $f) {{ {CASE_FIELDS} }} }}",
            {"j": jurisdiction, "u": unit_id, "s": status, "f": first},
        )
        return [RectificationCase.of(c) for c in data["rectificationCases"]]

    @strawberry.field(description="Leaders under a circular's restriction today, and until when.")
    async def restrictions(self, info: strawberry.Info, jurisdiction: str | None = None) -> list[Restriction]:
        data = await _loaders(info).accountability(
            f"query($j: String) {{ restrictions(jurisdiction: $j) {{ {RESTRICTION_FIELDS} }} }}", {"j": jurisdiction}
        )
        return [Restriction.of(r) for r in data["restrictions"]]

    @strawberry.field(description="Per-school indicators after stage splitting, per-indicator CVs and county verdicts (优质均衡).")
    async def balanced_development(self, info: strawberry.Info, period: str, jurisdiction: str | None = None) -> BalancedDevelopment:
        data = await _loaders(info).monitoring(
            f"query($p: String!, $j: String) {{ balancedDevelopment(period: $p, jurisdiction: $j) {{ {BALANCED_FIELDS} }} }}",
            {"p": period, "j": jurisdiction},
        )
        return BalancedDevelopment.of(data["balancedDevelopment"])

    @strawberry.field(description="Any framework's results under a jurisdiction: the area's verdict and each unit's.")
    async def monitoring_results(
        self, info: strawberry.Info, framework: str, period: str, jurisdiction: str | None = None,
    ) -> MonitoringResult:  # fmt: skip
        data = await _loaders(info).monitoring(
            "query($f: String!, $p: String!, $j: String) {"
            f" monitoringResults(framework: $f, period: $p, jurisdiction: $j) {{ {RESULT_FIELDS} }} }}",
            {"f": framework, "p": period, "j": jurisdiction},
        )
        return MonitoringResult.of(data["monitoringResults"])

    @strawberry.field(description="Indicator frameworks with their versions and the version each period uses.")
    async def frameworks(self, info: strawberry.Info) -> list[Framework]:
        data = await _loaders(info).monitoring(f"{{ frameworks {{ {FRAMEWORK_FIELDS} }} }}", {})
        return [build(Framework, f) for f in data["frameworks"]]

    @strawberry.field(description="Each unit's submission status and each level's approval for a framework and period.")
    async def collection_status(
        self, info: strawberry.Info, framework: str, period: str, jurisdiction: str | None = None,
    ) -> CollectionStatus:  # fmt: skip
        data = await _loaders(info).monitoring(
            "query($f: String!, $p: String!, $j: String) {"
            f" collectionStatus(framework: $f, period: $p, jurisdiction: $j) {{ {COLLECTION_FIELDS} }} }}",
            {"f": framework, "p": period, "j": jurisdiction},
        )
        return build(CollectionStatus, data["collectionStatus"])

    @strawberry.field(description="Routine-visit coverage, rectification, staffing, interviews and circulars, rolled up.")
    async def operational_rollup(self, info: strawberry.Info, jurisdiction: str | None = None) -> JSON:
        data = await _loaders(info).monitoring("query($j: String) { operationalRollup(jurisdiction: $j) }", {"j": jurisdiction})
        return data["operationalRollup"]

    @strawberry.field(description="An administrative division by its code.")
    def jurisdiction(self, code: str) -> Jurisdiction | None:
        return Jurisdiction.of(code) if divisions.is_known(code) else None


schema = strawberry.Schema(query=Query)
