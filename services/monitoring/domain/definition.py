"""An indicator framework's definition (评估指标体系): inputs, cross-field checks, indicators with a formula, a bar per
stage and an aggregation, the unit rule and the area rule.

`Definition.parse` checks a whole document before anything is recorded and names every offending
path at once (`indicators[2].formula`). Formulas are parsed by `formula.py`, never evaluated as Python.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dudao.errors import InvalidInput
from services.monitoring.domain.formula import Formula, FormulaError

CODE = re.compile(r"^[a-z][a-z0-9_]{2,63}$")
LEVELS = ("school", "county")
COMPARISONS = (">=", ">", "<=", "<")
AGGREGATES = ("cv", "sum_inputs", "mean")
UNIT_RULES = ("count_meeting", "all_meet", "weighted_score")
AREA_RULES = ("cv", "sum_inputs", "mean")
# Every key a framework document may hold, where it may hold it (issue 18: an unknown key is refused, naming its path).
KEYS: dict[str, frozenset[str]] = {
    "framework": frozenset(
        {
            "code",
            "name",
            "name_zh",
            "note",
            "level",
            "stages",
            "applies_to",
            "inputs",
            "split",
            "checks",
            "indicators",
            "unit_rule",
            "area_rule",
        }
    ),
    "input": frozenset(
        {"key", "label_zh", "note_zh", "unit", "per_stage", "integer", "min", "max", "required", "default"}
    ),
    "split": frozenset({"basis", "weights", "shared_inputs"}),
    "check": frozenset({"rule", "expression", "field", "message"}),
    "indicator": frozenset({"key", "label_zh", "unit", "formula", "bar", "aggregate", "weight"}),
    "bar": frozenset({"op", "value"}),
    "band": frozenset({"grade", "label_zh", "min"}),
    "unit_rule:count_meeting": frozenset({"kind", "min_meeting", "floor_share"}),
    "unit_rule:all_meet": frozenset({"kind"}),
    "unit_rule:weighted_score": frozenset({"kind", "bands", "pass_min"}),
    "area_rule:cv": frozenset({"kind", "cv_max", "every_unit_passes"}),
    "area_rule:sum_inputs": frozenset({"kind"}),
    "area_rule:mean": frozenset({"kind"}),
}
# What the engine adds to a school's values: its whole enrolment and its urban-rural type (城乡类型).
SCHOOL_VARIABLES = frozenset({"school_pupils", "urban", "town", "rural"})


@dataclass(frozen=True)
class Input:
    key: str
    label_zh: str
    unit: str
    per_stage: bool
    integer: bool
    minimum: float | None
    maximum: float | None
    required: bool
    default: float | None


@dataclass(frozen=True)
class Bar:
    """The standard an indicator must reach (达标线): `value >= 4.2`."""

    op: str
    value: float

    def meets(self, x: float) -> bool:
        return {">=": x >= self.value, ">": x > self.value, "<=": x <= self.value, "<": x < self.value}[self.op]

    def attainment(self, x: float) -> float | None:
        """How far toward the bar: x / bar for a floor, bar / x for a ceiling (1 or more meets it)."""
        if self.op in (">=", ">"):
            return x / self.value if self.value else None
        return self.value / x if x else None


@dataclass(frozen=True)
class Indicator:
    key: str
    label_zh: str
    unit: str
    formula: Formula
    bars: Mapping[str, Bar]  # by stage; "*" when one bar serves every stage
    aggregate: str
    weight: float | None

    def bar(self, stage: str | None) -> Bar | None:
        return self.bars.get(stage or "*") or self.bars.get("*")


@dataclass(frozen=True)
class Check:
    """A cross-field rule on a submission, e.g. `qualified_teachers <= fulltime_teachers`."""

    rule: str
    expression: Formula
    field: str
    message: str


@dataclass(frozen=True)
class Split:
    """How a school spanning stages is divided before per-stage indicators (1 primary : 1.1 junior …)."""

    basis: str
    weights: Mapping[str, Mapping[str, float]]
    shared_inputs: tuple[str, ...]


@dataclass(frozen=True)
class Definition:
    code: str
    name: str
    name_zh: str
    note: str
    level: str
    applies_to: tuple[str, ...]
    stages: tuple[str, ...]
    split: Split | None
    inputs: tuple[Input, ...]
    checks: tuple[Check, ...]
    indicators: tuple[Indicator, ...]
    unit_rule: Mapping[str, Any]
    area_rule: Mapping[str, Any]

    def input(self, key: str) -> Input | None:
        return next((i for i in self.inputs if i.key == key), None)

    @classmethod
    def parse(cls, raw: Any) -> Definition:
        """Check a whole framework document; every problem is reported at once, each naming its path."""
        return _Parser(raw).definition()


class _Parser:
    def __init__(self, raw: Any):
        self.raw = raw if isinstance(raw, dict) else {}
        self.errors: list[dict[str, str]] = (
            [] if isinstance(raw, dict) else [_error("", "object", "a framework is a JSON object")]
        )

    def fail(self, field: str, rule: str, detail: str) -> None:
        self.errors.append(_error(field, rule, detail))

    def only(self, data: Any, allowed: frozenset[str], where: str) -> None:
        """Refuse keys the engine does not read: a misspelt or invented key would be stored and silently ignored."""
        if isinstance(data, dict):
            for key in sorted(set(data) - allowed, key=str):
                self.fail(
                    f"{where}{key}",
                    "unknown_key",
                    f"{where}{key} is not a key of a framework here; known keys: {', '.join(sorted(allowed))}",
                )

    def text(self, data: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str:
        value = data.get(key, "")
        if not isinstance(value, str) or (required and not value.strip()) or len(value) > 2000:
            self.fail(f"{where}{key}", "text", f"{where}{key} must be text of 1 to 2000 characters")
            return ""
        return value.strip()

    def number(self, value: Any, field: str) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(field, "number", f"{field} must be a number")
            return None
        return float(value)

    def formula(self, text: Any, field: str, known: frozenset[str]) -> Formula | None:
        if not isinstance(text, str):
            self.fail(field, "formula", f"{field} must be a formula written as text")
            return None
        try:
            formula = Formula.parse(text)
        except FormulaError as e:
            self.fail(field, "formula_syntax", f"{field}: {e.detail}")
            return None
        unknown = sorted(formula.variables - known)
        if unknown:
            self.fail(
                field, "unknown_input", f"{field} uses {', '.join(unknown)}, which is not an input of this framework"
            )
        return formula

    def definition(self) -> Definition:
        raw = self.raw
        self.only(raw, KEYS["framework"], "")
        code = raw.get("code")
        if not isinstance(code, str) or not CODE.match(code):
            self.fail(
                "code", "code_format", "code must be 3 to 64 lowercase letters, digits or _ starting with a letter"
            )
        level = raw.get("level")
        if level not in LEVELS:
            self.fail("level", "not_in_list", f"level must be one of {', '.join(LEVELS)}")
        stages = tuple(self.strings(raw.get("stages", []), "stages"))
        applies_to = tuple(self.strings(raw.get("applies_to", []), "applies_to"))
        if level == "school" and not (stages and applies_to):
            self.fail(
                "stages",
                "required",
                "a school-level framework names the stages it assesses and the schools it applies to",
            )
        inputs = self.inputs(raw.get("inputs"), level == "school")
        known = frozenset(i.key for i in inputs) | (SCHOOL_VARIABLES if level == "school" else frozenset())
        split = self.split(raw.get("split"), inputs) if level == "school" else None
        checks = self.checks(raw.get("checks", []), known)
        indicators = self.indicators(raw.get("indicators"), known, stages)
        unit_rule = self.unit_rule(raw.get("unit_rule"), indicators)
        area_rule = self.area_rule(raw.get("area_rule"), stages)
        if self.errors:
            first = self.errors[0]
            raise InvalidInput(
                f"the framework has {len(self.errors)} problem(s); first: {first['detail']}",
                field=first["field"],
                rule=first["rule"],
                errors=self.errors,
            )
        return Definition(
            code=code,
            name=self.text(raw, "name", ""),
            name_zh=self.text(raw, "name_zh", ""),
            note=self.text(raw, "note", "", required=False),
            level=level,
            applies_to=applies_to,
            stages=stages,
            split=split,
            inputs=inputs,
            checks=checks,
            indicators=indicators,
            unit_rule=unit_rule,
            area_rule=area_rule,
        )

    def strings(self, value: Any, field: str) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.fail(field, "list_of_text", f"{field} must be a list of names")
            return []
        return value

    def inputs(self, raw: Any, school: bool) -> tuple[Input, ...]:
        if not isinstance(raw, list) or not raw:
            self.fail("inputs", "required", "inputs must list at least one input")
            return ()
        found: list[Input] = []
        for n, item in enumerate(raw):
            where = f"inputs[{n}]."
            if not isinstance(item, dict):
                self.fail(where[:-1], "object", f"{where[:-1]} must be an object")
                continue
            self.only(item, KEYS["input"], where)
            key = item.get("key")
            if not isinstance(key, str) or not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", key) or key in SCHOOL_VARIABLES:
                self.fail(f"{where}key", "input_key", f"{where}key must be a lowercase name not reserved by the engine")
                continue
            if any(i.key == key for i in found):
                self.fail(f"{where}key", "unique", f"input {key} is defined twice")
            if item.get("per_stage") and not school:
                self.fail(
                    f"{where}per_stage", "school_level_only", "only a school-level framework has per-stage inputs"
                )
            bounds = [self.number(item[b], f"{where}{b}") if b in item else None for b in ("min", "max")]
            required = item.get("required", True) is not False
            default = self.number(item["default"], f"{where}default") if "default" in item else None
            if not required and default is None:
                self.fail(f"{where}default", "required", f"optional input {key} needs a default")
            found.append(
                Input(
                    key=key,
                    label_zh=self.text(item, "label_zh", where),
                    unit=str(item.get("unit", "")),
                    per_stage=bool(item.get("per_stage")),
                    integer=bool(item.get("integer")),
                    minimum=bounds[0],
                    maximum=bounds[1],
                    required=required,
                    default=default,
                )
            )
        return tuple(found)

    def split(self, raw: Any, inputs: tuple[Input, ...]) -> Split | None:
        if raw is None:
            return None
        if not isinstance(raw, dict):
            self.fail("split", "object", "split must be an object")
            return None
        self.only(raw, KEYS["split"], "split.")
        by_key = {i.key: i for i in inputs}
        basis = raw.get("basis")
        if basis not in by_key or not by_key[basis].per_stage:
            self.fail(
                "split.basis",
                "per_stage_input",
                "split.basis must name a per-stage input (the pupils counted per stage)",
            )
        weights: dict[str, dict[str, float]] = {}
        if not isinstance(raw.get("weights") or {}, dict):
            self.fail(
                "split.weights", "object", "split.weights maps each multi-stage kind of school to its stages' weights"
            )
            raw = {**raw, "weights": {}}
        for kind, table in (raw.get("weights") or {}).items():
            if not isinstance(table, dict) or not table:
                self.fail(f"split.weights.{kind}", "object", "each school kind maps its stages to weights")
                continue
            weights[kind] = {
                s: w for s, w in ((s, self.number(w, f"split.weights.{kind}.{s}")) for s, w in table.items()) if w
            }
        shared = tuple(self.strings(raw.get("shared_inputs", []), "split.shared_inputs"))
        for key in shared:
            if key not in by_key or by_key[key].per_stage:
                self.fail(
                    "split.shared_inputs",
                    "school_wide_input",
                    f"{key} is not a school-wide input to divide between stages",
                )
        return Split(basis=basis, weights=weights, shared_inputs=shared)

    def checks(self, raw: Any, known: frozenset[str]) -> tuple[Check, ...]:
        if not isinstance(raw, list):
            self.fail("checks", "list", "checks must be a list")
            return ()
        found = []
        for n, item in enumerate(raw):
            where = f"checks[{n}]."
            item = item if isinstance(item, dict) else {}
            self.only(item, KEYS["check"], where)
            formula = self.formula(item.get("expression"), f"{where}expression", known)
            rule, field = self.text(item, "rule", where), self.text(item, "field", where)
            if formula is not None:
                found.append(
                    Check(rule=rule, expression=formula, field=field, message=self.text(item, "message", where))
                )
        return tuple(found)

    def indicators(self, raw: Any, known: frozenset[str], stages: tuple[str, ...]) -> tuple[Indicator, ...]:
        if not isinstance(raw, list) or not raw:
            self.fail("indicators", "required", "indicators must list at least one indicator")
            return ()
        found = []
        for n, item in enumerate(raw):
            where = f"indicators[{n}]."
            item = item if isinstance(item, dict) else {}
            self.only(item, KEYS["indicator"], where)
            key = self.text(item, "key", where)
            formula = self.formula(item.get("formula"), f"{where}formula", known)
            aggregate = item.get("aggregate")
            if aggregate not in AGGREGATES:
                self.fail(
                    f"{where}aggregate", "not_in_list", f"{where}aggregate must be one of {', '.join(AGGREGATES)}"
                )
            weight = self.number(item["weight"], f"{where}weight") if "weight" in item else None
            if formula is not None:
                found.append(
                    Indicator(
                        key=key,
                        label_zh=self.text(item, "label_zh", where),
                        unit=str(item.get("unit", "")),
                        formula=formula,
                        bars=self.bars(item.get("bar"), f"{where}bar", stages),
                        aggregate=aggregate,
                        weight=weight,
                    )
                )
        return tuple(found)

    def bars(self, raw: Any, where: str, stages: tuple[str, ...]) -> dict[str, Bar]:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.fail(where, "object", f"{where} must be a bar or a bar per stage")
            return {}
        table = {"*": raw} if "op" in raw else raw
        bars = {}
        for stage, bar in table.items():
            if stage != "*" and stage not in stages:
                self.fail(f"{where}.{stage}", "stage_not_assessed", f"{stage} is not a stage this framework assesses")
            bar = bar if isinstance(bar, dict) else {}
            self.only(bar, KEYS["bar"], f"{where}." if stage == "*" else f"{where}.{stage}.")
            if bar.get("op") not in COMPARISONS:
                self.fail(f"{where}.op", "not_in_list", f"a bar compares with one of {' '.join(COMPARISONS)}")
                continue
            value = self.number(bar.get("value"), f"{where}.value")
            if value is not None:
                bars[stage] = Bar(op=bar["op"], value=value)
        return bars

    def unit_rule(self, raw: Any, indicators: tuple[Indicator, ...]) -> dict[str, Any]:
        rule = raw if isinstance(raw, dict) else {}
        kind = rule.get("kind")
        self.only(rule, KEYS[f"unit_rule:{kind}"] if kind in UNIT_RULES else frozenset({"kind"}), "unit_rule.")
        if kind not in UNIT_RULES:
            self.fail("unit_rule.kind", "not_in_list", f"unit_rule.kind must be one of {', '.join(UNIT_RULES)}")
        elif kind == "count_meeting":
            least, floor = rule.get("min_meeting"), rule.get("floor_share")
            if not isinstance(least, int) or not 0 < least <= len(indicators):
                self.fail(
                    "unit_rule.min_meeting", "range", "min_meeting must be between 1 and the number of indicators"
                )
            if self.number(floor, "unit_rule.floor_share") is not None and not 0 < floor <= 1:
                self.fail("unit_rule.floor_share", "range", "floor_share must be above 0 and at most 1")
        elif kind == "weighted_score":
            if any(i.weight is None or i.weight <= 0 for i in indicators):
                self.fail(
                    "indicators", "weight_required", "a weighted score needs a positive weight on every indicator"
                )
            bands = rule.get("bands")
            for n, band in enumerate(bands if isinstance(bands, list) else []):
                self.only(band, KEYS["band"], f"unit_rule.bands[{n}].")
            if (
                not isinstance(bands, list)
                or not bands
                or not all(isinstance(b, dict) and isinstance(b.get("min"), int | float) for b in bands)
            ):
                self.fail(
                    "unit_rule.bands", "required", "a weighted score needs grade bands, each with a minimum score"
                )
            elif [b["min"] for b in bands] != sorted((b["min"] for b in bands), reverse=True):
                self.fail("unit_rule.bands", "order", "grade bands go from the highest minimum down")
        return dict(rule)

    def area_rule(self, raw: Any, stages: tuple[str, ...]) -> dict[str, Any]:
        rule = raw if isinstance(raw, dict) else {}
        kind = rule.get("kind")
        self.only(rule, KEYS[f"area_rule:{kind}"] if kind in AREA_RULES else frozenset({"kind"}), "area_rule.")
        if rule.get("kind") not in AREA_RULES:
            self.fail("area_rule.kind", "not_in_list", f"area_rule.kind must be one of {', '.join(AREA_RULES)}")
        elif rule["kind"] == "cv":
            limits = rule.get("cv_max")
            if not isinstance(limits, dict) or set(limits) != set(stages):
                self.fail(
                    "area_rule.cv_max",
                    "per_stage",
                    f"cv_max gives the largest coefficient of variation for each of {', '.join(stages)}",
                )
            else:
                for stage, limit in limits.items():
                    self.number(limit, f"area_rule.cv_max.{stage}")
        return dict(rule)


def _error(field: str, rule: str, detail: str) -> dict[str, str]:
    return {"field": field, "rule": rule, "detail": detail}
