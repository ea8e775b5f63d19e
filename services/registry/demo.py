"""Demo data for Bishan District (璧山区, 500120): invented schools and inspectors, real district code.

Each entry carries a fixed Idempotency-Key, so loading the demo twice registers nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import cycle

from services.registry.domain import Employment, Ownership, Stage

# Invented place-like names; any resemblance to a real school is accidental.
_PLACES = [
    "青岚", "翠屏", "云栖", "松涛", "枫林", "晓月", "临溪", "栖霞", "望江", "清泉", "鹿鸣", "碧波",
    "金桥", "玉泉", "石泉", "南苑", "北辰", "东篱", "西岭", "白鹭", "桂香", "竹韵", "荷塘", "梧桐",
    "锦绣", "星河", "明德", "育才", "启航", "朝阳", "春晖", "致远", "博雅", "弘毅", "知行", "新桥",
]  # fmt: skip
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
    "李明远", "王静怡", "张建国", "刘晓燕", "陈志强", "杨慧敏",
    "赵文博", "黄丽华", "周海涛", "吴秀兰", "徐振宇", "孙雅琴",
]  # fmt: skip


def schools(jurisdiction: str = "500120") -> Iterator[tuple[str, dict]]:
    """(idempotency key, SchoolCreate body) for 36 schools: every stage, public and private."""
    stages = [s for s in Stage for _ in range(4)]  # 9 stages x 4
    ownerships = cycle([Ownership.public, Ownership.public, Ownership.public, Ownership.private])
    for i, (place, stage) in enumerate(zip(_PLACES, stages, strict=True)):
        ownership = next(ownerships)
        prefix = "璧山区" if ownership is Ownership.public else "璧山"
        yield f"demo-school-{jurisdiction}-{i:02d}", {
            "name": f"{prefix}{place}{_SUFFIX[stage]}",
            "jurisdiction": jurisdiction,
            "stage": stage.value,
            "ownership": ownership.value,
            "enrolment": _ENROLMENT[stage] + 37 * i,
        }


def inspectors(jurisdiction: str = "500120") -> Iterator[tuple[str, dict]]:
    """(idempotency key, InspectorCreate body) for 12 inspectors, a third of them full-time."""
    for i, name in enumerate(_INSPECTORS):
        employment = Employment.full_time if i % 3 == 0 else Employment.part_time
        yield f"demo-inspector-{jurisdiction}-{i:02d}", {
            "name": name,
            "jurisdiction": jurisdiction,
            "employment": employment.value,
        }


def commands(jurisdiction: str = "500120") -> list[tuple[str, str, dict]]:
    """Every demo command as (path, idempotency key, body)."""
    return [("/v1/schools", k, b) for k, b in schools(jurisdiction)] + [
        ("/v1/inspectors", k, b) for k, b in inspectors(jurisdiction)
    ]
