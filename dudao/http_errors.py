"""Every error of an app as a problem+json response (RFC 9457): `install(app)`; nothing escapes as a bare 500."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from dudao.errors import DATABASE_DOWN, PROBLEM_JSON, RETRY_AFTER_S, InvalidInput, Problem, database_unavailable
from dudao.telemetry import why

log = logging.getLogger("dudao.errors")


def problem_response(problem: Problem, request: Request | None = None) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if problem.status == 401 else None
    if problem.status == 503:
        headers = {"Retry-After": str(RETRY_AFTER_S)}
    instance = request.url.path if request is not None else None
    return JSONResponse(problem.body(instance), status_code=problem.status, media_type=PROBLEM_JSON, headers=headers)


def _field_path(loc: tuple[Any, ...]) -> str:
    # ("body", "enrolment") -> "enrolment"; ("query", "stage") -> "stage"
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or ".".join(str(p) for p in loc)


def _validation_problem(exc: RequestValidationError) -> InvalidInput:
    errors = [
        {"field": _field_path(tuple(e.get("loc", ()))), "rule": e.get("type", "invalid"), "detail": e.get("msg", "")}
        for e in exc.errors()
    ]
    first = errors[0] if errors else {"field": None, "rule": "invalid", "detail": "invalid input"}
    detail = "; ".join(f"{e['field']}: {e['detail']}" for e in errors) or "invalid input"
    return InvalidInput(detail, field=first["field"], rule=first["rule"], errors=errors)


def install(app: FastAPI) -> None:
    """Make every error of `app` a problem+json response; nothing escapes as a bare 500."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc, request)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(_validation_problem(exc), request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI could not parse the body at all (e.g. nested too deep)
            return problem_response(
                InvalidInput(f"the body is not valid JSON: {exc.detail}", field="body", rule="json_invalid"), request
            )
        rule = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        problem = Problem(str(exc.detail), rule=rule)
        problem.status, problem.title = exc.status_code, str(exc.detail)
        return problem_response(problem, request)

    async def _database(request: Request, exc: Exception) -> JSONResponse:
        log.warning("%s %s: the database is unavailable: %s", request.method, request.url.path, why(exc))
        return problem_response(database_unavailable(), request)

    for kind in DATABASE_DOWN:
        app.add_exception_handler(kind, _database)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        problem = Problem("an unexpected error occurred; it has been logged", rule="internal_error")
        problem.status, problem.title = 500, "Internal error"
        return problem_response(problem, request)
