"""problem+json errors (RFC 9457): the one error hierarchy, free of any web framework (the domain raises these);
`dudao.http_errors` maps them to HTTP responses."""

from __future__ import annotations

import logging
from typing import Any

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://dudao.example/problems/"
log = logging.getLogger("dudao.errors")


class Problem(Exception):
    """An error the caller can act on. `rule` is stable; `detail` is for humans."""

    status = 400
    rule = "bad_request"
    title = "Bad request"

    def __init__(self, detail: str, *, field: str | None = None, rule: str | None = None, **extra: Any):
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.rule = rule or type(self).rule
        self.extra = extra

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": TYPE_BASE + self.rule,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "rule": self.rule,
        }
        if self.field:
            body["field"] = self.field
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


class InvalidInput(Problem):
    status, rule, title = 422, "invalid_input", "Invalid input"


class Unauthorized(Problem):
    status, rule, title = 401, "unauthenticated", "Authentication required"


class Forbidden(Problem):
    status, rule, title = 403, "forbidden", "Not allowed"


class NotFound(Problem):
    status, rule, title = 404, "not_found", "Not found"


class Conflict(Problem):
    """A domain rule forbids the command in the aggregate's current state."""

    status, rule, title = 409, "conflict", "Conflict"


class PreconditionFailed(Problem):
    status, rule, title = 412, "stale_version", "Precondition failed"


class Unavailable(Problem):
    status, rule, title = 503, "unavailable", "Service unavailable"


class DatabaseUnavailable(Unavailable):
    rule = "database_unavailable"


RETRY_AFTER_S = 5


def _database_down() -> tuple[type[BaseException], ...]:
    """What PostgreSQL being away raises, through asyncpg (reads), psycopg and eventsourcing (writes)."""
    import asyncpg
    import psycopg
    from eventsourcing import persistence

    return (
        ConnectionError,
        asyncpg.PostgresConnectionError,
        asyncpg.InterfaceError,
        asyncpg.CannotConnectNowError,
        psycopg.OperationalError,
        persistence.OperationalError,
        persistence.InterfaceError,
    )


DATABASE_DOWN = _database_down()


def database_unavailable() -> DatabaseUnavailable:
    """What a caller is told while PostgreSQL is away: no host, no port, when to try again."""
    return DatabaseUnavailable(
        f"the database is unavailable; nothing was changed. Try again in {RETRY_AFTER_S} seconds"
    )
