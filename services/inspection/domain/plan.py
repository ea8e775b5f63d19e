"""The annual work plan (年度督导工作计划): drafted, approved and reported one level up (DOMAIN O2), revised when needed."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from dudao import jurisdiction as divisions
from dudao.errors import InvalidInput
from dudao.rules import Labelled, RuleViolation, check_transition, choice, require_name, text
from services.inspection.domain.activity import TARGETS
from services.inspection.domain.activity_terms import ActivityKind, Source, SpecialTopic, TargetKind

FIRST_YEAR, LAST_YEAR = 2000, 2100


def plan_id(jurisdiction: str, year: int) -> UUID:
    """One work plan per jurisdiction and year, so its id follows from the pair."""
    return uuid5(NAMESPACE_URL, f"dudao:work-plan:{jurisdiction}:{year}")


class PlanStatus(Labelled):
    """Where a work plan stands; a revised plan is a new draft that must be approved again."""

    draft = "draft", "草拟"
    approved = "approved", "已审定"
    revised = "revised", "已调整"


P = PlanStatus
EDITABLE = frozenset({P.draft, P.revised})
# Which states each lifecycle command may start from. A walk of this table is in the tests.
# Items that policy adds by itself (add_automatic_item) are allowed in every state and are not in the table.
TRANSITIONS: dict[str, frozenset[str]] = {
    "add_item": EDITABLE,
    "remove_item": EDITABLE,
    "approve": EDITABLE,
    "revise": frozenset({P.approved}),
}


class WorkPlan(Aggregate):
    """A supervision body's annual work plan (年度督导工作计划): what it means to supervise, whom, in which month."""

    @event("Drafted")
    def __init__(self, *, jurisdiction: str, year: int, title: str, drafted_at: datetime):
        self.jurisdiction = jurisdiction
        self.year = year
        self.title = title
        self.drafted_at = drafted_at
        self.status = PlanStatus.draft
        self._items: list[dict[str, Any]] = []
        # Every item id the plan has held, removed ones included: ids are never reused, so a redelivered
        # automatic item does not come back after someone removed it on purpose.
        self._item_ids: set[str] = set()
        self.approved_by: str | None = None
        self.approved_on: date | None = None
        self.report_to: str | None = None
        self.revision_reason: str | None = None

    @classmethod
    def draft(cls, *, jurisdiction: str, year: int, title: str, now: datetime) -> WorkPlan:
        """Start the plan of `jurisdiction` for `year`; its id is `plan_id(jurisdiction, year)`."""
        if not divisions.is_valid_code(jurisdiction):
            raise InvalidInput(f"{jurisdiction!r} is not a division code", field="jurisdiction", rule="division_code")
        if isinstance(year, bool) or not isinstance(year, int) or not FIRST_YEAR <= year <= LAST_YEAR:
            raise InvalidInput(
                f"year must be from {FIRST_YEAR} to {LAST_YEAR}, not {year!r}", field="year", rule="year_range"
            )
        return cls._create(
            cls.Drafted,
            id=plan_id(jurisdiction, year),
            jurisdiction=jurisdiction,
            year=year,
            title=require_name(title, "title"),
            drafted_at=now,
        )

    # --- read helpers -------------------------------------------------------------------------------------

    @property
    def items(self) -> list[dict[str, Any]]:
        return [_copy(item) for item in self._items]

    def _check(self, command: str) -> None:
        check_transition("plan", TRANSITIONS, command, self.status)

    def _refuse_taken(self, item_id: str) -> None:
        if item_id in self._item_ids:
            held = any(item["item_id"] == item_id for item in self._items)
            raise RuleViolation(
                f"item {item_id} is {'already in the plan' if held else 'removed and its id may not be reused'}",
                field="item_id",
                rule="item_exists",
                item_id=item_id,
            )

    # --- editing ------------------------------------------------------------------------------------------

    def add_item(
        self,
        *,
        item_id: str,
        kind: ActivityKind,
        month: int,
        title: str,
        topic: SpecialTopic | None = None,
        targets: list[dict] | None = None,
        population: str | None = None,
        source: str = Source.plan,
    ) -> None:
        """Plan a supervision for a month: of named targets, or of a population (e.g. "全区义务教育学校")."""
        self._check("add_item")
        item = _item(
            item_id=item_id,
            kind=kind,
            topic=topic,
            month=month,
            title=title,
            targets=targets,
            population=population,
            source=source,
            automatic=False,
        )
        self._refuse_taken(item["item_id"])
        self._item_added(item=item)

    @event("ItemAdded")
    def _item_added(self, item: dict) -> None:
        self._hold(item)

    def remove_item(self, *, item_id: str, reason: str) -> None:
        """Take an item out of a plan that is being drafted or revised, saying why."""
        self._check("remove_item")
        item_id = require_name(item_id, "item_id")
        if not any(item["item_id"] == item_id for item in self._items):
            raise RuleViolation(
                f"item {item_id} is not in the plan", field="item_id", rule="unknown_item", item_id=item_id
            )
        self._item_removed(item_id=item_id, reason=require_name(reason, "reason"))

    @event("ItemRemoved")
    def _item_removed(self, item_id: str, reason: str) -> None:
        self._items = [item for item in self._items if item["item_id"] != item_id]

    def add_automatic_item(
        self, *, item_id: str, kind: ActivityKind, month: int, target: dict, title: str, source: str
    ) -> None:
        """An item that policy requires (e.g. S3: a principal's term ended), added in any state without re-approval.

        Idempotent: an item id the plan has already held records nothing, so reactions may repeat.
        """
        item = _item(
            item_id=item_id,
            kind=kind,
            topic=None,
            month=month,
            title=title,
            targets=[target],
            population=None,
            source=source,
            automatic=True,
        )
        if item["item_id"] in self._item_ids:
            return
        self._item_added_automatically(item=item)

    @event("ItemAddedAutomatically")
    def _item_added_automatically(self, item: dict) -> None:
        self._hold(item)

    def _hold(self, item: dict) -> None:
        self._items.append(_copy(item))
        self._item_ids.add(item["item_id"])

    # --- approval and revision ----------------------------------------------------------------------------

    def approve(self, *, approved_by: str, approved_on: date, upper_jurisdiction: str) -> None:
        """Approve (审定) the plan; the event reports it, items and all, to the body one level up (O2)."""
        self._check("approve")
        if not self._items:
            raise RuleViolation("a plan without items cannot be approved", field="items", rule="empty_plan")
        report_to = upper_jurisdiction
        if not (isinstance(report_to, str) and len(report_to) == 6 and divisions.is_valid_code(report_to)):
            raise InvalidInput(
                f"upper_jurisdiction must be a 6-digit division code, not {report_to!r}",
                field="upper_jurisdiction",
                rule="division_code",
            )
        if report_to == self.jurisdiction or not divisions.contains(report_to, self.jurisdiction):
            raise RuleViolation(
                f"a plan of {self.jurisdiction} is reported to a body above it, not to {report_to}",
                field="upper_jurisdiction",
                rule="report_upward",
            )
        self._approved(
            jurisdiction=self.jurisdiction,
            year=self.year,
            title=self.title,
            items=self.items,
            approved_by=require_name(approved_by, "approved_by"),
            approved_on=approved_on,
            report_to=report_to,
        )

    @event("Approved")
    def _approved(
        self,
        jurisdiction: str,
        year: int,
        title: str,
        items: list[dict],
        approved_by: str,
        approved_on: date,
        report_to: str,
    ) -> None:
        self.status = PlanStatus.approved
        self.approved_by, self.approved_on, self.report_to = approved_by, approved_on, report_to

    def revise(self, *, reason: str) -> None:
        """Reopen an approved plan (调整); it is edited as a draft and must be approved again."""
        self._check("revise")
        self._revised(reason=require_name(reason, "reason"))

    @event("Revised")
    def _revised(self, reason: str) -> None:
        self.status, self.revision_reason = PlanStatus.revised, reason


def _item(
    *,
    item_id: Any,
    kind: Any,
    topic: Any,
    month: Any,
    title: Any,
    targets: list[dict] | None,
    population: Any,
    source: Any,
    automatic: bool,
) -> dict[str, Any]:
    """A plan item as it goes into events: validated, with plain values."""
    kind = choice(ActivityKind, kind, "kind")
    topic = None if topic is None else choice(SpecialTopic, topic, "topic")
    if kind is ActivityKind.special and topic is None:
        raise RuleViolation("a special supervision needs a topic", field="topic", rule="topic_required_for_special")
    if kind is not ActivityKind.special and topic is not None:
        raise RuleViolation(
            f"only a special supervision has a topic, not {kind.value}", field="topic", rule="topic_only_for_special"
        )
    if isinstance(month, bool) or not isinstance(month, int) or not 1 <= month <= 12:
        raise InvalidInput(f"month must be from 1 to 12, not {month!r}", field="month", rule="month_range")
    if population is not None and not isinstance(population, str):
        raise InvalidInput("population must be text", field="population", rule="text")
    population = (population or "").strip() or None
    targets = [_target(raw, kind, i) for i, raw in enumerate(targets or [])]
    # Named targets or a population, not both: either says who is supervised, and two answers would disagree.
    if bool(targets) == bool(population):
        raise InvalidInput(
            "an item names its targets or describes a population, exactly one of the two",
            field="targets",
            rule="targets_or_population",
        )
    ids = [t["target_id"] for t in targets]
    if len(set(ids)) != len(ids):
        raise InvalidInput("a target is listed twice", field="targets", rule="unique")
    return {
        "item_id": text(item_id, "item_id"),
        "kind": kind.value,
        "topic": topic.value if topic else None,
        "month": month,
        "targets": targets,
        "population": population,
        "title": text(title, "title"),
        "source": choice(Source, source, "source").value,
        "automatic": automatic,
    }


def _target(raw: Any, kind: ActivityKind, i: int) -> dict[str, str]:
    field = f"targets.{i}"
    if not isinstance(raw, dict):
        raise InvalidInput(f"{field} must be an object", field=field, rule="object")
    target_kind = choice(TargetKind, raw.get("target_kind"), f"{field}.target_kind")
    if target_kind not in TARGETS[kind]:
        raise RuleViolation(
            f"{kind.value} supervises {' or '.join(sorted(TARGETS[kind]))}, not {target_kind.value}",
            field=f"{field}.target_kind",
            rule="target_kind_for_activity",
        )
    return {
        "target_kind": target_kind.value,
        "target_id": text(raw.get("target_id"), f"{field}.target_id"),
        "target_name": text(raw.get("target_name"), f"{field}.target_name"),
    }


def _copy(item: dict[str, Any]) -> dict[str, Any]:
    return {**item, "targets": [dict(t) for t in item["targets"]]}
