"""An area's result over its units (a county's, or any jurisdiction's): coefficients of variation (差异系数), summed
inputs or mean scores, and the verdict. Pure functions.

An area's figures come from its units in two steps: `area_part` adds up what the verdict needs of some units (counts,
enrolment-weighted moments per stage and indicator, summed inputs or sums of values), `merge_parts` adds parts up, and
`area_from` makes the figures and the verdict of the sum. A county's area is its units' part; a province's is its
counties' parts merged, without reading its twenty thousand schools again (issue 24, decision 035).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from services.monitoring.domain.compute import DIGITS, UnitData, unit_result
from services.monitoring.domain.definition import Definition


def moments(points: Iterable[tuple[float, float]]) -> list[float] | None:
    """Enrolment-weighted moments [P, X̄, M] of (Pᵢ, Xᵢ) pairs: P = Σ Pᵢ, X̄ = Σ PᵢXᵢ / P, M = Σ Pᵢ(Xᵢ − X̄)²; None
    without a pupil counted. Two passes over the points, as the CV's definition reads."""
    points = [(p, x) for p, x in points if p > 0 and x is not None]
    total = sum(p for p, _ in points)
    if not total:
        return None
    mean = sum(p * x for p, x in points) / total
    return [total, mean, sum(p * (x - mean) ** 2 for p, x in points)]


def merge_moments(a: list[float] | None, b: list[float] | None) -> list[float] | None:
    """The moments of two groups' points together (Chan et al.'s pairwise update: stable, no Σ PᵢXᵢ² cancellation)."""
    if a is None or b is None:
        return a if b is None else b
    total = a[0] + b[0]
    delta = b[1] - a[1]
    return [total, a[1] + delta * b[0] / total, a[2] + b[2] + delta * delta * a[0] * b[0] / total]


def cv_figures(found: list[float] | None) -> dict[str, float | None]:
    """Enrolment-weighted CV = S / X̄ with S = √(M / P), from `moments`."""
    if found is None:
        return {"mean": None, "sd": None, "cv": None}
    total, mean, spread = found
    sd = math.sqrt(spread / total)
    return {"mean": round(mean, DIGITS), "sd": round(sd, DIGITS), "cv": round(sd / mean, DIGITS) if mean else None}


def area_result(definition: Definition, units: Iterable[UnitData]) -> dict[str, Any]:
    """The verdict over many units: CVs per indicator and stage, summed inputs recomputed, or mean scores.

    Without a counted unit there is no verdict (`passes`, `cv_within`, `every_unit_passes` are None). A verdict
    resting on any unit's data not yet approved is `provisional`."""
    units = list(units)
    results = [unit_result(definition, u) for u in units]
    return {"area": area_of(definition, units, [area_input(r) for r in results]), "units": results}


def area_input(result: dict[str, Any]) -> dict[str, Any]:
    """What `area_part` reads of a unit's result (its verdict, score, and each part's stage, pupils and indicator
    values), kept beside the result when it is recorded."""
    parts = result["parts"]
    return {
        "passes": result["passes"],
        "score": result.get("score"),
        "stages": [p["stage"] for p in parts],
        "pupils": [p["pupils"] for p in parts],
        "values": [[i["value"] for i in p["indicators"]] for p in parts],
    }


def area_of(definition: Definition, units: list[UnitData], inputs: list[dict[str, Any]]) -> dict[str, Any]:
    """The area of these units, from what it reads of their results already computed (`inputs[i]` is
    `area_input(units[i]'s result)`)."""
    return area_from(definition, area_part(definition, units, inputs))


def area_part(definition: Definition, units: list[UnitData], inputs: list[dict[str, Any]]) -> dict[str, Any]:
    """What the verdict over these units needs of them, in a form that adds up (`merge_parts`). Only the `sum_inputs`
    rule reads the units' values; the others read their results' `area_input`s, and the units' ids, versions and
    approval."""
    rule, indicators = definition.area_rule, definition.indicators
    part: dict[str, Any] = {
        "units": len(inputs),
        "units_passing": sum(1 for r in inputs if r["passes"]),
        "submission_versions": {u.unit_id: u.version for u in units},
        "unapproved_units": [u.unit_id for u in units if not u.approved],
    }
    if rule["kind"] == "cv":
        by_stage: dict[str, list[tuple[Any, list[Any]]]] = {stage: [] for stage in definition.stages}
        for r in inputs:  # each unit's parts (pupils, indicator values) by stage, in the units' order
            for stage, pupils, values in zip(r["stages"], r["pupils"], r["values"], strict=True):
                if stage in by_stage:
                    by_stage[stage].append((pupils, values))
        part["stages"] = {
            stage: {
                "units": len(found),
                "pupils": sum(pupils for pupils, _ in found),
                "moments": [moments((pupils, values[n]) for pupils, values in found) for n in range(len(indicators))],
            }
            for stage, found in by_stage.items()
        }
    elif rule["kind"] == "sum_inputs":
        part["inputs"] = {i.key: sum(u.values.get(i.key) or 0 for u in units) for i in definition.inputs}
    else:
        given = [[r["values"][0][n] for r in inputs if r["values"]] for n in range(len(indicators))]
        scores = [r["score"] for r in inputs if r["score"] is not None]
        part["sums"] = [
            [sum(v for v in values if v is not None), sum(v is not None for v in values)] for values in given
        ]
        part["scores"] = [sum(scores), len(scores)]
    return part


def merge_parts(definition: Definition, parts: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Parts of disjoint sets of units added up, in the order given: the part of all their units together."""
    merged = area_part(definition, [], [])
    for part in parts:
        merged["units"] += part["units"]
        merged["units_passing"] += part["units_passing"]
        merged["submission_versions"].update(part["submission_versions"])
        merged["unapproved_units"].extend(part["unapproved_units"])
        if "stages" in merged:
            for stage, into in merged["stages"].items():
                more = part["stages"][stage]
                into["units"] += more["units"]
                into["pupils"] += more["pupils"]
                into["moments"] = list(map(merge_moments, into["moments"], more["moments"]))
        elif "inputs" in merged:
            merged["inputs"] = {key: total + part["inputs"][key] for key, total in merged["inputs"].items()}
        else:
            merged["sums"] = [[a[0] + b[0], a[1] + b[1]] for a, b in zip(merged["sums"], part["sums"], strict=True)]
            merged["scores"] = [merged["scores"][0] + part["scores"][0], merged["scores"][1] + part["scores"][1]]
    return merged


def area_from(definition: Definition, part: dict[str, Any]) -> dict[str, Any]:
    """The figures and the verdict of an area from its units' part."""
    rule = definition.area_rule
    unapproved = sorted(part["unapproved_units"])
    area: dict[str, Any] = {
        "kind": rule["kind"],
        "units": part["units"],
        "units_passing": part["units_passing"],
        "submission_versions": part["submission_versions"],
        "provisional": bool(unapproved),
        "unapproved_units": unapproved,
    }
    if not part["units"]:
        return area | {
            "passes": None,
            "cv_within": None,
            "every_unit_passes": None,
            "no_verdict": "no counted units: nothing submitted or approved yet",
        }
    if rule["kind"] == "cv":
        stages = {}
        for stage, found in part["stages"].items():
            limit = rule["cv_max"][stage]
            cvs = {}
            for indicator, spread in zip(definition.indicators, found["moments"], strict=True):
                figures = cv_figures(spread)
                cvs[indicator.key] = figures | {
                    "cv_max": limit,
                    "within": figures["cv"] is not None and figures["cv"] <= limit,
                }
            stages[stage] = {"units": found["units"], "pupils": found["pupils"], "indicators": cvs}
        area["stages"] = stages
        within = all(c["within"] for s in stages.values() if s["units"] for c in s["indicators"].values())
        every = area["units_passing"] == area["units"] or not rule.get("every_unit_passes")
        area.update(
            cv_within=within,
            every_unit_passes=area["units_passing"] == area["units"],
            passes=within and every,
        )
    elif rule["kind"] == "sum_inputs":
        summed = part["inputs"]
        whole = unit_result(definition, UnitData(unit_id="*", unit_name="*", values=summed))
        area.update(
            inputs=summed,
            indicators=whole["parts"][0]["indicators"] if whole["parts"] else [],
            passes=whole["passes"],
        )
    else:
        means = {
            indicator.key: round(total / count, DIGITS) if count else None
            for indicator, (total, count) in zip(definition.indicators, part["sums"], strict=True)
        }
        total, count = part["scores"]
        area.update(
            indicators=means,
            mean_score=round(total / count, 2) if count else None,
            passes=area["units_passing"] == area["units"],
        )
    return area
