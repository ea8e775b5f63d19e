"""Demo data for Bishan District (璧山区, 500120): invented schools, inspectors, zones and committee, real code.

Creations carry fixed Idempotency-Keys and the other steps are idempotent or recognised as done,
so loading the demo twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import cycle

from dudao import jurisdiction as divisions
from services.registry.domain import Employment, Ownership, Stage

# Invented place-like names; any resemblance to a real school is accidental.
_PLACES = [
    "青岚",
    "翠屏",
    "云栖",
    "松涛",
    "枫林",
    "晓月",
    "临溪",
    "栖霞",
    "望江",
    "清泉",
    "鹿鸣",
    "碧波",
    "金桥",
    "玉泉",
    "石泉",
    "南苑",
    "北辰",
    "东篱",
    "西岭",
    "白鹭",
    "桂香",
    "竹韵",
    "荷塘",
    "梧桐",
    "锦绣",
    "星河",
    "明德",
    "育才",
    "启航",
    "朝阳",
    "春晖",
    "致远",
    "博雅",
    "弘毅",
    "知行",
    "新桥",
]
_SUFFIX = {
    Stage.kindergarten: "幼儿园",
    Stage.primary: "小学",
    Stage.junior_secondary: "初级中学",
    Stage.senior_secondary: "高级中学",
    Stage.nine_year: "九年制学校",
    Stage.twelve_year: "十二年制学校",
    Stage.complete_secondary: "中学",
    Stage.secondary_vocational: "职业学校",
    Stage.special_education: "特殊教育学校",
}
_ENROLMENT = {
    Stage.kindergarten: 260,
    Stage.primary: 1150,
    Stage.junior_secondary: 980,
    Stage.senior_secondary: 1800,
    Stage.nine_year: 1650,
    Stage.twelve_year: 2900,
    Stage.complete_secondary: 2300,
    Stage.secondary_vocational: 1400,
    Stage.special_education: 120,
}
_INSPECTORS = [
    "李明远",
    "王静怡",
    "张建国",
    "刘晓燕",
    "陈志强",
    "杨慧敏",
    "赵文博",
    "黄丽华",
    "周海涛",
    "吴秀兰",
    "徐振宇",
    "孙雅琴",
]


def schools(jurisdiction: str = "500120") -> Iterator[tuple[str, dict]]:
    """(idempotency key, SchoolCreate body) for 36 schools: every stage, public and private."""
    stages = [s for s in Stage for _ in range(4)]  # 9 stages x 4
    ownerships = cycle([Ownership.public, Ownership.public, Ownership.public, Ownership.private])
    for i, (place, stage) in enumerate(zip(_PLACES, stages, strict=True)):
        ownership = next(ownerships)
        prefix = "璧山区" if ownership is Ownership.public else "璧山"
        yield (
            f"demo-school-{jurisdiction}-{i:02d}",
            {
                "name": f"{prefix}{place}{_SUFFIX[stage]}",
                "jurisdiction": jurisdiction,
                "stage": stage.value,
                "ownership": ownership.value,
                "enrolment": _ENROLMENT[stage] + 7 * i,
            },
        )


def inspectors(jurisdiction: str = "500120") -> Iterator[tuple[str, dict]]:
    """(idempotency key, InspectorCreate body) for 12 inspectors, a third of them full-time."""
    for i, name in enumerate(_INSPECTORS):
        employment = Employment.full_time if i % 3 == 0 else Employment.part_time
        roles = ["government", "responsible"] + (["listed"] if i < 3 else []) + (["subject"] if i % 2 else [])
        yield (
            f"demo-inspector-{jurisdiction}-{i:02d}",
            {
                "name": name,
                "jurisdiction": jurisdiction,
                "employment": employment.value,
                "roles": roles,
                "public_contact": f"023-4140 {1000 + i}" if i < 3 else None,
            },
        )


# Zones of the demo district, and how the schools and inspectors are spread over them.
_ZONES = ["璧城责任区", "青杠责任区", "来凤责任区"]
_COMMITTEE = {
    "director": "分管教育副区长",
    "deputies": ["区政府办公室联系负责人", "区教委主任"],
    "member_units": [
        {"name": unit, "contact_person": f"{unit}联络员"}
        for unit in (
            "区委组织部",
            "区委宣传部",
            "区发展改革委",
            "区教委",
            "区公安局",
            "区财政局",
            "区人力社保局",
            "区卫生健康委",
        )
    ],
    "office": "区政府教育督导室",
    "chief_inspector": "区教委总督学",
    "deputy_chief_inspectors": ["区教委副总督学"],
}


class Step:
    """One demo command; `done_if` names the rules that mean it was already done by an earlier load."""

    def __init__(self, method: str, path: str, body: dict, key: str | None = None, done_if: tuple[str, ...] = ()):
        self.method, self.path, self.body, self.key, self.done_if = method, path, body, key, done_if


def load(client, jurisdiction: str = "500120", progress=lambda done, total: None) -> int:
    """Load the demo through the API with `client` (an httpx.Client with an admin token); safe to repeat."""
    steps_done = 0
    total = len(list(schools(jurisdiction))) + len(_INSPECTORS) * 5 + len(_ZONES) + 40

    def run(step: Step) -> dict:
        nonlocal steps_done
        headers = {"Idempotency-Key": step.key} if step.key else {}
        response = client.request(step.method, step.path, json=step.body, headers=headers)
        steps_done += 1
        progress(min(steps_done, total), total)
        if response.status_code in (200, 201):
            return response.json()
        if response.status_code == 409 and response.json().get("rule") in step.done_if:
            return {}
        raise RuntimeError(f"demo step {step.method} {step.path} failed: HTTP {response.status_code} {response.text}")

    school_ids = [run(Step("POST", "/v1/schools", body, key))["id"] for key, body in schools(jurisdiction)]
    zone_ids = [
        run(Step("POST", "/v1/zones", {"name": name, "jurisdiction": jurisdiction}, f"demo-zone-{jurisdiction}-{i}"))[
            "id"
        ]
        for i, name in enumerate(_ZONES)
    ]
    inspector_ids = []
    for i, (key, body) in enumerate(inspectors(jurisdiction)):
        inspector_id = run(Step("POST", "/v1/inspectors", body, key))["id"]
        inspector_ids.append(inspector_id)
        lifecycle = [
            ("appointment", {"term_no": 5, "term_start": "2024-01-01", "term_end": "2028-12-31"}),
            (
                "filing",
                {"filed_with": divisions.ancestors(jurisdiction)[0], "filed_on": "2024-01-15"},
            ),  # the level above
            ("activation", {"on": "2024-02-01"}),
        ]
        for action, payload in lifecycle:
            run(Step("POST", f"/v1/inspectors/{inspector_id}/{action}", payload, done_if=("inspector_lifecycle",)))
        if i % 2 == 0:
            training = {"kind": "pre_service", "title": "督学上岗培训", "hours": 24, "completed_on": "2024-01-20"}
            run(Step("POST", f"/v1/inspectors/{inspector_id}/trainings", training, f"demo-training-{jurisdiction}-{i}"))
    for z, zone_id in enumerate(zone_ids):
        listed = inspector_ids[z]
        run(Step("POST", f"/v1/zones/{zone_id}/listed-inspectors", {"inspector_id": listed}))
    for n, school_id in enumerate(school_ids):
        run(Step("PUT", f"/v1/schools/{school_id}/zone", {"zone_id": zone_ids[n % len(zone_ids)]}))
        run(
            Step(
                "PUT",
                f"/v1/schools/{school_id}/responsible-inspector",
                {"inspector_id": inspector_ids[n % len(inspector_ids)]},
            )
        )
    committee = run(Step("PUT", f"/v1/committees/{jurisdiction}", _COMMITTEE))
    if committee.get("version") == 1:  # meetings are recorded once, with the committee
        for month, topic in ((3, "专题研究“双减”督导"), (9, "专题研究义务教育优质均衡发展")):
            meeting = {"held_on": f"2026-{month:02d}-15", "topic": topic, "on_education": True}
            run(Step("POST", f"/v1/committees/{jurisdiction}/meetings", meeting))
    progress(total, total)
    return steps_done
