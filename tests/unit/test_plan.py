"""The annual work plan: every allowed and forbidden transition, item rules, upward reporting, automatic items."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder

from dudao.errors import InvalidInput
from dudao.rules import RuleViolation
from dudao.store import DateAsISO
from services.inspection.domain.activity_terms import ActivityKind, SpecialTopic, TargetKind
from services.inspection.domain.plan import TRANSITIONS, PlanStatus, WorkPlan, plan_id

pytestmark = pytest.mark.unit

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
DAY = date(2026, 1, 20)
BISHAN, CHONGQING = "500120", "500000"


def drafted(**overrides) -> WorkPlan:
    return WorkPlan.draft(
        **({"jurisdiction": BISHAN, "year": 2026, "title": "璧山区2026年度教育督导工作计划", "now": NOW} | overrides)
    )


def school(n: int = 1) -> dict:
    return {"target_kind": TargetKind.school, "target_id": f"school-{n}", "target_name": f"璧山区第{n}小学"}


def item(item_id: str = "i1", **overrides) -> dict:
    """A comprehensive supervision of one school in October."""
    args = {
        "item_id": item_id,
        "kind": ActivityKind.comprehensive,
        "topic": None,
        "month": 10,
        "targets": [school()],
        "title": "学校综合督导",
    }
    return args | overrides


def automatic(item_id: str = "term-end-school-7", **overrides) -> dict:
    args = {
        "item_id": item_id,
        "kind": ActivityKind.principal_term_end,
        "month": 9,
        "target": school(7),
        "title": "璧山区第7小学校长任期结束综合督导",
        "source": "principal_term_end",
    }
    return args | overrides


def approve(plan: WorkPlan, upper: str = CHONGQING) -> None:
    plan.approve(approved_by="局长 李明", approved_on=DAY, upper_jurisdiction=upper)


def refused(plan: WorkPlan, command, exception=RuleViolation):
    """Run `command` expecting a refusal that records nothing; return the error."""
    version, items = plan.version, plan.items
    with pytest.raises(exception) as caught:
        command()
    assert plan.version == version and plan.items == items, "a refused command must record nothing"
    return caught.value


def event_names(plan: WorkPlan) -> list[str]:
    return [type(e).__name__ for e in plan.collect_events()]


# --- the lifecycle walk -------------------------------------------------------------------------------------------

COMMANDS = {
    "add_item": lambda p: p.add_item(**item(f"added-{p.version}")),
    "remove_item": lambda p: p.remove_item(item_id=p.items[0]["item_id"], reason="与专项督导合并"),
    "approve": approve,
    "revise": lambda p: p.revise(reason="新增双减专项督导"),
}
S = PlanStatus
RESULTING = {
    "add_item": None,
    "remove_item": None,
    "approve": S.approved,
    "revise": S.revised,
}  # None: status unchanged
PATHS = {S.draft: [], S.approved: ["approve"], S.revised: ["approve", "revise"]}
assert set(COMMANDS) == set(TRANSITIONS) == set(RESULTING)
assert set(PATHS) == set(PlanStatus)


def plan_in(state: PlanStatus) -> WorkPlan:
    """A plan holding two items, brought to `state` the shortest way."""
    plan = drafted()
    plan.add_item(**item("i1"))
    plan.add_item(**item("i2", targets=[school(2)]))
    for command in PATHS[state]:
        COMMANDS[command](plan)
    assert plan.status is state
    return plan


CASES = [(command, state) for command in COMMANDS for state in PlanStatus]


@pytest.mark.parametrize(("command", "state"), CASES, ids=[f"{c}-from-{s}" for c, s in CASES])
def test_every_lifecycle_command_from_every_state(command, state):
    plan = plan_in(state)
    if state in TRANSITIONS[command]:
        version = plan.version
        COMMANDS[command](plan)
        assert plan.status is (RESULTING[command] or state)
        assert plan.version == version + 1
    else:
        error = refused(plan, lambda: COMMANDS[command](plan))
        assert (error.rule, error.status) == ("plan_lifecycle", 409)
        assert plan.status is state


def test_the_table_is_the_documented_lifecycle():
    """The walk checks the aggregate against its table; this pins the table itself."""
    assert TRANSITIONS == {
        "add_item": {S.draft, S.revised},
        "remove_item": {S.draft, S.revised},
        "approve": {S.draft, S.revised},
        "revise": {S.approved},
    }


def test_a_refused_transition_names_the_command_and_the_state():
    error = refused(plan := plan_in(S.approved), lambda: plan.add_item(**item("late")))
    assert error.field == "status"
    assert error.extra == {"command": "add_item", "status_now": "approved"}


def test_statuses_have_chinese_labels():
    assert [s.label_zh for s in PlanStatus] == ["草拟", "已审定", "已调整"]


# --- drafting -----------------------------------------------------------------------------------------------------


def test_a_draft_is_identified_by_its_jurisdiction_and_year():
    plan = drafted()
    assert plan.id == plan_id(BISHAN, 2026)
    assert (plan.jurisdiction, plan.year, plan.status, plan.items) == (BISHAN, 2026, S.draft, [])
    assert event_names(plan) == ["Drafted"]


def test_plan_id_is_stable_and_one_per_jurisdiction_and_year():
    assert plan_id(BISHAN, 2026) == plan_id(BISHAN, 2026)
    assert str(plan_id(BISHAN, 2026)) == "64b33c64-0532-59b1-9316-35e83ab9acbc", "stored plans are found by this id"
    assert len({plan_id(BISHAN, 2026), plan_id(BISHAN, 2027), plan_id(CHONGQING, 2026)}) == 3


@pytest.mark.parametrize("year", [1999, 2101, "2026", 2026.0, True, None])
def test_a_plan_year_is_from_2000_to_2100(year):
    with pytest.raises(InvalidInput) as caught:
        drafted(year=year)
    assert (caught.value.rule, caught.value.field) == ("year_range", "year")


@pytest.mark.parametrize("year", [2000, 2100])
def test_the_year_range_includes_its_ends(year):
    assert drafted(year=year).year == year


@pytest.mark.parametrize(("field", "value"), [("jurisdiction", "bishan"), ("jurisdiction", "5001"), ("title", "  ")])
def test_drafting_refuses_bad_input(field, value):
    with pytest.raises(InvalidInput) as caught:
        drafted(**{field: value})
    assert caught.value.field == field


# --- items --------------------------------------------------------------------------------------------------------


def test_an_item_is_recorded_with_plain_values():
    plan = drafted()
    plan.add_item(
        **item(kind=ActivityKind.special, topic=SpecialTopic.double_reduction, month=3, targets=[school(1), school(2)])
    )
    assert plan.items == [
        {
            "item_id": "i1",
            "kind": "special",
            "topic": "double_reduction",
            "month": 3,
            "targets": [
                {"target_kind": "school", "target_id": "school-1", "target_name": "璧山区第1小学"},
                {"target_kind": "school", "target_id": "school-2", "target_name": "璧山区第2小学"},
            ],
            "population": None,
            "title": "学校综合督导",
            "source": "plan",
            "automatic": False,
        }
    ]
    assert all(type(v) is str for v in (plan.items[0]["kind"], plan.items[0]["topic"], plan.items[0]["source"]))
    assert event_names(plan) == ["Drafted", "ItemAdded"]


def test_an_item_may_describe_a_population_instead_of_naming_targets():
    plan = drafted()
    plan.add_item(**item(kind=ActivityKind.routine, targets=None, population="  全区义务教育学校 "))
    assert (plan.items[0]["targets"], plan.items[0]["population"]) == ([], "全区义务教育学校")


@pytest.mark.parametrize(
    ("targets", "population"),
    [(None, None), ([], None), ([], "   "), ([school()], "全区义务教育学校")],
    ids=["neither", "empty-list", "blank-population", "both"],
)
def test_an_item_names_targets_or_a_population(targets, population):
    plan = drafted()
    error = refused(plan, lambda: plan.add_item(**item(targets=targets, population=population)), InvalidInput)
    assert (error.rule, error.field) == ("targets_or_population", "targets")


def test_a_special_item_needs_a_topic():
    plan = drafted()
    error = refused(plan, lambda: plan.add_item(**item(kind=ActivityKind.special)))
    assert (error.rule, error.field) == ("topic_required_for_special", "topic")


@pytest.mark.parametrize("kind", [k for k in ActivityKind if k is not ActivityKind.special])
def test_only_a_special_item_has_a_topic(kind):
    plan = drafted()
    schools_only = kind in (ActivityKind.comprehensive, ActivityKind.routine, ActivityKind.principal_term_end)
    target = {**school(), "target_kind": TargetKind.school if schools_only else TargetKind.government}
    error = refused(plan, lambda: plan.add_item(**item(kind=kind, topic=SpecialTopic.safety, targets=[target])))
    assert (error.rule, error.field) == ("topic_only_for_special", "topic")


def test_a_topic_outside_the_list_is_invalid_input():
    plan = drafted()
    error = refused(plan, lambda: plan.add_item(**item(kind=ActivityKind.special, topic="weather")), InvalidInput)
    assert error.field == "topic"


@pytest.mark.parametrize("month", [0, 13, -1, "10", 10.0, True, None])
def test_an_item_month_is_from_1_to_12(month):
    plan = drafted()
    error = refused(plan, lambda: plan.add_item(**item(month=month)), InvalidInput)
    assert (error.rule, error.field) == ("month_range", "month")


@pytest.mark.parametrize("month", [1, 12])
def test_the_month_range_includes_its_ends(month):
    plan = drafted()
    plan.add_item(**item(month=month))
    assert plan.items[0]["month"] == month


def test_an_item_id_is_used_once():
    plan = drafted()
    plan.add_item(**item("i1"))
    error = refused(plan, lambda: plan.add_item(**item("i1", month=11)))
    assert (error.rule, error.field, error.extra) == ("item_exists", "item_id", {"item_id": "i1"})


def test_a_removed_item_id_is_not_reused():
    plan = drafted()
    plan.add_item(**item("i1"))
    plan.remove_item(item_id="i1", reason="重复")
    error = refused(plan, lambda: plan.add_item(**item("i1")))
    assert error.rule == "item_exists" and "removed" in error.detail


def test_a_routine_item_supervises_schools_only():
    plan = drafted()
    government = {"target_kind": "government", "target_id": BISHAN, "target_name": "璧山区人民政府"}
    error = refused(plan, lambda: plan.add_item(**item(kind=ActivityKind.routine, targets=[school(), government])))
    assert (error.rule, error.field) == ("target_kind_for_activity", "targets.1.target_kind")


@pytest.mark.parametrize(
    ("targets", "field"),
    [
        ([{**school(), "target_kind": "hospital"}], "targets.0.target_kind"),
        ([school(), {**school(2), "target_id": "  "}], "targets.1.target_id"),
        ([{**school(), "target_name": None}], "targets.0.target_name"),
        (["school-1"], "targets.0"),
        ([school(1), school(1)], "targets"),
    ],
    ids=["kind", "id", "name", "not-an-object", "twice"],
)
def test_targets_are_checked(targets, field):
    plan = drafted()
    error = refused(plan, lambda: plan.add_item(**item(targets=targets)), InvalidInput)
    assert error.field == field


@pytest.mark.parametrize(
    ("field", "value"),
    [("item_id", " "), ("title", ""), ("kind", "inspection"), ("source", "rumour"), ("population", 3)],
)
def test_an_item_refuses_bad_input(field, value):
    plan = drafted()
    error = refused(plan, lambda: plan.add_item(**item(**{field: value})), InvalidInput)
    assert error.field == field


def test_items_are_copies():
    plan = drafted()
    plan.add_item(**item())
    plan.items[0]["targets"].clear()
    assert plan.items[0]["targets"] == [
        {"target_kind": "school", "target_id": "school-1", "target_name": "璧山区第1小学"}
    ]


def test_removing_an_item_says_why():
    plan = plan_in(S.draft)
    plan.remove_item(item_id="i1", reason="与专项督导合并")
    assert [i["item_id"] for i in plan.items] == ["i2"]
    assert event_names(plan)[-1] == "ItemRemoved"


def test_only_an_item_in_the_plan_can_be_removed():
    plan = plan_in(S.draft)
    error = refused(plan, lambda: plan.remove_item(item_id="nope", reason="重复"))
    assert (error.rule, error.field) == ("unknown_item", "item_id")


def test_a_removal_needs_a_reason():
    plan = plan_in(S.draft)
    error = refused(plan, lambda: plan.remove_item(item_id="i1", reason=" "), InvalidInput)
    assert error.field == "reason"


# --- approval: reporting upward (O2) ------------------------------------------------------------------------------


def approved_event(plan: WorkPlan):
    return [e for e in plan.collect_events() if type(e).__name__ == "Approved"][-1]


def test_approval_reports_the_whole_plan_to_the_body_above():
    plan = plan_in(S.draft)
    approve(plan)
    event = approved_event(plan)
    assert (event.jurisdiction, event.year, event.title) == (BISHAN, 2026, "璧山区2026年度教育督导工作计划")
    assert (event.approved_by, event.approved_on, event.report_to) == ("局长 李明", DAY, CHONGQING)
    assert event.items == plan.items and [i["item_id"] for i in event.items] == ["i1", "i2"]
    assert (plan.status, plan.report_to, plan.approved_on) == (S.approved, CHONGQING, DAY)


def test_the_approved_event_is_plain_json():
    plan = plan_in(S.draft)
    approve(plan)
    event = approved_event(plan)
    assert json.loads(json.dumps(event.items)) == event.items


def test_a_province_reports_to_the_national_body():
    plan = drafted(jurisdiction="460000")
    plan.add_item(**item())
    approve(plan, upper="000000")
    assert plan.report_to == "000000"


def test_an_empty_plan_cannot_be_approved():
    plan = drafted()
    error = refused(plan, lambda: approve(plan))
    assert (error.rule, error.field) == ("empty_plan", "items")


def test_a_plan_emptied_by_removals_cannot_be_approved():
    plan = plan_in(S.draft)
    plan.remove_item(item_id="i1", reason="取消")
    plan.remove_item(item_id="i2", reason="取消")
    assert refused(plan, lambda: approve(plan)).rule == "empty_plan"


@pytest.mark.parametrize("upper", [BISHAN, "110000", "530100"], ids=["itself", "another-province", "another-city"])
def test_a_plan_is_reported_to_a_body_above_it(upper):
    plan = plan_in(S.draft)
    error = refused(plan, lambda: approve(plan, upper=upper))
    assert (error.rule, error.field) == ("report_upward", "upper_jurisdiction")
    assert plan.status is S.draft


@pytest.mark.parametrize("upper", ["5000", "500000000", "abcdef", "", None, 500000])
def test_the_body_above_is_named_by_a_6_digit_code(upper):
    plan = plan_in(S.draft)
    error = refused(plan, lambda: approve(plan, upper=upper), InvalidInput)
    assert (error.rule, error.field) == ("division_code", "upper_jurisdiction")


def test_approval_names_who_approved():
    plan = plan_in(S.draft)
    error = refused(
        plan, lambda: plan.approve(approved_by=" ", approved_on=DAY, upper_jurisdiction=CHONGQING), InvalidInput
    )
    assert error.field == "approved_by"


# --- revision -----------------------------------------------------------------------------------------------------


def test_a_revised_plan_is_edited_and_approved_again_with_its_new_items():
    plan = plan_in(S.approved)
    plan.revise(reason="新增双减专项督导")
    assert (plan.status, plan.revision_reason) == (S.revised, "新增双减专项督导")
    plan.add_item(**item("i3", kind=ActivityKind.special, topic=SpecialTopic.double_reduction))
    plan.remove_item(item_id="i1", reason="并入专项督导")
    approve(plan)
    events = [e for e in plan.collect_events() if type(e).__name__ in ("Approved", "Revised")]
    assert [type(e).__name__ for e in events] == ["Approved", "Revised", "Approved"]
    assert [i["item_id"] for i in events[-1].items] == ["i2", "i3"]


def test_a_revision_needs_a_reason():
    plan = plan_in(S.approved)
    error = refused(plan, lambda: plan.revise(reason=""), InvalidInput)
    assert error.field == "reason"


# --- automatic items (S3) -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("state", list(PlanStatus))
def test_an_automatic_item_is_added_in_any_state_without_reapproval(state):
    plan = plan_in(state)
    plan.add_automatic_item(**automatic())
    assert plan.status is state
    added = plan.items[-1]
    assert (added["item_id"], added["kind"], added["source"], added["automatic"]) == (
        "term-end-school-7",
        "principal_term_end",
        "principal_term_end",
        True,
    )
    assert added["targets"] == [{"target_kind": "school", "target_id": "school-7", "target_name": "璧山区第7小学"}]
    assert event_names(plan)[-1] == "ItemAddedAutomatically"


def test_an_automatic_item_is_added_once():
    plan = plan_in(S.approved)
    plan.add_automatic_item(**automatic())
    version = plan.version
    plan.add_automatic_item(**automatic())
    plan.add_automatic_item(**automatic(month=10))
    assert plan.version == version
    assert [i["item_id"] for i in plan.items].count("term-end-school-7") == 1


def test_an_automatic_item_does_not_duplicate_a_planned_one():
    plan = plan_in(S.draft)
    version = plan.version
    plan.add_automatic_item(**automatic("i1"))
    assert plan.version == version and plan.items[0]["automatic"] is False


def test_a_removed_automatic_item_does_not_come_back_on_redelivery():
    plan = drafted()
    plan.add_automatic_item(**automatic())
    plan.remove_item(item_id="term-end-school-7", reason="校长连任")
    plan.add_automatic_item(**automatic())
    assert plan.items == []


def test_an_automatic_item_follows_the_item_rules():
    plan = plan_in(S.approved)
    assert refused(plan, lambda: plan.add_automatic_item(**automatic(kind=ActivityKind.special))).rule == (
        "topic_required_for_special"
    )
    assert refused(plan, lambda: plan.add_automatic_item(**automatic(month=0)), InvalidInput).rule == "month_range"
    government = {"target_kind": "government", "target_id": BISHAN, "target_name": "璧山区人民政府"}
    assert refused(plan, lambda: plan.add_automatic_item(**automatic(target=government))).rule == (
        "target_kind_for_activity"
    )
    assert refused(plan, lambda: plan.add_automatic_item(**automatic(source="rumour")), InvalidInput).field == "source"


# --- events rebuild the plan --------------------------------------------------------------------------------------


class PlanStore(Application):
    """An in-memory store with the service's transcodings: the events must survive JSON."""

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())


def test_the_stored_events_rebuild_the_same_plan():
    plan = plan_in(S.revised)
    plan.add_automatic_item(**automatic())
    plan.remove_item(item_id="i1", reason="取消")
    store = PlanStore()
    store.save(plan)
    again = store.repository.get(plan.id)
    assert (again.status, again.items, again.report_to, again.approved_on) == (S.revised, plan.items, CHONGQING, DAY)
    assert again.version == plan.version
    again.add_automatic_item(**automatic())  # the ids held, removed ones included, are rebuilt too
    again.add_automatic_item(**automatic("i1"))
    assert again.version == plan.version
