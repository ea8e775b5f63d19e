"""Policy profiles (政策参数): the rules that vary by place, versioned per jurisdiction, inherited downward."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from dudao import jurisdiction as divisions
from dudao.errors import Conflict, InvalidInput
from dudao.profiles import Effective, effective  # noqa: F401 - re-exported for the registry
from dudao.rules import require_name


@dataclass(frozen=True)
class PolicyKey:
    """One rule that varies by place: its type, bounds and what it means."""

    kind: type
    minimum: float
    maximum: float
    label_zh: str
    meaning: str
    stricter: str  # which way a lower level may move an upper level's value (HIGHER, LOWER or SOONER)


HIGHER, LOWER, SOONER = "higher", "lower", "sooner"  # SOONER: a lower number is stricter, and 0 (never) the loosest


KEYS: dict[str, PolicyKey] = {
    "inspector_school_ratio": PolicyKey(int, 1, 100, "督学与学校数配比(1:N)", "R1: one inspector per N schools", LOWER),
    "large_school_enrolment": PolicyKey(
        int,
        100,
        100_000,
        "学生数较多学校阈值",
        "R1: a school with at least this many pupils gets an inspector of its own (1:1)",
        LOWER,
    ),
    "full_time_share_min": PolicyKey(
        float, 0, 1, "专职督学最低占比", "R2: minimum share of full-time inspectors", HIGHER
    ),
    "government_inspectors_per_term_min": PolicyKey(
        int, 0, 10_000, "每届政府督学最低人数", "R3: minimum government inspectors appointed per term", HIGHER
    ),
    "subject_inspectors_per_term_min": PolicyKey(
        int, 0, 10_000, "每届学科督学最低人数", "R3: minimum subject inspectors appointed per term", HIGHER
    ),
    "pupils_per_school_supervisor": PolicyKey(
        int, 1, 100_000, "每名学校督导员对应学生数", "R4: one internal school supervisor per N pupils", LOWER
    ),
    "committee_education_meetings_min": PolicyKey(
        int, 0, 52, "督导委员会每年专题研究教育最少次数", "O1: minimum meetings on education a year", HIGHER
    ),
    "member_unit_activities_min": PolicyKey(
        int,
        0,
        100,
        "成员单位每年参加督导活动最少次数",
        "each member unit joins at least this many activities a year",
        HIGHER,
    ),
    "visits_per_school_per_semester_max": PolicyKey(
        int,
        1,
        50,
        "每学期每校督导次数上限",
        "frequency control: at most this many supervision visits per school per semester",
        LOWER,
    ),
    "duty_grade_excellent_min": PolicyKey(
        float, 0, 100, "履职评价优秀等次最低分", "a duty-evaluation score at least this is excellent", HIGHER
    ),
    "duty_grade_good_min": PolicyKey(
        float, 0, 100, "履职评价良好等次最低分", "a duty-evaluation score at least this is good", HIGHER
    ),
    "duty_grade_qualified_min": PolicyKey(
        float, 0, 100, "履职评价合格等次最低分", "a duty-evaluation score at least this is qualified", HIGHER
    ),
    "rectification_days": PolicyKey(
        int, 1, 365, "整改期限(天)", "default days a unit has to rectify a finding after feedback", LOWER
    ),
    "notice_days": PolicyKey(
        int,
        1,
        365,
        "督办整改期限(天)",
        "days a supervision notice (督办单) gives the unit after a missed deadline",
        LOWER,
    ),
    "interview_at_lapse": PolicyKey(
        int,
        0,
        20,
        "第几次逾期约谈",
        "escalation ladder: the missed deadline at which the unit's leaders are interviewed (0: never)",
        SOONER,
    ),
    "circular_at_lapse": PolicyKey(
        int,
        0,
        20,
        "第几次逾期通报",
        "escalation ladder: the missed deadline at which the unit is circulated (0: never)",
        SOONER,
    ),
    "recheck_after_days": PolicyKey(
        int, 1, 3650, "复查间隔(天)", "days after acceptance that a rectified item is checked again (回头看)", LOWER
    ),
    "restriction_days": PolicyKey(
        int,
        1,
        3650,
        "通报后限制期(天)",
        "days a circulated unit's leaders may not be commended, promoted or moved to key posts",
        HIGHER,
    ),
    "in_service_trainings_per_term_min": PolicyKey(
        int,
        0,
        100,
        "每届在岗培训最少次数",
        "each inspector takes at least this many in-service trainings a term",
        HIGHER,
    ),
}


def validate_values(values: Mapping[str, Any], field: str = "set") -> dict[str, int | float]:
    """Check keys and values against the catalogue; errors name the key and the rule."""
    checked: dict[str, int | float] = {}
    for key, value in values.items():
        spec = KEYS.get(key)
        if spec is None:
            raise InvalidInput(
                f"{key!r} is not a policy key; known keys: {', '.join(KEYS)}",
                field=f"{field}.{key}",
                rule="unknown_policy_key",
            )
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (spec.kind is int and not float(value).is_integer())
        ):
            raise InvalidInput(
                f"{key} must be {'a whole number' if spec.kind is int else 'a number'}",
                field=f"{field}.{key}",
                rule="policy_value_type",
            )
        if not spec.minimum <= value <= spec.maximum:
            raise InvalidInput(
                f"{key} must be between {spec.minimum:g} and {spec.maximum:g}",
                field=f"{field}.{key}",
                rule="policy_value_range",
            )
        checked[key] = spec.kind(value)
    return checked


def check_only_tightens(values: Mapping[str, Any], upper: Effective) -> None:
    """An upper level's value is a floor or a ceiling for the levels below (which, each key declares): a value that
    loosens it is a 409 naming the key, the upper value and the level that set it. Tightening is always allowed."""
    for key, value in values.items():
        bound = upper.get(key)
        if bound is None:
            continue
        way = KEYS[key].stricter
        if way == HIGHER:
            looser = value < bound
        elif way == LOWER:
            looser = value > bound
        else:  # SOONER: 0 (never) is looser than any lapse, else a later lapse is looser
            looser = bound != 0 and (value == 0 or value > bound)
        if looser:
            place, version = upper.sources[key]
            raise Conflict(
                f"{key} = {value:g} would loosen the {bound:g} set by {place} ({divisions.name_of(place)}, profile version"
                f" {version}); a lower level may only make it {'higher' if way == HIGHER else 'lower'}",
                field=f"set.{key}",
                rule="policy_loosened",
                key=key,
                upper_value=bound,
                set_by=place,
            )


def profile_id(code: str) -> UUID:
    """Each jurisdiction has one profile, so its id follows from the code."""
    return uuid5(NAMESPACE_URL, f"dudao:policy-profile:{code}")


class PolicyProfile(Aggregate):
    """A jurisdiction's own policy values (its overrides); the effective profile adds what it inherits."""

    @event("Created")
    def __init__(self, *, jurisdiction: str, values: dict[str, Any], reason: str, created_at: datetime):
        self.jurisdiction = jurisdiction
        self.values = dict(values)
        self.removed_keys: set[str] = set()

    @classmethod
    def create(cls, *, jurisdiction: str, values: Mapping[str, Any], reason: str, now: datetime) -> PolicyProfile:
        return cls._create(
            cls.Created,
            id=profile_id(jurisdiction),
            jurisdiction=jurisdiction,
            values=validate_values(values),
            reason=require_name(reason, "reason"),
            created_at=now,
        )

    def change(self, *, set_values: Mapping[str, Any], remove: list[str], reason: str, now: datetime) -> None:
        """Override some keys and stop overriding others; each change is a new version."""
        set_values = validate_values(set_values)
        for key in remove:
            if key not in KEYS:
                raise InvalidInput(f"{key!r} is not a policy key", field="remove", rule="unknown_policy_key")
        remove = sorted(k for k in set(remove) if k in self.values and k not in set_values)
        set_values = {k: v for k, v in set_values.items() if self.values.get(k) != v}
        if set_values or remove:
            self._changed(set_values=set_values, removed=remove, reason=require_name(reason, "reason"), changed_at=now)

    @event("Changed")
    def _changed(self, set_values: dict[str, Any], removed: list[str], reason: str, changed_at: datetime) -> None:
        self.values.update(set_values)
        for key in removed:
            self.values.pop(key, None)
        self.removed_keys = getattr(self, "removed_keys", set()) | set(removed)
        self.removed_keys -= set(set_values)
