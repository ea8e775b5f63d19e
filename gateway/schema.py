"""The gateway's own GraphQL schema, resolved from the subgraphs with per-request DataLoaders."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.dataloader import DataLoader

from dudao import jurisdiction as divisions
from gateway.subgraphs import SubgraphClient

SCHOOL_FIELDS = "id name jurisdiction stage stageLabelZh ownership ownershipLabelZh enrolment version"
INSPECTOR_FIELDS = "id name jurisdiction employment employmentLabelZh version"


@strawberry.type
class Jurisdiction:
    """An administrative division (行政区划), from the reference data every instance carries."""

    code: str
    name: str
    name_en: str
    level: str
    level_label_zh: str

    @classmethod
    def of(cls, code: str) -> Jurisdiction:
        known = divisions.get(code)
        level = divisions.level_of(code)
        return cls(
            code=code,
            name=divisions.name_of(code),
            name_en=known.name_en if known else code,
            level=level.value,
            level_label_zh=level.label_zh,
        )

    @strawberry.field
    def parent(self) -> Jurisdiction | None:
        ancestors = divisions.ancestors(self.code)
        return Jurisdiction.of(ancestors[0]) if ancestors else None

    @strawberry.field
    def children(self) -> list[Jurisdiction]:
        return [Jurisdiction.of(j.code) for j in divisions.children(self.code)]


@strawberry.type
class School:
    id: strawberry.ID
    name: str
    stage: str
    stage_label_zh: str
    ownership: str
    ownership_label_zh: str
    enrolment: int
    version: int
    jurisdiction_code: strawberry.Private[str]

    @strawberry.field
    def jurisdiction(self) -> Jurisdiction:
        return Jurisdiction.of(self.jurisdiction_code)

    @classmethod
    def of(cls, data: dict[str, Any]) -> School:
        return cls(
            id=strawberry.ID(data["id"]),
            name=data["name"],
            stage=data["stage"],
            stage_label_zh=data["stageLabelZh"],
            ownership=data["ownership"],
            ownership_label_zh=data["ownershipLabelZh"],
            enrolment=data["enrolment"],
            version=data["version"],
            jurisdiction_code=data["jurisdiction"],
        )


@strawberry.type
class Inspector:
    id: strawberry.ID
    name: str
    employment: str
    employment_label_zh: str
    version: int
    jurisdiction_code: strawberry.Private[str]

    @strawberry.field
    def jurisdiction(self) -> Jurisdiction:
        return Jurisdiction.of(self.jurisdiction_code)

    @classmethod
    def of(cls, data: dict[str, Any]) -> Inspector:
        return cls(
            id=strawberry.ID(data["id"]),
            name=data["name"],
            employment=data["employment"],
            employment_label_zh=data["employmentLabelZh"],
            version=data["version"],
            jurisdiction_code=data["jurisdiction"],
        )


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class SchoolConnection:
    nodes: list[School]
    page_info: PageInfo


@strawberry.type
class InspectorConnection:
    nodes: list[Inspector]
    page_info: PageInfo


class Loaders:
    """Per-request DataLoaders: every lookup by id in one query costs one subgraph call per type."""

    def __init__(self, client: SubgraphClient, token: str | None):
        self.client, self.token = client, token
        self.schools = DataLoader(load_fn=self._entities("School", SCHOOL_FIELDS, School.of))
        self.inspectors = DataLoader(load_fn=self._entities("Inspector", INSPECTOR_FIELDS, Inspector.of))

    def _entities(self, typename: str, fields: str, of):
        query = f"query($r: [_Any!]!) {{ _entities(representations: $r) {{ ... on {typename} {{ {fields} }} }} }}"

        async def load(ids: list[str]) -> list[Any]:
            data = await self.client.query(
                "registry", query, {"r": [{"__typename": typename, "id": i} for i in ids]}, self.token
            )
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
        self,
        info: strawberry.Info,
        jurisdiction: str | None = None,
        stage: str | None = None,
        ownership: str | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> SchoolConnection:
        loaders = _loaders(info)
        query = (
            "query($j: String, $s: String, $o: String, $f: Int!, $a: String) {"
            " schools(jurisdiction: $j, stage: $s, ownership: $o, first: $f, after: $a) {"
            f" nodes {{ {SCHOOL_FIELDS} }} pageInfo {{ hasNextPage endCursor }} }} }}"
        )
        data = await loaders.registry(query, {"j": jurisdiction, "s": stage, "o": ownership, "f": first, "a": after})
        page = data["schools"]
        nodes = [School.of(n) for n in page["nodes"]]
        for school in nodes:
            loaders.schools.prime(str(school.id), school)
        return SchoolConnection(nodes=nodes, page_info=PageInfo(**_page_info(page)))

    @strawberry.field
    async def school(self, info: strawberry.Info, id: strawberry.ID) -> School | None:
        return await _loaders(info).schools.load(str(id))

    @strawberry.field(description="Inspectors in a jurisdiction's subtree (default: the caller's).")
    async def inspectors(
        self,
        info: strawberry.Info,
        jurisdiction: str | None = None,
        employment: str | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> InspectorConnection:
        loaders = _loaders(info)
        query = (
            "query($j: String, $e: String, $f: Int!, $a: String) {"
            " inspectors(jurisdiction: $j, employment: $e, first: $f, after: $a) {"
            f" nodes {{ {INSPECTOR_FIELDS} }} pageInfo {{ hasNextPage endCursor }} }} }}"
        )
        data = await loaders.registry(query, {"j": jurisdiction, "e": employment, "f": first, "a": after})
        page = data["inspectors"]
        nodes = [Inspector.of(n) for n in page["nodes"]]
        for inspector in nodes:
            loaders.inspectors.prime(str(inspector.id), inspector)
        return InspectorConnection(nodes=nodes, page_info=PageInfo(**_page_info(page)))

    @strawberry.field
    async def inspector(self, info: strawberry.Info, id: strawberry.ID) -> Inspector | None:
        return await _loaders(info).inspectors.load(str(id))

    @strawberry.field(description="An administrative division by its code.")
    def jurisdiction(self, code: str) -> Jurisdiction | None:
        return Jurisdiction.of(code) if divisions.is_known(code) else None


def _page_info(page: dict[str, Any]) -> dict[str, Any]:
    return {"has_next_page": page["pageInfo"]["hasNextPage"], "end_cursor": page["pageInfo"]["endCursor"]}


schema = strawberry.Schema(query=Query)
