"""The gateway's monitoring types: frameworks, collection status, balanced development with each school linked to
the registry's School, any framework's results, and the operational roll-ups."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.scalars import JSON

from dudao.subgraph import wanted
from gateway.shapes import selection, shape
from gateway.types import Jurisdiction, loaders_of

if TYPE_CHECKING:
    from gateway.registry import School


@strawberry.type
class IndicatorValue:
    key: str
    label_zh: str
    unit: str
    value: float | None
    bar_op: str | None
    bar_value: float | None
    meets: bool | None
    attainment: float | None
    below_floor: bool | None


@strawberry.type
class StagePart:
    """A school's part in one stage after splitting by weighted enrolment."""

    stage: str | None
    pupils: int | None
    share: float
    meeting: int | None
    passes: bool
    indicators: list[IndicatorValue]


@strawberry.type
class UnitResult:
    """One unit's result under a framework for a period (a school's, for balanced development)."""

    framework: str
    period: str
    unit_id: str
    unit_name: str
    unit_stage: str | None
    status: str
    passes: bool
    framework_version: int
    submission_version: int
    score: float | None
    grade: str | None
    parts: list[StagePart]
    jurisdiction_code: strawberry.Private[str] = ""

    @strawberry.field
    def jurisdiction(self) -> Jurisdiction:
        return Jurisdiction.of(self.jurisdiction_code)

    @strawberry.field(description="The school, from the registry, when the unit is a school.")
    async def school(self, info: strawberry.Info) -> Annotated[School, strawberry.lazy("gateway.registry")] | None:
        if self.unit_stage is None:
            return None
        return await loaders_of(info).schools.load(self.unit_id)


@strawberry.type
class IndicatorCV:
    """One indicator's enrolment-weighted coefficient of variation (差异系数) between schools."""

    key: str
    mean: float | None
    sd: float | None
    cv: float | None
    cv_max: float
    within: bool


@strawberry.type
class StageCVs:
    stage: str
    schools: int
    pupils: int
    indicators: list[IndicatorCV]


@strawberry.type
class CountyVerdict:
    jurisdiction: str
    name: str
    passes: bool | None
    framework_version: int


@strawberry.type
class BalancedDevelopment:
    """High-quality balanced development of compulsory education (义务教育优质均衡发展): resource allocation."""

    jurisdiction: str
    period: str
    framework_version: int
    passes: bool | None = strawberry.field(
        description="the area's verdict; null when no unit is counted yet (no verdict)"
    )
    provisional: bool = strawberry.field(description="the verdict rests on data submitted but not yet approved")
    cv_within: bool | None
    every_school_passes: bool | None
    schools_assessed: int
    schools_passing: int
    stages: list[StageCVs]
    schools: list[UnitResult]
    counties: list[CountyVerdict]


@strawberry.type
class MonitoringResult:
    framework: str
    period: str
    jurisdiction: str
    framework_version: int
    passes: bool | None = strawberry.field(
        description="the area's verdict; null when no unit is counted yet (no verdict)"
    )
    provisional: bool = strawberry.field(description="the verdict rests on data submitted but not yet approved")
    area: JSON
    units: list[UnitResult]


async def results_of(info: strawberry.Info, **args: Any) -> MonitoringResult:
    """A framework's results for a period under a jurisdiction, from the monitoring service."""
    return shape(
        MonitoringResult,
        await loaders_of(info).ask(
            "monitoring", "monitoringResults", selection(MonitoringResult, wanted(info)), **args
        ),
    )


@strawberry.type
class AreaVerdict:
    """An area's latest verdict under one framework, with its CVs when the rule has them (balanced development)."""

    framework: str
    framework_name: str
    period: str
    jurisdiction: str
    framework_version: int
    passes: bool | None = strawberry.field(
        description="the area's verdict; null when no unit is counted yet (no verdict)"
    )
    provisional: bool = strawberry.field(description="the verdict rests on data submitted but not yet approved")
    computed_at: datetime
    stages: list[StageCVs]


@strawberry.type
class VerdictTally:
    """A framework's newest verdicts here and at every level under it, counted (督导评估结论一览)."""

    framework: str
    framework_name: str
    period: str
    areas: int = strawberry.field(description="the areas with a recorded result")
    passing: int
    failing: list[str] = strawberry.field(description="the areas whose verdict fails, by division code")
    no_verdict: int = strawberry.field(description="the areas with no unit counted yet")
    provisional: int = strawberry.field(description="the areas whose verdict rests on data not yet approved")


@strawberry.type
class FrameworkVersion:
    version: int
    note: str


@strawberry.type
class Framework:
    """An indicator framework (评估指标体系) with its versions and the version each period uses."""

    code: str
    name: str
    name_zh: str
    level: str
    current_version: int
    versions: list[FrameworkVersion]
    periods: JSON


@strawberry.type
class UnitCollection:
    unit_id: str
    unit_name: str
    level: str
    status: str
    reason: str | None


@strawberry.type
class LevelState:
    jurisdiction: str
    name: str
    status: str
    reason: str | None


@strawberry.type
class CollectionStatus:
    """Where collection stands (填报进度): each unit's status and each level's approval."""

    framework: str
    period: str
    jurisdiction: str
    framework_version: int
    counts: JSON
    units: list[UnitCollection]
    levels: list[LevelState]
