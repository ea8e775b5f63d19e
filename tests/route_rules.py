"""Every HTTP route of the four services and the gateway with the rule it declares (`dudao.auth.Rule`), and the
matrix of who may call what that docs/scope-matrix.md shows (`make scope-matrix` writes it; a test checks it)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from dudao.auth import SHARED, SUBTREE, Role, Rule
from dudao.config import Settings
from dudao.scope import SCOPE_OF_ROLE

ROLES = [r.value for r in Role]  # admin, inspector, unit, committee, national, ops, agency
# GraphQL answers per field: each resolver asks the subgraph's `caller` and scopes the place asked for.
PER_FIELD = ("/graphql",)


@dataclass(frozen=True)
class RouteRule:
    app: str
    method: str
    path: str
    rule: Rule | None
    query: frozenset[str]  # the route's query parameters


def apps(settings: Settings) -> dict[str, FastAPI]:
    from gateway.app import build as gateway
    from services.accountability.app import build as accountability
    from services.inspection.app import build as inspection
    from services.monitoring.app import build as monitoring
    from services.registry.app import build as registry

    builds = {
        "registry": registry,
        "inspection": inspection,
        "accountability": accountability,
        "monitoring": monitoring,
    }
    return {name: build(settings) for name, build in builds.items()} | {"gateway": gateway(settings)}


def _rules(dependant: Dependant) -> Iterator[Rule]:
    for sub in dependant.dependencies:
        if (rule := getattr(sub.call, "rule", None)) is not None:
            yield rule
        yield from _rules(sub)


def _flat(app: FastAPI) -> Iterator[tuple[object, str, set[str]]]:
    """Each route with its full path and methods. FastAPI 0.16x keeps included routers as lazy nodes; earlier
    versions copy their routes into the app's list."""
    try:
        from fastapi.routing import _iter_routes_with_context
    except ImportError:
        for route in app.routes:
            yield route, getattr(route, "path", ""), getattr(route, "methods", set())
        return
    for route, context in _iter_routes_with_context(app.routes):
        yield (
            route,
            context.path if context else getattr(route, "path", ""),
            (context.methods if context else getattr(route, "methods", set())),
        )


def routes(built: dict[str, FastAPI]) -> list[RouteRule]:
    found = []
    for name, app in built.items():
        for route, path, methods in _flat(app):
            if not isinstance(route, APIRoute) or path.startswith(PER_FIELD) or not route.include_in_schema:
                continue
            rules = list(_rules(route.dependant))
            query = frozenset(p.name for p in route.dependant.query_params)
            for method in sorted(methods):
                found.append(RouteRule(name, method, path, rules[0] if rules else None, query))
    return sorted(found, key=lambda r: (r.app, r.path, r.method))


def cell(rule: Rule, role: str) -> str:
    if rule.public:
        return "public"
    if rule.roles and role not in rule.roles:
        return "—"
    if rule.reach == SHARED:
        return "any"
    return SCOPE_OF_ROLE[Role(role)]


def target_of(r: RouteRule) -> str:
    """What the route's rule is checked against: as it declares, or else as its path and method say; and how far an
    office reaches when that is not its subtree."""
    reach = "" if r.rule.reach in (SUBTREE, SHARED) else f" (offices: {r.rule.reach})"
    return _target(r) + reach


def _target(r: RouteRule) -> str:
    if r.rule.target:
        return r.rule.target
    ids = re.findall(r"\{([a-z_]+)\}", r.path)
    if ids:
        return ", ".join(i.removesuffix("_id").replace("_", " ") for i in ids) + " as stored here"
    if r.method == "GET":
        return "the place asked for (default: the caller's)"
    return "the place or unit the body names, as our data has it"


def matrix(found: list[RouteRule]) -> str:
    head = "| service | method | path | target | " + " | ".join(ROLES) + " | none |"
    lines = [
        "# Who may call what (generated)",
        "",
        "Written by `make scope-matrix` from the rule each route declares (`dudao.auth.require` / `public`);",
        "`tests/unit/test_route_rules.py` fails when this file drifts, when a route declares no rule, and when a role",
        "the table refuses gets anything but a 403 (401 without a token). How each role is scoped against the",
        "target is `dudao/scope.py`'s: subtree (admin, committee, ops; national read-only), own unit (unit), team or",
        "zone (inspector), assignment (agency). A write is also refused outside the instance's own subtree. Where an",
        "office reaches further or less far than its subtree, the target column says so (`dudao.auth.REACHES`);",
        "`any` is a reference every caller reads. tests/integration/test_scope_walk.py calls each route at stored",
        "targets as callers inside and outside them.",
        "",
        head,
        "|" + "---|" * (len(ROLES) + 5),
    ]
    for r in found:
        assert r.rule is not None
        roles = [cell(r.rule, role) for role in ROLES]
        none = "public" if r.rule.public else "401"
        lines.append(f"| {r.app} | {r.method} | `{r.path}` | {target_of(r)} | " + " | ".join(roles) + f" | {none} |")
    return "\n".join(lines) + "\n"
