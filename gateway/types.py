"""The gateway's shared types: labels, pages, and the jurisdiction every other type hangs from."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from dudao import jurisdiction as divisions
from gateway.limits import page
from gateway.shapes import selection, shape

if TYPE_CHECKING:
    from gateway.accountability import RectificationCaseConnection
    from gateway.inspection import ActivityConnection
    from gateway.monitoring import MonitoringResult
    from gateway.registry import InspectorConnection, SchoolConnection


def loaders_of(info: strawberry.Info) -> Any:
    """The request's DataLoaders (gateway.loaders.Loaders), from a resolver's `info`."""
    return info.context["loaders"]


async def page_of(
    info: strawberry.Info, service: str, field: str, node: type, remembered_as: str, first: int, **filters: Any
) -> dict[str, Any]:
    """A page of a connection field (`nodes` of `node`, and `pageInfo`) from a service; each node is remembered in the
    loader `remembered_as`, so links back to it cost nothing."""
    loaders = loaders_of(info)
    asked = f"nodes {{ {selection(node)} }} pageInfo {{ {selection(PageInfo)} }}"
    found = await loaders.ask(service, field, asked, first=page(first), **filters)
    nodes = [shape(node, n) for n in found["nodes"]]
    for node in nodes:
        getattr(loaders, remembered_as).prime(str(node.id), node)
    return {"nodes": nodes, "page_info": shape(PageInfo, found["pageInfo"])}


@strawberry.type
class Labelled:
    """An enum value with its Chinese label."""

    value: str
    label_zh: str


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Jurisdiction:
    """An administrative division (行政区划), from the reference data every instance carries, with what lies below it."""

    code: str
    listed_name: strawberry.Private[str]
    name_en: str = strawberry.field(description="the English name where the list has one, else the Chinese name")
    level: str
    level_label_zh: str

    @classmethod
    def of(cls, code: str) -> Jurisdiction:
        known = divisions.get(code)
        level = divisions.level_of(code)
        return cls(
            code=code,
            listed_name=divisions.name_of(code),
            name_en=(known.name_en or known.name_zh) if known else divisions.name_of(code),
            level=level.value,
            level_label_zh=level.label_zh,
        )

    @strawberry.field(
        description="the Chinese name; a township's is the one its county's office registered, else its code"
    )
    async def name(self, info: strawberry.Info) -> str:
        if len(self.code) != 9:
            return self.listed_name
        try:
            named = await loaders_of(info).ask("registry", "townshipNames", "code name", codes=[self.code])
        except Exception:  # the registry is away: the code still says where
            return self.listed_name
        return next((t["name"] for t in named or [] if t["code"] == self.code), self.listed_name)

    @strawberry.field
    def parent(self) -> Jurisdiction | None:
        ancestors = divisions.ancestors(self.code)
        return Jurisdiction.of(ancestors[0]) if ancestors else None

    @strawberry.field
    def children(self) -> list[Jurisdiction]:
        return [Jurisdiction.of(j.code) for j in divisions.children(self.code)]

    @strawberry.field(description="Schools here and below, a page at a time.")
    async def schools(
        self,
        info: strawberry.Info,
        stage: str | None = None,
        ownership: str | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> Annotated[SchoolConnection, strawberry.lazy("gateway.registry")] | None:
        from gateway.registry import schools_page

        return await schools_page(
            info, jurisdiction=self.code, stage=stage, ownership=ownership, first=first, after=after
        )

    @strawberry.field(description="Inspectors here and below, a page at a time.")
    async def inspectors(
        self, info: strawberry.Info, status: str | None = None, first: int = 50, after: str | None = None
    ) -> Annotated[InspectorConnection, strawberry.lazy("gateway.registry")] | None:
        from gateway.registry import inspectors_page

        return await inspectors_page(info, jurisdiction=self.code, status=status, first=first, after=after)

    @strawberry.field(description="Supervision activities here and below, a page at a time.")
    async def activities(
        self, info: strawberry.Info, status: str | None = None, first: int = 50, after: str | None = None
    ) -> Annotated[ActivityConnection, strawberry.lazy("gateway.inspection")] | None:
        from gateway.inspection import activities_page

        return await activities_page(info, jurisdiction=self.code, status=status, first=first, after=after)

    @strawberry.field(
        description="Rectification cases here and below (status: opened, in_rectification, closed), a page at a time."
    )
    async def cases(
        self, info: strawberry.Info, status: str | None = None, first: int = 50, after: str | None = None
    ) -> Annotated[RectificationCaseConnection, strawberry.lazy("gateway.accountability")] | None:
        from gateway.accountability import cases_page

        return await cases_page(info, jurisdiction=self.code, status=status, first=first, after=after)

    @strawberry.field(description="A framework's results for a period here: the area's verdict and each unit's below.")
    async def indicator_results(
        self, info: strawberry.Info, framework: str, period: str
    ) -> Annotated[MonitoringResult, strawberry.lazy("gateway.monitoring")] | None:
        from gateway.monitoring import results_of

        return await results_of(info, framework=framework, period=period, jurisdiction=self.code)
