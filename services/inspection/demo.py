"""Demo data for inspection in Bishan (璧山区): the 2026 work plan and a few supervision activities. Safe to repeat."""

from __future__ import annotations

PLAN_ITEMS = [
    {
        "kind": "special",
        "topic": "double_reduction",
        "title": "“双减”专项督导",
        "month": 3,
        "population": "全区义务教育学校",
    },
    {"kind": "comprehensive", "title": "中小学校综合督导", "month": 5, "population": "双随机抽取的学校"},
    {
        "kind": "duty_evaluation",
        "title": "区级部门履行教育职责评价",
        "month": 11,
        "population": "区政府教育督导委员会成员单位",
    },
]


def load(client, schools: list[dict], jurisdiction: str = "500120", year: int = 2026) -> int:
    """Load through the inspection API with `client` (an httpx.Client with an admin token); `schools` from the registry."""
    steps = 0

    def call(method: str, path: str, body: dict | None, key: str | None = None, done_if: tuple[str, ...] = ()) -> dict:
        nonlocal steps
        steps += 1
        response = client.request(method, path, json=body, headers={"Idempotency-Key": key} if key else {})
        if response.status_code in (200, 201):
            return response.json()
        if response.status_code == 409 and response.json().get("rule") in done_if:
            return {}
        raise RuntimeError(f"demo step {method} {path} failed: HTTP {response.status_code} {response.text}")

    plan = call(
        "PUT", f"/v1/plans/{jurisdiction}/{year}", {"title": f"璧山区{year}年教育督导工作计划"}, f"demo-plan-{year}"
    )
    if plan.get("status") == "draft" and not plan.get("items"):
        for i, item in enumerate(PLAN_ITEMS):
            call("POST", f"/v1/plans/{jurisdiction}/{year}/items", item, f"demo-plan-item-{year}-{i}")
        call(
            "POST",
            f"/v1/plans/{jurisdiction}/{year}/approval",
            {"approved_on": f"{year}-01-15"},
            f"demo-plan-approval-{year}",
        )
    for i, school in enumerate(schools[:2]):
        body = {
            "jurisdiction": jurisdiction,
            "kind": "special" if i else "comprehensive",
            "topic": "double_reduction" if i else None,
            "title": f"{school['name']}{'“双减”专项督导' if i else '综合督导'}",
            "target_kind": "school",
            "target_id": school["id"],
            "target_name": school["name"],
            "period": f"{year}-fall",
            "planned_month": f"{year}-10",
        }
        call("POST", "/v1/activities", body, f"demo-activity-{year}-{i}")
    return steps
