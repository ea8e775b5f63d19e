"""The gateway's own GraphQL schema, resolved from the subgraphs with per-request DataLoaders."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.dataloader import DataLoader

from dudao import jurisdiction as divisions
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

    def _entities(self, typename: str, fields: str, of):
        query = f"query($r: [_Any!]!) {{ _entities(representations: $r) {{ ... on {typename} {{ {fields} }} }} }}"

        async def load(ids: list[str]) -> list[Any]:
            data = await self.registry(query, {"r": [{"__typename": typename, "id": i} for i in ids]})
            return [of(e) if e else None for e in data["_entities"]]

        return load

    async def registry(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        return await self.client.query("registry", query, variables, self.token)


def _loaders(info: strawberry.Info) -> Loaders:
    return info.context["loaders"]


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

    @strawberry.field(description="An administrative division by its code.")
    def jurisdiction(self, code: str) -> Jurisdiction | None:
        return Jurisdiction.of(code) if divisions.is_known(code) else None


schema = strawberry.Schema(query=Query)
