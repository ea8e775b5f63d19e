"""How long recomputing results takes: one county's balanced-development result (what the projection does on
every submission change) and a province-sized roll-up, from the pure engine. Prints figures; never fails."""

from __future__ import annotations

import json
import time
from pathlib import Path

from services.monitoring.demo import STAGE_SHARES, school_values
from services.monitoring.domain.area import area_result
from services.monitoring.domain.compute import UnitData, validate
from services.monitoring.domain.definition import Definition

FRAMEWORK = (
    Path(__file__).resolve().parent.parent / "services" / "monitoring" / "frameworks" / "balanced_development.json"
)


def units(n: int, definition: Definition) -> list[UnitData]:
    stages = list(STAGE_SHARES)
    found = []
    for i in range(n):
        stage = stages[i % len(stages)]
        values = validate(definition, school_values(stage, 300 + (i * 37) % 2500, i), stage)
        found.append(UnitData(unit_id=str(i), unit_name=f"school {i}", values=values, stage=stage, version=1))
    return found


def main() -> None:
    definition = Definition.parse(json.loads(FRAMEWORK.read_text(encoding="utf-8")))
    for n, what in ((150, "a county"), (3000, "a province")):
        data = units(n, definition)
        rounds = max(1, 3000 // n)
        start = time.perf_counter()
        for _ in range(rounds):
            area_result(definition, data)
        took = (time.perf_counter() - start) / rounds
        print(
            f"balanced development, {what} of {n} schools: {took * 1000:.1f} ms per recomputation ({n / took:,.0f} schools/s)"
        )


if __name__ == "__main__":
    main()
