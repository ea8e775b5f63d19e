"""From a framework and a unit's inputs to its result: validation, stage splitting, indicator values, verdicts.
Pure functions; the projection and the what-if both call them. An area's result over many units is `area.py`'s.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dudao.errors import InvalidInput
from services.monitoring.domain.definition import Definition, Indicator
from services.monitoring.domain.formula import EvaluationError

DIGITS = 6  # results are stored rounded: enough for a CV compared at two decimals, stable across replays


@dataclass(frozen=True)
class UnitData:
    """One unit's submitted inputs, as a result is computed from them."""

    unit_id: str
    unit_name: str
    values: Mapping[str, Any]
    version: int = 0
    stage: str | None = None  # the school's kind (nine_year, primary, …); None for a jurisdiction
    locality: str | None = None
    approved: bool = True  # False: submitted, not yet approved by its level; a verdict resting on it is provisional


# --- which stages a unit has ----------------------------------------------------------------------------------


def taught_stages(definition: Definition, school_stage: str | None) -> tuple[str, ...]:
    """The stages whose pupils a school counts: every stage of a multi-stage school, else its own stage."""
    if definition.level != "school":
        return ()
    if definition.split and school_stage in definition.split.weights:
        return tuple(definition.split.weights[school_stage])
    return (school_stage,) if school_stage in definition.stages else ()


def applies(definition: Definition, school_stage: str | None) -> bool:
    return definition.level != "school" or (
        school_stage in definition.applies_to and bool(taught_stages(definition, school_stage))
    )


# --- validation -----------------------------------------------------------------------------------------------


@dataclass
class _Errors:
    found: list[dict[str, str]] = field(default_factory=list)

    def add(self, field_name: str, rule: str, detail: str) -> None:
        self.found.append({"field": field_name, "rule": rule, "detail": detail})

    def raise_any(self) -> None:
        if self.found:
            first = self.found[0]
            raise InvalidInput(
                f"{len(self.found)} value(s) are not acceptable; first: {first['field']}: {first['detail']}",
                field=first["field"],
                rule=first["rule"],
                errors=self.found,
            )


def validate(definition: Definition, values: Any, school_stage: str | None = None) -> dict[str, Any]:
    """Check every value (required, number, whole number, range) and every cross-field check; all errors at once.

    Returns the values normalised: whole numbers as int, optional inputs filled with their default,
    per-stage inputs as {stage: value}. Field names read `values.pupils.primary`.
    """
    errors = _Errors()
    if not isinstance(values, Mapping):
        errors.add("values", "object", "values must be an object of input -> value")
        errors.raise_any()
    taught = taught_stages(definition, school_stage)
    if definition.level == "school" and not taught:
        errors.add("unit", "framework_not_applicable", f"{definition.code} does not assess a {school_stage} school")
        errors.raise_any()
    known = {i.key for i in definition.inputs}
    for key in values:
        if key not in known:
            errors.add(f"values.{key}", "unknown_input", f"{key} is not an input of {definition.code}")
    clean: dict[str, Any] = {}
    for spec in definition.inputs:
        given = values.get(spec.key)
        if not spec.per_stage:
            clean[spec.key] = _value(spec, given, f"values.{spec.key}", errors)
            continue
        stages = (
            taught
            if spec.key == (definition.split.basis if definition.split else None)
            else [s for s in taught if s in definition.stages]
        )
        if given is None and not spec.required:
            given = {}
        if not isinstance(given, Mapping):
            errors.add(
                f"values.{spec.key}",
                "per_stage",
                f"{spec.key} is given per stage: {{{', '.join(f'{s!r}: …' for s in stages)}}}",
            )
            continue
        for stage in given:
            if stage not in stages:
                errors.add(
                    f"values.{spec.key}.{stage}",
                    "stage_not_taught",
                    f"this school has no {stage} pupils to count {spec.key} for",
                )
        clean[spec.key] = {s: _value(spec, given.get(s), f"values.{spec.key}.{s}", errors) for s in stages}
    _cross_checks(definition, clean, taught, errors)  # a check over a bad value cannot evaluate, and is skipped
    errors.raise_any()
    return clean


def _value(spec, given: Any, where: str, errors: _Errors) -> float | int | None:
    if given is None:
        if spec.required:
            errors.add(where, "required", f"{spec.label_zh} ({spec.key}) is required")
        return spec.default if spec.default is None or not spec.integer else int(spec.default)
    if isinstance(given, bool) or not isinstance(given, int | float) or not math.isfinite(given):
        errors.add(where, "number", f"{spec.label_zh} must be a number, not {given!r}"[:300])
        return None
    if spec.integer and given != int(given):
        errors.add(where, "whole_number", f"{spec.label_zh} must be a whole number, not {given}")
        return None
    if spec.minimum is not None and given < spec.minimum:
        errors.add(where, "minimum", f"{spec.label_zh} must be at least {spec.minimum:g}, not {given:g}")
    elif spec.maximum is not None and given > spec.maximum:
        errors.add(where, "maximum", f"{spec.label_zh} must be at most {spec.maximum:g}, not {given:g}")
    return int(given) if spec.integer else float(given)


def _cross_checks(definition: Definition, clean: dict[str, Any], taught: Iterable[str], errors: _Errors) -> None:
    scopes = [(s, _stage_values(definition, clean, s)) for s in taught if s in definition.stages] or [(None, clean)]
    for check in definition.checks:
        for stage, env in scopes:
            try:
                ok = check.expression.evaluate(env)
            except EvaluationError:
                continue  # a check that cannot apply (an input of another stage) is not a failure
            if ok is False:
                spec = definition.input(check.field)
                where = (
                    f"values.{check.field}.{stage}" if spec and spec.per_stage and stage else f"values.{check.field}"
                )
                errors.add(where, check.rule, check.message + (f" ({stage})" if stage else ""))


def _stage_values(definition: Definition, clean: Mapping[str, Any], stage: str) -> dict[str, Any]:
    return {i.key: (clean.get(i.key) or {}).get(stage) for i in definition.inputs if i.per_stage} | {
        i.key: clean.get(i.key) for i in definition.inputs if not i.per_stage
    }


# --- one unit ---------------------------------------------------------------------------------------------------


def parts(definition: Definition, unit: UnitData) -> list[tuple[str | None, int | None, float, dict[str, Any]]]:
    """The parts a unit is assessed in: (stage, pupils, share, values) — a school per stage it has pupils in.

    A school spanning stages is split by weighted enrolment (1 primary : 1.1 junior …): school-wide
    inputs (floor area, equipment …) go to each part in proportion to its weighted pupils. A school
    with pupils in one stage only is a school of that stage.
    """
    if definition.level != "school":
        return [(None, None, 1.0, dict(unit.values))]
    split, taught = definition.split, taught_stages(definition, unit.stage)
    basis = split.basis if split else "pupils"
    pupils = {s: (unit.values.get(basis) or {}).get(s) or 0 for s in taught}
    weights = split.weights.get(unit.stage, {}) if split else {}
    weighted = {s: pupils[s] * weights.get(s, 1.0) for s in taught if pupils[s] > 0}
    total_weighted, total_pupils = sum(weighted.values()), sum(pupils.values())
    shared = set(split.shared_inputs) if split else set()
    found = []
    for stage in taught:
        if stage not in definition.stages or stage not in weighted:
            continue
        share = weighted[stage] / total_weighted
        env = _stage_values(definition, unit.values, stage)
        for key in shared:  # absent when a what-if's version asks for an input this period did not collect
            total = unit.values.get(key)
            env[key] = None if total is None else total * share
        env.update(
            school_pupils=total_pupils,
            urban=unit.locality == "urban",
            town=unit.locality == "town",
            rural=unit.locality == "rural",
        )
        found.append((stage, pupils[stage], share, env))
    return found


def _indicator(
    indicator: Indicator, stage: str | None, env: Mapping[str, Any], floor_share: float | None
) -> dict[str, Any]:
    try:
        raw = indicator.formula.evaluate(env)
        value = None if isinstance(raw, bool) else round(float(raw), DIGITS)
        problem = None if value is not None else "the formula gives true/false, not a figure"
    except EvaluationError as e:
        value, problem = None, e.detail
    bar = indicator.bar(stage)
    row: dict[str, Any] = {"key": indicator.key, "label_zh": indicator.label_zh, "unit": indicator.unit, "value": value}
    if problem:
        row["problem"] = problem
    if bar is not None:
        attained = bar.attainment(value) if value is not None else None
        row.update(
            bar={"op": bar.op, "value": bar.value},
            meets=value is not None and bar.meets(value),
            attainment=None if attained is None else round(attained, DIGITS),
        )
        if floor_share is not None:
            row["below_floor"] = attained is None or attained < floor_share
    return row


def unit_result(definition: Definition, unit: UnitData) -> dict[str, Any]:
    """A unit's indicator values and verdict; for a school, per stage part after splitting."""
    rule = definition.unit_rule
    floor_share = rule.get("floor_share") if rule["kind"] == "count_meeting" else None
    assessed = []
    for stage, pupils, share, env in parts(definition, unit):
        indicators = [_indicator(i, stage, env, floor_share) for i in definition.indicators]
        part: dict[str, Any] = {
            "stage": stage,
            "pupils": pupils,
            "share": round(share, DIGITS),
            "indicators": indicators,
        }
        part.update(_verdict(rule, definition, indicators))
        assessed.append(part)
    result: dict[str, Any] = {
        "unit_id": unit.unit_id,
        "unit_name": unit.unit_name,
        "unit_stage": unit.stage,
        "parts": assessed,
    }
    result["passes"] = bool(assessed) and all(p["passes"] for p in assessed)
    if definition.level != "school" and assessed:  # a jurisdiction is one part: lift its verdict up
        result.update({k: v for k, v in assessed[0].items() if k in ("score", "grade", "grade_zh", "meeting")})
    return result


def _verdict(rule: Mapping[str, Any], definition: Definition, indicators: list[dict[str, Any]]) -> dict[str, Any]:
    barred = [i for i in indicators if "bar" in i]
    meeting = sum(1 for i in barred if i["meets"])
    if rule["kind"] == "count_meeting":
        below = [i["key"] for i in barred if i.get("below_floor")]
        return {"meeting": meeting, "below_floor": below, "passes": meeting >= rule["min_meeting"] and not below}
    if rule["kind"] == "all_meet":
        return {"meeting": meeting, "passes": meeting == len(barred)}
    values = {i["key"]: i["value"] for i in indicators}
    if any(v is None for v in values.values()):
        return {"score": None, "grade": None, "passes": False}
    score = round(
        sum(values[i.key] * i.weight for i in definition.indicators) / sum(i.weight for i in definition.indicators), 2
    )
    band = (
        next(b for b in rule["bands"] if score >= b["min"]) if score >= rule["bands"][-1]["min"] else rule["bands"][-1]
    )
    return {
        "score": score,
        "grade": band.get("grade"),
        "grade_zh": band.get("label_zh"),
        "passes": score >= rule.get("pass_min", 0),
    }
