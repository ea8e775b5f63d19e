"""Builders the tests share: a school, an active inspector, what inspection has copied, an activity walked to its
report. Each talks to the real services it is handed (a test client, the settings of the session's servers)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import psycopg

from dudao.callers import Principal
from dudao.commands import Caller
from dudao.events import Envelope
from services.inspection.app import build as build_inspection
from services.monitoring.domain.definition import Definition
from tests.conftest import eventually

COMMITTEE = {
    "director": "分管副区长",
    "deputies": ["区教委主任"],
    "member_units": [{"name": "区委组织部", "contact_person": "张三"}, {"name": "区财政局", "contact_person": "李四"}],
    "office": "区政府教育督导室",
    "chief_inspector": "总督学",
    "deputy_chief_inspectors": [],
}
DRAW = {
    "jurisdiction": "500120",
    "purpose": "2026年秋季学期综合督导双随机抽查",
    "period": "2026-fall",
    "targets": {"stages": ["primary"], "count": 3},
    "team": {"size": 2, "max_load": 2},
}
TERM = {"term_no": 5, "term_start": "2024-01-01", "term_end": "2028-12-31"}


def caller(
    jur: str = "500120", sub: str = "tester", roles: tuple[str, ...] = ("admin",), unit: str | None = None, **given
) -> Caller:
    """A caller as a route would make one (`given`: envelope, expected_version, new_id), to call an application
    method directly."""
    principal = Principal(sub=sub, roles=frozenset(roles), jur=jur, unit=unit, writing=True)
    return Caller(principal, given.pop("envelope", None) or Envelope.for_request(actor=sub, jurisdiction=jur), **given)


def school(client, name: str, jur: str = "500120", enrolment: int = 800, stage: str = "primary") -> str:
    body = {"name": name, "jurisdiction": jur, "stage": stage, "ownership": "public", "enrolment": enrolment}
    response = client.post("/v1/schools", json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def active_inspector(client, name: str, jur: str = "500120", employment: str = "part_time", **profile) -> str:
    body = {"name": name, "jurisdiction": jur, "employment": employment} | profile
    inspector_id = client.post("/v1/inspectors", json=body).json()["id"]
    upper = "500000" if jur.startswith("50") else jur[:2] + "0000"
    for path, payload in (
        ("appointment", TERM),
        ("filing", {"filed_with": upper, "filed_on": "2024-01-10"}),
        ("activation", {"on": "2024-01-15"}),
    ):
        response = client.post(f"/v1/inspectors/{inspector_id}/{path}", json=payload)
        assert response.status_code == 200, response.text
    return inspector_id


def projected(client, path: str, check, what: str):
    return eventually(lambda: (r := client.get(path)).status_code == 200 and check(r.json()) and r.json(), what=what)


def copied(settings, table: str) -> int:
    with psycopg.connect(settings.database_url) as conn:
        if conn.execute(f"SELECT to_regclass('inspection.{table}')").fetchone()[0] is None:
            return 0
        return conn.execute(f"SELECT count(*) FROM inspection.{table}").fetchone()[0]


def in_copy(settings, table: str, row_id: str, status: str | None = None) -> bool:
    with psycopg.connect(settings.database_url) as conn:
        if conn.execute(f"SELECT to_regclass('inspection.{table}')").fetchone()[0] is None:
            return False
        found = conn.execute(
            f"SELECT {'status' if status else '1'} FROM inspection.{table} WHERE id = %s", (row_id,)
        ).fetchone()
    return found is not None and (status is None or found[0] == status)


def copied_school(reg, settings, name: str, jur: str = "500120", **details) -> str:
    """A school registered and already in inspection's copy of the registry: what an activity may supervise."""
    school_id = school(reg, name, jur, **details)
    eventually(lambda: in_copy(settings, "school_copy", school_id), what=f"{name} in inspection's copy of the registry")
    return school_id


def copied_inspector(reg, settings, name: str, jur: str = "500120", **profile) -> str:
    """An active inspector, already active in inspection's copy of the registry: who may serve on a team."""
    inspector_id = active_inspector(reg, name, jur, **profile)
    eventually(
        lambda: in_copy(settings, "inspector_copy", inspector_id, "active"), what=f"{name} active in inspection's copy"
    )
    return inspector_id


def ready(registry, token, settings, name: str = "璧山区青岚小学", jur: str = "500120", **details) -> tuple[str, str]:
    """A school and an active inspector of `jur`, both in inspection's copy: (school id, inspector id), what a visit needs."""
    with registry.client(token(jur=jur)) as reg:
        return copied_school(reg, settings, name, jur, **details), copied_inspector(reg, settings, "李明远", jur)


def activity(**overrides) -> dict:
    return {
        "jurisdiction": "500120",
        "kind": "routine",
        "title": "经常性督导",
        "target_kind": "school",
        "target_id": "s-1",
        "target_name": "璧山区青岚小学",
        "period": "2026-fall",
        "planned_month": "2026-10",
    } | overrides


def issued(
    inspection, registry, token, settings, name: str, description: str, jur: str = "500120", **planned
) -> tuple[str, str]:
    """A school of `jur` with a report issued on it, one finding to rectify: (school id, the activity's location)."""
    school_id, leader = ready(registry, token, settings, name, jur)
    body = activity(jurisdiction=jur, target_id=school_id, target_name=name) | planned
    with inspection.client(token(jur=jur)) as client:
        planned = client.post("/v1/activities", json=body)
        assert planned.status_code == 201, planned.text
        walk_to_issue(client, planned.headers["Location"], leader, description)
    return school_id, planned.headers["Location"]


def walk_to_issue(
    client,
    location: str,
    leader: str,
    description: str,
    *,
    notified: str = "2026-10-08",
    on_site: str = "2026-10-10",
    issued: str = "2026-10-20",
) -> None:
    for path, body in (
        ("team", {"leader_id": leader}),
        ("notice", {"notified_on": notified}),
        ("on-site", {"on": on_site}),
        (
            "findings",
            {
                "findings": [
                    {
                        "area": "teacher_ethics",
                        "severity": "grave",
                        "description": description,
                        "needs_rectification": True,
                    }
                ]
            },
        ),
        ("report/draft", {"summary": "草稿"}),
        ("report/approval", None),
        ("report/issue", {"issued_on": issued}),
    ):
        assert client.post(f"{location}/{path}", json=body).status_code == 200, path


def inspection_events(settings, kind: str) -> int:
    with psycopg.connect(settings.database_url) as conn:
        return conn.execute(
            "SELECT count(*) FROM inspection.inspection_events WHERE topic LIKE %s", (f"%{kind}",)
        ).fetchone()[0]


# --- accountability, the audit and the gateway ----------------------------------------------------------


def move_to(day: date, *apps) -> None:
    for served in apps:
        served.app.state.clock.set_today(day)


def open_case(
    settings, serve, token, registry, accountability, *, target_name: str, target_id: str | None = None
) -> dict:
    """Issue a report on the target (a new public school unless given) in inspection and wait for its case to open."""
    inspection = serve(build_inspection(settings))
    with registry.client(token()) as reg:
        target_id = target_id or school(reg, target_name)
        leader = copied_inspector(reg, settings, "李明远")
    eventually(lambda: in_copy(settings, "school_copy", target_id), what=f"{target_name} in inspection's copy")
    with inspection.client(token()) as client:
        location = client.post("/v1/activities", json=activity(target_id=target_id, target_name=target_name)).headers[
            "Location"
        ]
        walk_to_issue(client, location, leader, "消防通道堆放杂物")
    with accountability.client(token()) as client:
        [case] = eventually(
            lambda: client.get("/v1/cases", params={"unit_id": target_id}).json()["items"], what="the case"
        )
        eventually(lambda: client.get("/v1/summary").json()["items"] >= 1, what="the items read model")
    with psycopg.connect(settings.database_url) as conn:
        eventually(
            lambda: conn.execute("SELECT count(*) FROM accountability.profile_copy").fetchone()[0] >= 3, what="profiles"
        )
    return case


def verify(settings, *services: str) -> subprocess.CompletedProcess:
    env = os.environ | {"DATABASE_URL": settings.database_url, "NATS_URL": settings.nats_url}
    return subprocess.run(
        [sys.executable, "-m", "dudao_cli", "audit", "verify", *services],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def graphql(gateway, token: str | None, query: str, variables: dict | None = None) -> dict:
    with gateway.client(token) as client:
        response = client.post("/graphql", json={"query": query, "variables": variables or {}})
    assert response.status_code == 200, response.text
    return response.json()


# --- monitoring: the shipped balanced-development framework and the hand-worked county of six schools -----------

SHIPPED = Path(__file__).resolve().parents[1] / "services" / "monitoring" / "frameworks"


def shipped(code: str) -> Definition:
    return Definition.parse(json.loads((SHIPPED / f"{code}.json").read_text(encoding="utf-8")))


BALANCED = shipped("balanced_development")


def school_values(pupils, fulltime, qualified, key, pe_arts, floor, ground, equipment, classrooms) -> dict:
    return {
        "pupils": pupils,
        "fulltime_teachers": fulltime,
        "qualified_teachers": qualified,
        "key_teachers": key,
        "pe_arts_teachers": pe_arts,
        "teaching_floor_area": floor,
        "sports_ground_area": ground,
        "equipment_value": equipment,
        "multimedia_classrooms": classrooms,
    }


# The county. Per-stage inputs are {stage: count}; floor area, ground, equipment and classrooms are school-wide.
#   A primary        400 pupils
#   B primary       1000 pupils
#   C junior         800 pupils
#   D nine-year      600 primary + 400 junior: weighted 600×1 + 400×1.1 = 1040; primary share 600/1040, junior 440/1040
#   E complete sec.  600 junior + 500 senior: weighted 600×1 + 500×1.2 = 1200; junior share 600/1200 = 0.5 (senior dropped)
#   F junior         400 pupils
COUNTY = {
    "A": (
        "primary",
        school_values(
            {"primary": 400},
            {"primary": 24},
            {"primary": 20},
            {"primary": 8},
            {"primary": 4},
            2400,
            4000,
            1_000_000,
            10,
        ),
    ),
    "B": (
        "primary",
        school_values(
            {"primary": 1000},
            {"primary": 60},
            {"primary": 50},
            {"primary": 10},
            {"primary": 10},
            4000,
            10000,
            2_500_000,
            25,
        ),
    ),
    "C": (
        "junior_secondary",
        school_values(
            {"junior_secondary": 800},
            {"junior_secondary": 60},
            {"junior_secondary": 48},
            {"junior_secondary": 12},
            {"junior_secondary": 8},
            4640,
            8800,
            2_200_000,
            22,
        ),
    ),
    "D": (
        "nine_year",
        school_values(
            {"primary": 600, "junior_secondary": 400},
            {"primary": 36, "junior_secondary": 30},
            {"primary": 30, "junior_secondary": 24},
            {"primary": 6, "junior_secondary": 6},
            {"primary": 6, "junior_secondary": 4},
            10400,
            10400,
            2_600_000,
            26,
        ),
    ),
    "E": (
        "complete_secondary",
        school_values(
            {"junior_secondary": 600, "senior_secondary": 500},
            {"junior_secondary": 45},
            {"junior_secondary": 36},
            {"junior_secondary": 9},
            {"junior_secondary": 6},
            12000,
            13200,
            3_300_000,
            33,
        ),
    ),
    "F": (
        "junior_secondary",
        school_values(
            {"junior_secondary": 400},
            {"junior_secondary": 30},
            {"junior_secondary": 24},
            {"junior_secondary": 6},
            {"junior_secondary": 4},
            2400,
            4400,
            800_000,
            11,
        ),
    ),
}
