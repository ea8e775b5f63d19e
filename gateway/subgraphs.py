"""Calls to the services' GraphQL subgraphs: the caller's token forwarded, a timeout per call, errors kept."""

from __future__ import annotations

import logging
from typing import Any

import httpx
from graphql import GraphQLError

log = logging.getLogger("dudao.gateway")


def subgraph_error(service: str, error: dict[str, Any]) -> GraphQLError:
    """A subgraph's GraphQL error as the gateway's, keeping its status, rule and field and naming the service."""
    extensions = dict(error.get("extensions") or {})
    extensions.setdefault("service", service)
    return GraphQLError(error.get("message") or f"{service} failed", extensions=extensions)


class SubgraphClient:
    """One HTTP client for every subgraph; counts calls so tests and metrics can see the fan-out."""

    def __init__(self, urls: dict[str, str], timeout_s: float, transport: httpx.AsyncBaseTransport | None = None):
        self.urls = urls
        self.calls: dict[str, int] = dict.fromkeys(urls, 0)
        self._http = httpx.AsyncClient(timeout=timeout_s, transport=transport)

    async def close(self) -> None:
        await self._http.aclose()

    async def fetch(
        self, service: str, query: str, variables: dict[str, Any], token: str | None
    ) -> tuple[dict[str, Any] | None, list[dict]]:
        """Run `query` on one subgraph: its data (partial, or None when a non-null field failed) and its errors.
        A service that is down, slow or answers without a GraphQL body is a GraphQL error naming it."""
        self.calls[service] = self.calls.get(service, 0) + 1
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            response = await self._http.post(
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

    async def query(self, service: str, query: str, variables: dict[str, Any], token: str | None) -> dict[str, Any]:
        """Run `query` on one subgraph; any error it reports becomes the gateway's error."""
        data, errors = await self.fetch(service, query, variables, token)
        if errors or data is None:
            raise subgraph_error(service, errors[0])
        return data
