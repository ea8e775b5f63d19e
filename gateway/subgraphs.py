"""Calls to the services' GraphQL subgraphs: the caller's token forwarded, a timeout per call, errors kept."""

from __future__ import annotations

import logging
from typing import Any

import httpx
from graphql import GraphQLError

from dudao.errors import Unavailable

log = logging.getLogger("dudao.gateway")

CONNECTIONS = 16  # to each subgraph: about what one service process answers at once


def subgraph_error(service: str, error: dict[str, Any]) -> GraphQLError:
    """A subgraph's GraphQL error as the gateway's, keeping its status, rule and field and naming the service."""
    extensions = dict(error.get("extensions") or {})
    extensions.setdefault("service", service)
    return GraphQLError(error.get("message") or f"{service} failed", extensions=extensions)


class SubgraphClient:
    """An HTTP client per subgraph; counts calls so tests and metrics can see the fan-out."""

    def __init__(self, urls: dict[str, str], timeout_s: float, transport: httpx.AsyncBaseTransport | None = None):
        self.urls = urls
        self.calls: dict[str, int] = dict.fromkeys(urls, 0)
        # A pool per service, each keeping its connections open: with httpx's defaults (one pool, 20 kept alive)
        # a busy gateway spent most of its CPU opening connections and scanning one long pool, not on GraphQL.
        limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
        self._http = {name: httpx.AsyncClient(timeout=timeout_s, transport=transport, limits=limits) for name in urls}

    async def close(self) -> None:
        for client in self._http.values():
            await client.aclose()

    async def fetch(
        self, service: str, query: str, variables: dict[str, Any], token: str | None
    ) -> tuple[dict[str, Any] | None, list[dict]]:
        """Run `query` on one subgraph: its data (partial, or None when a non-null field failed) and its errors.
        A service that is down, slow or answers without a GraphQL body is a GraphQL error naming it."""
        self.calls[service] = self.calls.get(service, 0) + 1
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            response = await self._http[service].post(
                f"{self.urls[service]}/graphql", json={"query": query, "variables": variables}, headers=headers
            )
        except httpx.TimeoutException:
            raise GraphQLError(
                f"the {service} service did not answer in time",
                extensions={"status": 504, "rule": "subgraph_timeout", "service": service},
            ) from None
        except httpx.HTTPError as e:
            raise GraphQLError(
                f"the {service} service is unreachable: {e}",
                extensions={"status": 503, "rule": "subgraph_unavailable", "service": service},
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        errors = body.get("errors") or []
        if body.get("data") is None and not errors:
            raise GraphQLError(
                f"the {service} service answered HTTP {response.status_code}",
                extensions={"status": response.status_code, "rule": "subgraph_error", "service": service},
            )
        return body.get("data"), errors

    async def read(self, service: str, path: str, token: str | None) -> dict[str, Any]:
        """GET a REST read of a service with the caller's token (what the services keep outside their subgraphs, such
        as their links); a refusal keeps its status and rule, down or slow is a GraphQL error naming the service."""
        self.calls[service] = self.calls.get(service, 0) + 1
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            response = await self._http[service].get(f"{self.urls[service]}{path}", headers=headers)
        except httpx.TimeoutException:
            raise GraphQLError(
                f"the {service} service did not answer in time",
                extensions={"status": 504, "rule": "subgraph_timeout", "service": service},
            ) from None
        except httpx.HTTPError as e:
            raise GraphQLError(
                f"the {service} service is unreachable: {e}",
                extensions={"status": 503, "rule": "subgraph_unavailable", "service": service},
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200:
            raise GraphQLError(
                body.get("detail") or f"the {service} service answered HTTP {response.status_code}",
                extensions={
                    "status": response.status_code,
                    "rule": body.get("rule", "subgraph_error"),
                    "field": body.get("field"),
                    "service": service,
                },
            )
        return body

    async def forward(self, service: str, path: str, *, content: bytes, headers: dict[str, str]) -> httpx.Response:
        """POST a request on to a service as it came (the OAuth token endpoint); down or slow is a 503 problem."""
        try:
            return await self._http[service].post(f"{self.urls[service]}{path}", content=content, headers=headers)
        except httpx.TimeoutException:
            raise Unavailable(
                f"the {service} service did not answer in time", rule="subgraph_timeout", service=service
            ) from None
        except httpx.HTTPError as e:
            raise Unavailable(
                f"the {service} service is unreachable: {e}", rule="subgraph_unavailable", service=service
            ) from None

    async def query(self, service: str, query: str, variables: dict[str, Any], token: str | None) -> dict[str, Any]:
        """Run `query` on one subgraph; any error it reports becomes the gateway's error."""
        data, errors = await self.fetch(service, query, variables, token)
        if errors or data is None:
            raise subgraph_error(service, errors[0])
        return data
