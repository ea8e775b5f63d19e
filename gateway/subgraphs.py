"""Calls to the services' GraphQL subgraphs: the caller's token and trace forwarded, a timeout per call, errors kept.

The gateway makes four such calls for one start page, so their cost is most of its own: they go through aiohttp,
which spent an eighth of the CPU httpx did for the same call (decision 038).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any, NamedTuple

import aiohttp
from graphql import GraphQLError

from dudao import telemetry
from dudao.errors import Unavailable
from gateway import remembered

log = logging.getLogger("dudao.gateway")

CONNECTIONS = 16  # to each subgraph: about what one service process answers at once
# Idle connections are dropped before uvicorn's own 5 s would close them under a request on its way.
KEEPALIVE_S = 4.0


def subgraph_error(service: str, error: dict[str, Any]) -> GraphQLError:
    """A subgraph's GraphQL error as the gateway's, keeping its status, rule and field and naming the service."""
    extensions = dict(error.get("extensions") or {})
    extensions.setdefault("service", service)
    return GraphQLError(error.get("message") or f"{service} failed", extensions=extensions)


class Answer(NamedTuple):
    """A service's HTTP answer, read whole."""

    status: int
    headers: Mapping[str, str]
    content: bytes

    def json(self) -> dict[str, Any]:
        """The body as a JSON object, or {} when it is not one (a proxy's HTML error page, an empty body)."""
        try:
            body = json.loads(self.content)
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}


class SubgraphClient:
    """A pool of connections per subgraph; counts calls so tests and metrics can see the fan-out."""

    def __init__(self, urls: dict[str, str], timeout_s: float):
        self.urls = urls
        self.calls: dict[str, int] = dict.fromkeys(urls, 0)
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._http: dict[str, aiohttp.ClientSession] = {}  # opened on first use, in the loop that serves

    async def close(self) -> None:
        sessions, self._http = list(self._http.values()), {}
        for session in sessions:
            await session.close()

    async def _ask(self, service: str, method: str, path: str, *, headers: dict[str, str], **body: Any) -> Answer:
        """One HTTP request to `service`, with the current trace's context; the answer read whole. Raises
        TimeoutError when it does not answer in time and aiohttp.ClientError when it cannot be reached."""
        session = self._http.get(service)
        if session is None:
            connector = aiohttp.TCPConnector(limit=CONNECTIONS, keepalive_timeout=KEEPALIVE_S)
            session = self._http[service] = aiohttp.ClientSession(connector=connector, timeout=self._timeout)
        headers = headers | telemetry.current_trace_headers()
        async with session.request(method, f"{self.urls[service]}{path}", headers=headers, **body) as response:
            return Answer(response.status, response.headers, await response.read())

    async def fetch(
        self, service: str, query: str, variables: dict[str, Any], token: str | None
    ) -> tuple[dict[str, Any] | None, list[dict]]:
        """Run `query` on one subgraph: its data (partial, or None when a non-null field failed) and its errors.
        A service that is down, slow or answers without a GraphQL body is a GraphQL error naming it."""
        self.calls[service] = self.calls.get(service, 0) + 1
        try:
            answer = await self._ask(
                service, "POST", "/graphql", headers=_bearer(token), json={"query": query, "variables": variables}
            )
        except (TimeoutError, aiohttp.ClientError) as e:
            raise _unreachable(service, e) from None
        body = answer.json()
        remembered.heard(service, body)
        errors = body.get("errors") or []
        if body.get("data") is None and not errors:
            raise GraphQLError(
                f"the {service} service answered HTTP {answer.status}",
                extensions={"status": answer.status, "rule": "subgraph_error", "service": service},
            )
        return body.get("data"), errors

    async def read(self, service: str, path: str, token: str | None) -> dict[str, Any]:
        """GET a REST read of a service with the caller's token (what the services keep outside their subgraphs, such
        as their links); a refusal keeps its status and rule, down or slow is a GraphQL error naming the service."""
        self.calls[service] = self.calls.get(service, 0) + 1
        remembered.unsaid()
        try:
            answer = await self._ask(service, "GET", path, headers=_bearer(token))
        except (TimeoutError, aiohttp.ClientError) as e:
            raise _unreachable(service, e) from None
        body = answer.json()
        if answer.status != 200:
            raise GraphQLError(
                body.get("detail") or f"the {service} service answered HTTP {answer.status}",
                extensions={
                    "status": answer.status,
                    "rule": body.get("rule", "subgraph_error"),
                    "field": body.get("field"),
                    "service": service,
                },
            )
        return body

    async def forward(self, service: str, path: str, *, content: bytes, headers: dict[str, str]) -> Answer:
        """POST a request on to a service as it came (the OAuth token endpoint); down or slow is a 503 problem."""
        try:
            return await self._ask(service, "POST", path, headers=headers, data=content)
        except (TimeoutError, aiohttp.ClientError) as e:
            refused = _unreachable(service, e)
            raise Unavailable(refused.message, rule=refused.extensions["rule"], service=service) from None

    async def query(self, service: str, query: str, variables: dict[str, Any], token: str | None) -> dict[str, Any]:
        """Run `query` on one subgraph; any error it reports becomes the gateway's error."""
        data, errors = await self.fetch(service, query, variables, token)
        if errors or data is None:
            raise subgraph_error(service, errors[0])
        return data


def _bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def _unreachable(service: str, error: Exception) -> GraphQLError:
    """Down or slow, in the gateway's words, naming the service."""
    if isinstance(error, TimeoutError):
        message, rule, status = f"the {service} service did not answer in time", "subgraph_timeout", 504
    else:
        message, rule, status = f"the {service} service is unreachable: {error}", "subgraph_unavailable", 503
    return GraphQLError(message, extensions={"status": status, "rule": rule, "service": service})
