"""The generated walk at stored targets: every route that names a target (by path or by body) × every role it admits
× a caller outside the target, against real services holding real targets in 500120 (璧山区).

tests/unit/test_route_rules.py walks every route × role × place without servers (a role the rule leaves out, a place
asked for outside the caller's subtree). What needs the target itself — a school, an inspector, an activity, a case,
a measure, a submission — is walked here: each call carries a body built from the route's own OpenAPI schema, so what
refuses it is the scope, not validation. An outsider must get a 403 naming one of `dudao.scope.REFUSALS`, or from a
read that narrows to the caller's own an answer holding none of the targets, or the 404 the target's own office gets
too. Then the callers in scope make the same calls, and none of them may be refused by scope."""

from __future__ import annotations

import re
import time
from dataclasses import replace

import pytest

from dudao.auth import INSTANCE_OFFICE, LINE
from dudao.scope import OFFICES, REFUSALS
from services.accountability.app import build as build_accountability
from services.inspection.app import build as build_inspection
from services.monitoring.app import build as build_monitoring
from services.registry.app import build as build_registry
from tests.conftest import eventually
from tests.factories import COUNTY as HAND_WORKED
from tests.factories import active_inspector, activity, in_copy, school, walk_to_issue

VALUES = HAND_WORKED["A"][1]  # a primary school's complete values

pytestmark = pytest.mark.integration

INSTANCE, COUNTY, FRAMEWORK, PERIOD = "500000", "500120", "balanced_development", "2025-2026"
TODAY = "2026-11-10"
QUERY_VALUES = {"jurisdiction": COUNTY, "version": "1", "month": "2026-11", "year": "2026"}

# Callers outside a target in 500120, each with the refusal its role gets. Office roles from elsewhere in the tree;
# the others from inside the county but without the claim their role needs (own unit, team, assignment).
OFFICE_ROLES = tuple(str(r) for r in OFFICES)
ELSEWHERE = {"sibling_county": "500151", "child_township": "500120001", "other_province": "360123"}


def _resolve(spec: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


class Bodies:
    """A valid body for each route, built from its OpenAPI schema, with the stored targets where fields name one."""

    def __init__(self, specs: dict[str, dict], ids: dict[str, str]):
        self.specs, self.ids = specs, ids
        # A field that names something is given the stored thing of that kind.
        self.named = {
            "jurisdiction": COUNTY,
            "code": COUNTY,
            "filed_with": INSTANCE,
            "unit_id": ids["school"],
            "target_id": ids["school"],
            "school_id": ids["school"],
            "inspector_id": ids["inspector"],
            "leader_id": ids["inspector"],
            "zone_id": ids["zone"],
            "unit_kind": "school",
            "target_kind": "school",
            "framework": FRAMEWORK,
            "period": PERIOD,
            "agency_id": "walk-agency",
            "person": f"inspector:{ids['inspector']}",
            "planned_month": "2026-12",
            "month": "2026-11",
            "school_year": "2026-2027",
        }
        self.named_in = {"inspection": {"period": "2026-fall"}}

    def body(self, app: str, method: str, path: str) -> dict | None:
        spec = self.specs[app]
        operation = spec["paths"][path][method.lower()]
        content = operation.get("requestBody", {}).get("content", {})
        if "application/json" not in content:
            return None
        self.app = app
        return self.value(spec, content["application/json"]["schema"], "")

    def query(self, app: str, method: str, path: str) -> dict[str, str]:
        """The query a real caller would send: the place asked about, and what the route requires."""
        parameters = self.specs[app]["paths"][path][method.lower()].get("parameters", [])
        wanted = {
            p["name"]: p for p in parameters if p["in"] == "query" and (p.get("required") or p["name"] in QUERY_VALUES)
        }
        return {name: QUERY_VALUES.get(name, "1") for name in wanted}

    def value(self, spec: dict, schema: dict, name: str):
        schema = _resolve(spec, schema)
        named = self.named_in.get(self.app, {}).get(name, self.named.get(name))
        if named is not None and schema.get("type", "string") == "string" and named in schema.get("enum", [named]):
            return named
        for key in ("anyOf", "oneOf", "allOf"):
            if key in schema:
                options = [_resolve(spec, s) for s in schema[key] if _resolve(spec, s).get("type") != "null"]
                return self.value(spec, options[0], name) if options else None
        if "enum" in schema:
            return schema["enum"][0]
        if "const" in schema:
            return schema["const"]
        if "default" in schema and schema["default"] is not None:
            return schema["default"]
        kind = schema.get("type")
        if isinstance(schema.get("additionalProperties"), dict) and not schema.get("properties"):
            return {"primary": self.value(spec, schema["additionalProperties"], "")}  # per stage
        if kind == "object" or "properties" in schema:
            properties = schema.get("properties", {})
            wanted = [p for p in properties if p in schema.get("required", ()) or p in self.named]
            return {p: self.value(spec, properties[p], p) for p in wanted}
        if kind == "array":
            return [self.value(spec, schema.get("items", {}), name) for _ in range(schema.get("minItems", 1))]
        if kind == "integer":
            return max(schema.get("minimum", 1), schema.get("exclusiveMinimum", 0) + 1)
        if kind == "number":
            return float(max(schema.get("minimum", 1), schema.get("exclusiveMinimum", 0) + 1))
        if kind == "boolean":
            return True
        if schema.get("format") == "date":
            return TODAY
        if schema.get("format") == "date-time":
            return f"{TODAY}T09:00:00+08:00"
        return "督导巡查" * max(1, schema.get("minLength", 1) // 4 + 1)


UNIT_PATHS = ("{school_id}", "{unit_id}", "{case_id}", "{activity_id}", "{measure_id}")
AUDITED = {
    "registry": "school",
    "inspection": "activity_id",
    "accountability": "case_id",
    "monitoring": "assignment_id",
}


def _path_values(ids: dict[str, str], app: str, path: str) -> str:
    """The stored target for each of the path's parameters (a name can mean different things on different routes)."""

    def one(match: re.Match) -> str:
        name = match.group(1)
        if name == "code":
            return FRAMEWORK if path.startswith("/v1/frameworks/") else COUNTY
        if name == "item_id":
            return ids["plan_item"] if path.startswith("/v1/plans/") else ids["case_item"]
        if name == "unit_id":
            return ids["school"]
        if name == "aggregate_id":  # an aggregate's audit trail: one of those the service keeps
            return ids[AUDITED[app]]
        return {
            "year": "2026",
            "framework": FRAMEWORK,
            "period": PERIOD,
            "number": ids["inspector_number"],
            "kind": "schools",
            "sha256": "0" * 64,
        }.get(name) or ids[name]

    return re.sub(r"\{([a-z0-9_]+)\}", one, path)


def _measure_or(ids: dict[str, str], path: str) -> dict[str, str]:
    kind = path.split("/")[2]  # /v1/<kind>/{measure_id}/...
    return ids | (
        {"measure_id": ids[kind]} if kind in ("interviews", "circulars", "decisions", "commendations") else {}
    )


def _created(response, key: str = "id") -> str:
    assert response.status_code in (200, 201), response.text
    return response.json()[key]


def seed(settings, served: dict, token) -> dict[str, str]:
    """One of everything a route can name, in 璧山区 (500120), made by its own office."""
    ids: dict[str, str] = {}
    with served["registry"].client(token()) as reg:
        ids["school"] = ids["school_id"] = school(reg, "璧山区青岚小学")
        ids["other_school"] = school(reg, "璧山区翠屏小学")
        ids["inspector"] = ids["inspector_id"] = active_inspector(reg, "李明远", roles=["responsible"])
        ids["inspector_number"] = "BS-WALK-1"
        numbered = reg.put(
            "/v1/inspectors/by-number/BS-WALK-1",
            json={"name": "王晓东", "jurisdiction": COUNTY, "employment": "part_time"},
        )
        assert numbered.status_code in (200, 201), numbered.text
        personal = reg.put(
            f"/v1/inspectors/{ids['inspector']}/personal",
            json={"mobile": "13800138000", "home_address": "璧山区青岚路1号"},
        )
        assert personal.status_code == 200, personal.text
        ids["zone"] = ids["zone_id"] = _created(
            reg.post("/v1/zones", json={"name": "青岚责任区", "jurisdiction": COUNTY})
        )
        assert reg.put(f"/v1/schools/{ids['school']}/zone", json={"zone_id": ids["zone"]}).status_code == 200
        responsible = reg.put(
            f"/v1/schools/{ids['school']}/responsible-inspector", json={"inspector_id": ids["inspector"]}
        )
        assert responsible.status_code == 200, responsible.text  # the inspector answers for the school (挂牌督导)
        ids["client_id"] = _created(
            reg.post("/v1/api-clients", json={"name": "巡查客户端", "jurisdiction": COUNTY}), "client_id"
        )
    eventually(lambda: in_copy(settings, "school_copy", ids["school"]), what="the school in inspection's copy")
    eventually(
        lambda: in_copy(settings, "inspector_copy", ids["inspector"], "active"),
        what="the inspector in inspection's copy",
    )
    with served["inspection"].client(token()) as insp:
        location = insp.post(
            "/v1/activities", json=activity(target_id=ids["school"], target_name="璧山区青岚小学")
        ).headers["Location"]
        ids["activity_id"] = location.rsplit("/", 1)[1]
        walk_to_issue(insp, location, ids["inspector"], "消防通道堆放杂物")
        draw = insp.post(
            "/v1/draws",
            json={
                "jurisdiction": COUNTY,
                "purpose": "双随机抽查",
                "period": "2026-fall",
                "targets": {"stages": ["primary"], "count": 1},
                "team": {"size": 1, "max_load": 2},
            },
        )
        assert draw.status_code == 201, draw.text
        ids["draw_id"] = draw.headers["Location"].rsplit("/", 1)[1]
        assert insp.put(f"/v1/plans/{COUNTY}/2026", json={"title": "璧山区2026年教育督导工作计划"}).status_code in (
            200,
            201,
        )
        item = insp.post(
            f"/v1/plans/{COUNTY}/2026/items",
            json={
                "kind": "special",
                "topic": "double_reduction",
                "title": "“双减”专项督导",
                "month": 3,
                "population": "全区义务教育学校",
            },
        )
        assert item.status_code in (200, 201), item.text
        ids["plan_item"] = item.json()["items"][-1]["item_id"]
    with served["accountability"].client(token()) as acc:
        [case] = eventually(
            lambda: acc.get("/v1/cases", params={"unit_id": ids["school"]}).json()["items"], what="the case"
        )
        ids["case_id"], ids["case_item"] = case["id"], case["items"][0]["item_id"]
        unit = {"unit_kind": "school", "unit_id": ids["school"], "unit_name": "璧山区青岚小学", "reason": "落实不力"}
        for kind, extra in (
            ("interviews", {"trigger": "duties_not_fulfilled"}),
            ("circulars", {"trigger": "ineffective"}),
            ("decisions", {"trigger": "supervision_obstructed", "unit_actions": ["责令整改"]}),
            ("commendations", {}),
        ):
            ids[kind] = _created(acc.post(f"/v1/{kind}", json=unit | extra))
    with served["monitoring"].client(token(jur=INSTANCE)) as mon:
        assert mon.post(f"/v1/frameworks/{FRAMEWORK}/periods", json={"period": PERIOD}).status_code == 201
        eventually(
            lambda: (
                len(
                    mon.get(f"/v1/collection/{FRAMEWORK}/{PERIOD}", params={"jurisdiction": COUNTY})
                    .json()
                    .get("units", [])
                )
                == 2
            ),
            what="the schools copied to monitoring",
        )
        ids["assignment_id"] = _created(
            mon.post(
                "/v1/assignments",
                json={
                    "framework": FRAMEWORK,
                    "period": PERIOD,
                    "jurisdiction": COUNTY,
                    "agency_id": "walk-agency",
                    "agency_name": "评估院",
                    "task": "collect",
                    "contract": "合同2026-1",
                },
            )
        )
    with served["monitoring"].client(token(role="unit", jur=COUNTY, unit=ids["school"])) as own:
        entered = own.put(f"/v1/submissions/{FRAMEWORK}/{PERIOD}/{ids['school']}", json={"values": VALUES})
        assert entered.status_code == 200, entered.text
    return ids


def outsiders(token, ids: dict[str, str]):
    """(who, role, token) for callers outside the targets: each must be refused by scope."""
    for role in OFFICE_ROLES:
        for where, jur in ELSEWHERE.items():
            yield f"{role} of {jur} ({where})", role, token(role=role, jur=jur)
    yield "unit of another school", "unit", token(role="unit", jur=COUNTY, unit=ids["other_school"])
    yield (
        "inspector off the team and zone",
        "inspector",
        token(role="inspector", jur=COUNTY, sub="00000000-0000-0000-0000-0000000000ff"),
    )
    yield "agency with no assignment here", "agency", token(role="agency", jur=COUNTY, unit="stranger-agency")


def insiders(token, ids: dict[str, str]):
    """(who, role, token) for callers whose scope covers the targets: none may be refused by scope."""
    for role in OFFICE_ROLES:
        yield f"{role} of {COUNTY}", role, token(role=role, jur=COUNTY)
    yield f"admin of {INSTANCE} (the city above)", "admin", token(role="admin", jur=INSTANCE)
    yield "unit of the school", "unit", token(role="unit", jur=COUNTY, unit=ids["school"])
    yield "inspector on the team", "inspector", token(role="inspector", jur=COUNTY, sub=ids["inspector"])
    yield "agency assigned to collect", "agency", token(role="agency", jur=COUNTY, unit="walk-agency")


def walked(spec_of, found) -> list:
    """The routes a stored target decides: a path parameter names it, the body does, or the query asks for its place.
    (A write with neither, like the deadline sweep, acts on the caller's own subtree: tests/integration/test_scope.py.)"""

    def names_a_target(r) -> bool:
        operation = spec_of[r.app]["paths"][r.path][r.method.lower()]
        asks_place = any(
            p["in"] == "query" and p["name"] in ("jurisdiction", "unit_id") for p in operation.get("parameters", [])
        )
        return "{" in r.path or "requestBody" in operation or asks_place

    return [r for r in found if r.app != "gateway" and not r.rule.public and names_a_target(r)]


def test_every_route_refuses_every_caller_outside_its_stored_target_and_admits_those_inside(settings, serve, token):
    """An outsider gets a 403 naming a scope rule; or, from a read that narrows to the caller's own, an answer that
    holds none of the targets; or the 404 an insider gets too (nothing there for anyone). An insider is never
    refused by scope (a 409 or 422 for the target's state is fine: the walk sends one body to every state)."""
    from tests.route_rules import routes

    city = replace(settings, jurisdiction=INSTANCE)
    builds = {
        "registry": build_registry,
        "inspection": build_inspection,
        "accountability": build_accountability,
        "monitoring": build_monitoring,
    }
    served = {name: serve(build(city)) for name, build in builds.items()}
    ids = seed(city, served, token)
    specs = {name: s.app.openapi() for name, s in served.items()}
    bodies = Bodies(specs, ids)
    found = walked(specs, routes({name: s.app for name, s in served.items()}))
    stored = {v for k, v in ids.items() if k not in ("other_school", "inspector_number")}
    started, calls, failures, not_found = time.monotonic(), 0, [], {}

    clients = {name: s.client() for name, s in served.items()}  # one each: a client costs an SSL context to make

    def call(r, who_token):
        nonlocal calls
        calls += 1
        return clients[r.app].request(
            r.method,
            _path_values(_measure_or(ids, r.path), r.app, r.path),
            params=bodies.query(r.app, r.method, r.path),
            json=bodies.body(r.app, r.method, r.path),
            headers={"Authorization": f"Bearer {who_token}"},
        )

    def admitted(r, role):
        return not r.rule.roles or role in r.rule.roles

    def inside(r, who: str, role: str) -> bool:
        """Whether an insider's scope covers what this route is about (it is tried as an insider only then)."""
        if r.rule.reach == INSTANCE_OFFICE:  # frameworks belong to the instance: only its own office acts on them
            return role not in OFFICE_ROLES or who.startswith(f"admin of {INSTANCE}")
        if role == "unit":  # a school is in scope for what concerns it, not for an inspector's record
            return r.path != "/v1/inspectors/{inspector_id}" and (
                any(p in r.path for p in UNIT_PATHS) or ids["school"] in str(bodies.body(r.app, r.method, r.path))
            )
        return True

    for r in found:
        for who, role, who_token in outsiders(token, ids):
            if not admitted(r, role) or (r.rule.reach == LINE and "child_township" in who):
                continue  # (a plan comes down to the levels below: decision 011)
            answer = call(r, who_token)
            problem = answer.json() if answer.headers.get("content-type", "").endswith("json") else {}
            if answer.status_code == 403 and isinstance(problem, dict) and problem.get("rule") in REFUSALS:
                continue
            if r.method == "GET" and answer.status_code == 200 and not any(i in answer.text for i in stored):
                continue  # narrowed to the caller's own
            if answer.status_code == 404:
                not_found.setdefault((r.app, r.method, r.path), []).append((who, problem.get("rule")))
                continue
            failures.append(f"{r.app} {r.method} {r.path} as {who}: {answer.status_code} {answer.text[:160]}")
    refused_calls = calls
    # Insiders one at a time, those scoped to the target's own unit, team or assignment first: an office's calls
    # change its state (an assignment ended, an inspector exited) and would refuse them for that reason instead.
    for who, role, who_token in sorted(insiders(token, ids), key=lambda caller: caller[1] in OFFICE_ROLES):
        for r in found:
            if admitted(r, role) and inside(r, who, role):
                answer = call(r, who_token)
                if (
                    answer.status_code >= 500
                    or answer.status_code == 401
                    or (answer.status_code == 403 and answer.json().get("rule") in REFUSALS)
                ):
                    failures.append(
                        f"{r.app} {r.method} {r.path} as {who} (in scope): {answer.status_code} {answer.text[:160]}"
                    )
                key = (r.app, r.method, r.path)
                if key in not_found and who == f"admin of {COUNTY}" and answer.status_code != 404:
                    failures.extend(
                        f"{r.app} {r.method} {r.path} as {w}: 404 {rule} where its own office gets {answer.status_code}"
                        for w, rule in not_found[key]
                    )
    for client in clients.values():
        client.close()
    print(
        f"\n{len(found)} routes at stored targets: {refused_calls} calls from outside, {calls - refused_calls} from inside,"
        f" in {time.monotonic() - started:.1f}s"
    )
    assert not failures, f"{len(failures)} wrong answers:\n" + "\n".join(failures)
