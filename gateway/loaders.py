"""Per-request DataLoaders: every call the gateway makes to a subgraph goes through one of them, so a query costs
at most a few subgraph calls per level of the query, however many rows each level returns.

Three kinds, one mechanism (strawberry's DataLoader, which batches what is asked in the same tick):
- `ask(service, field, selection, **args)`: a root field of a subgraph. Asks to one service in the same tick travel
  as one request, each under its own alias, so `Jurisdiction.children { schools }` is one registry call, not one per
  child, and a failing ask fails only its own field.
- entities by id (`schools`, `activities`, `cases`, ...): one `_entities` call per type per level.
- groups by parent (`activities_of_school`, `cases_of_unit`, ...): one `...ForX(ids)` call per level.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from functools import partial
from typing import Any

from graphql import GraphQLError
from strawberry.dataloader import DataLoader

from dudao.auth import bearer_token
from dudao.errors import Problem
from gateway import accountability, inspection, monitoring, registry
from gateway.shapes import selection, shape
from gateway.subgraphs import SubgraphClient, subgraph_error


def literal(value: Any) -> str:
    """A GraphQL literal for a plain value: JSON's string escapes are GraphQL's, so no value can break out."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):  # a lone surrogate has no place in GraphQL text: it becomes "?"
        return json.dumps(value.encode("utf-8", "replace").decode("utf-8"))
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    raise TypeError(f"no GraphQL literal for {type(value).__name__}")


@dataclass(frozen=True)
class Ask:
    """One root field of a subgraph with its arguments and the selection the gateway needs."""

    field: str
    selection: str
    args: tuple[tuple[str, Any], ...]

    def text(self, alias: str) -> str:
        args = f"({', '.join(f'{name}: {literal(value)}' for name, value in self.args)})" if self.args else ""
        selection = f" {{ {self.selection} }}" if self.selection else ""
        return f"{alias}: {self.field}{args}{selection}"


class Loaders:
    """The DataLoaders of one request, all forwarding the caller's token."""

    def __init__(self, client: SubgraphClient, token: str | None):
        self.client, self.token = client, token
        self._asks = {service: DataLoader(load_fn=partial(self._ask_batch, service)) for service in client.urls}
        self.schools = self._entities("registry", registry.School)
        self.inspectors = self._entities("registry", registry.Inspector)
        self.zones = self._entities("registry", registry.Zone)
        self.activities = self._entities("inspection", inspection.Activity)
        self.cases = self._entities("accountability", accountability.RectificationCase)
        self.measures = self._entities("accountability", accountability.Measure)
        self.activities_of_school = self._grouped(
            "inspection",
            "activitiesForSchools(schoolIds: $k)",
            "activities",
            inspection.Activity,
        )
        self.activities_of_inspector = self._grouped(
            "inspection",
            "activitiesForInspectors(inspectorIds: $k)",
            "activities",
            inspection.Activity,
        )
        self.draws_of_inspector = self._grouped(
            "inspection", "drawsForInspectors(inspectorIds: $k)", "draws", inspection.Draw
        )
        self.cases_of_unit = self._grouped(
            "accountability",
            "casesForUnits(unitIds: $k)",
            "cases",
            accountability.RectificationCase,
        )
        self.cases_of_activity = self._grouped(
            "accountability",
            "casesForActivities(activityIds: $k)",
            "cases",
            accountability.RectificationCase,
        )
        self.results_of_unit = self._grouped(
            "monitoring", "resultsForUnits(unitIds: $k)", "results", monitoring.UnitResult
        )

    async def ask(self, service: str, field: str, selection: str = "", **args: Any) -> Any:
        """A root field of `service` (arguments left out when None); the same ask twice in a request is one."""
        given = tuple((name, tuple(v) if isinstance(v, list) else v) for name, v in args.items() if v is not None)
        return await self._asks[service].load(Ask(field, selection, given))

    async def _ask_batch(self, service: str, asks: list[Ask]) -> list[Any]:
        aliases = [f"a{i}" for i in range(len(asks))]
        query = "{ " + " ".join(ask.text(alias) for ask, alias in zip(asks, aliases, strict=True)) + " }"
        data, errors = await self.client.fetch(service, query, {}, self.token)
        if data is None and len(asks) > 1:
            # A failed non-null field nulls the whole answer: ask each again on its own so only it fails.
            alone = await asyncio.gather(*(self._ask_batch(service, [ask]) for ask in asks), return_exceptions=True)
            return [answer if isinstance(answer, BaseException) else answer[0] for answer in alone]
        data = data or {}
        failed: dict[str, GraphQLError] = {}
        for error in errors:
            path = error.get("path") or []
            for alias in [path[0]] if path else aliases:  # an error without a path concerns the whole request
                failed.setdefault(alias, subgraph_error(service, error))
        return [failed[alias] if alias in failed else data.get(alias) for alias in aliases]

    def _entities(self, service: str, kind: type) -> DataLoader:
        """Entities of `service` by id, as the gateway type of the same name (a federation `_entities` query)."""
        typename = kind.__name__
        query = (
            f"query($r: [_Any!]!) {{ _entities(representations: $r) {{ ... on {typename} {{ {selection(kind)} }} }} }}"
        )

        async def load(ids: list[str]) -> list[Any]:
            data = await self.client.query(
                service, query, {"r": [{"__typename": typename, "id": i} for i in ids]}, self.token
            )
            return [shape(kind, e) if e else None for e in data["_entities"]]

        return DataLoader(load_fn=load)

    def _grouped(self, service: str, call: str, items: str, kind: type) -> DataLoader:
        """Lists of `kind` by key (a school's activities, a unit's cases), for many keys in one query."""
        field = call.split("(")[0]
        query = f"query($k: [String!]!) {{ {call} {{ key {items} {{ {selection(kind)} }} }} }}"

        async def load(keys: list[str]) -> list[list[Any]]:
            data = await self.client.query(service, query, {"k": keys}, self.token)
            found = {group["key"]: [shape(kind, x) for x in group[items]] for group in data[field]}
            return [found.get(k, []) for k in keys]

        return DataLoader(load_fn=load)


def request_context(request: Any) -> dict[str, Any]:
    """What every resolver of one request (or WebSocket) has: the request, its loaders with the caller's token, the clock."""
    state, token = request.app.state, bearer_token(request)
    if token:  # who asked, for the access log; each subgraph checks the token again for what it answers
        with contextlib.suppress(Problem):
            request.state.caller = state.verifier.verify(token)
    return {"request": request, "loaders": Loaders(state.subgraphs, token), "clock": state.clock}
