"""The rules are data: every route declares one, and a generated walk calls every route as every role and scope.

The apps are built but not started (no database, no NATS): a refusal by role or by the place asked for must come
before any work, so it is answered here. What needs a stored target (a case, an activity) is walked in
tests/integration/test_scope.py."""

from __future__ import annotations

import re
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from dudao import auth
from dudao.config import Settings
from dudao.scope import REFUSALS
from tests.route_rules import ROLES, apps, matrix, routes

pytestmark = pytest.mark.unit

INSTANCE = "500120"
# The caller's place against a target in 500120: in scope, the county next door, the city above, a township below,
# another province. Roles scoped by subtree are admitted from the first and the third only.
SCOPES = {
    "in_scope": "500120",
    "sibling_county": "500151",
    "parent": "500000",
    "child_township": "500120001",
    "other_province": "360123",
}
MATRIX = Path(__file__).resolve().parents[2] / "docs" / "scope-matrix.md"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    home = tmp_path_factory.mktemp("rules")
    key = home / "dev-key.pem"
    auth.ensure_dev_key(key)
    settings = replace(Settings(), home=home, dev_key_path=key, jurisdiction=INSTANCE, run_workers=False)
    return settings, apps(settings)


# Path parameters as a real request would give them, so that what is refused is the caller, not the path.
PATH_VALUES = {
    "period": "2025-2026",
    "framework": "balanced_development",
    "code": INSTANCE,
    "unit_id": "u-1",
    "item_id": "i-1",
}
QUERY_VALUES = {"month": "2026-11", "version": "1", "year": "2026"}


def _path(path: str) -> str:
    return re.sub(r"\{([^}]+)\}", lambda m: PATH_VALUES.get(m.group(1), "00000000-0000-0000-0000-000000000001"), path)


def test_every_route_declares_its_rule(built):
    _, found = built
    missing = [f"{r.app} {r.method} {r.path}" for r in routes(found) if r.rule is None]
    assert not missing, f"routes without a declared rule (require(...) or public(...)): {missing}"


def test_the_matrix_in_docs_is_the_one_the_rules_make(built):
    _, found = built
    assert MATRIX.read_text(encoding="utf-8") == matrix(routes(found)), (
        "run `make scope-matrix` and commit docs/scope-matrix.md"
    )


@pytest.mark.parametrize("service", ["registry", "inspection", "accountability", "monitoring", "gateway"])
async def test_every_route_refuses_every_role_and_scope_it_should_before_any_work(built, service):
    """Route × role (and no token) × caller's place: a role the rule leaves out is 403 role_required wherever it sits,
    no token is 401; a read of a place outside the caller's subtree is refused with a 403 naming the scope rule.
    One case per app, so that workers share the walk."""
    settings, found = built
    assert service in found, sorted(found)
    found = {service: found[service]}
    started, calls, failures = time.monotonic(), 0, []
    clients = {
        name: httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t")
        for name, app in found.items()
    }
    # One token per role and place, signed once: signing is what the walk spent most of its time on.
    tokens = {
        (role, jur): auth.issue_dev_token(settings, sub="walker", roles=[role], jur=jur, unit="u-1")
        for role in ROLES
        for jur in SCOPES.values()
    }
    try:
        for r in routes(found):
            if r.rule.public:
                continue
            client, path = clients[r.app], _path(r.path)
            calls += 1
            answer = await client.request(r.method, path)
            if answer.status_code != 401:
                failures.append(f"{r.method} {r.path} without a token: {answer.status_code}")
            for role in ROLES:
                for where, jur in SCOPES.items():
                    headers = {"Authorization": f"Bearer {tokens[role, jur]}"}
                    if r.rule.roles and role not in r.rule.roles:
                        calls += 1
                        answer = await client.request(r.method, path, headers=headers, json={})
                        if answer.status_code != 403 or answer.json().get("rule") != "role_required":
                            failures.append(
                                f"{r.method} {r.path} as {role} of {jur}: {answer.status_code} {answer.text[:120]}"
                            )
                        continue
                    if (
                        r.method == "GET"
                        and "jurisdiction" in r.query
                        and where in ("sibling_county", "child_township", "other_province")
                    ):
                        calls += 1
                        answer = await client.request(
                            r.method,
                            path,
                            headers=headers,
                            params={"jurisdiction": INSTANCE} | {k: v for k, v in QUERY_VALUES.items() if k in r.query},
                        )
                        if answer.status_code != 403 or answer.json().get("rule") not in REFUSALS:
                            failures.append(
                                f"{r.method} {r.path}?jurisdiction={INSTANCE} as {role} of {jur}: {answer.status_code} {answer.text[:120]}"
                            )
    finally:
        for client in clients.values():
            await client.aclose()
    print(
        f"\n{len(routes(found))} routes × {len(ROLES) + 1} callers × {len(SCOPES)} scopes: {calls} calls in {time.monotonic() - started:.1f}s"
    )
    assert not failures, "\n".join(failures)
