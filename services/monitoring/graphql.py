"""The monitoring subgraph (Federation 2): frameworks, where collection stands, balanced development per school
and per county, any framework's results, each unit's results (the UnitResult entity), the latest verdicts per
level, and the operational roll-ups."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from fastapi import Request
from strawberry.dataloader import DataLoader
from strawberry.scalars import JSON

from dudao import audit as audit_trail
from dudao import changes as change_feed
from dudao import subgraph
from dudao.auth import Principal
from dudao.errors import Problem
from dudao.remembered import remembered_over
from dudao.scope import OFFICES, UNIT_READERS, sees
from dudao.subgraph import caller, problem, wanted, within
from services.monitoring.domain.framework import check_period
from services.monitoring.projections import operations_figures, reads

BALANCED = "balanced_development"


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
    periods: JSON = strawberry.field(description="period -> the framework version it was opened under")


@strawberry.type
class IndicatorValue:
    key: str
    label_zh: str
    unit: str
    value: float | None
    bar_op: str | None
    bar_value: float | None
    meets: bool | None
    attainment: float | None = strawberry.field(
        description="value over bar (bar over value for a ceiling); 1 or more meets it"
    )
    below_floor: bool | None = strawberry.field(
        description="below the share of its bar the school rule tolerates (85 %)"
    )

    @classmethod
    def of(cls, d: dict[str, Any]) -> IndicatorValue:
        bar = d.get("bar") or {}
        return cls(
            key=d["key"],
            label_zh=d["label_zh"],
            unit=d["unit"],
            value=d["value"],
            bar_op=bar.get("op"),
            bar_value=bar.get("value"),
            meets=d.get("meets"),
            attainment=d.get("attainment"),
            below_floor=d.get("below_floor"),
        )


@strawberry.type
class StagePart:
    """A school's part in one stage after splitting (a nine-year school has a primary and a junior part)."""

    stage: str | None
    pupils: int | None
    share: float
    meeting: int | None
    passes: bool
    indicators: list[IndicatorValue]


@strawberry.federation.type(keys=["framework period unitId"])
class UnitResult:
    """A unit's recorded result under one framework and period: a school's, or a county's under a county framework."""

    framework: str
    period: str
    unit_id: str
    unit_name: str
    unit_stage: str | None
    jurisdiction: str
    status: str
    passes: bool
    framework_version: int
    submission_version: int
    score: float | None
    grade: str | None
    parts: list[StagePart]

    @classmethod
    def of(cls, d: dict[str, Any]) -> UnitResult:
        parts = [
            StagePart(
                stage=p["stage"],
                pupils=p["pupils"],
                share=p["share"],
                meeting=p.get("meeting"),
                passes=p["passes"],
                indicators=[IndicatorValue.of(i) for i in p["indicators"]],
            )
            for p in d["parts"]
        ]
        return cls(
            framework=d["framework"],
            period=d["period"],
            unit_id=d["unit_id"],
            unit_name=d["unit_name"],
            unit_stage=d.get("unit_stage"),
            jurisdiction=d["jurisdiction"],
            status=d["status"],
            passes=d["passes"],
            framework_version=d["framework_version"],
            submission_version=d["submission_version"],
            score=d.get("score"),
            grade=d.get("grade"),
            parts=parts,
        )

    @classmethod
    async def resolve_reference(
        cls, info: strawberry.Info, framework: str, period: str, unitId: str
    ) -> UnitResult | None:
        # a router passes the representation's fields by their GraphQL names
        caller(info, UNIT_READERS)
        return await info.context["unit_results"].load((str(framework), str(period), str(unitId)))


@strawberry.type
class UnitResultsOf:
    """The results of one unit, newest period first."""

    key: str
    results: list[UnitResult]


@strawberry.type
class IndicatorCV:
    """The enrolment-weighted coefficient of variation (差异系数) of one indicator between a county's schools."""

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
class AreaVerdict:
    """A level's recorded verdict under a framework, for the newest period that has any."""

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
    stages: list[StageCVs] = strawberry.field(
        description="each stage's CV per indicator against its limit; none without CVs"
    )


@strawberry.type
class VerdictTally:
    """A framework's verdicts for its newest period at a jurisdiction and every level under it, counted."""

    framework: str
    framework_name: str
    period: str
    areas: int = strawberry.field(description="the areas with a recorded result")
    passing: int
    failing: list[str] = strawberry.field(description="the areas whose verdict fails, by division code")
    no_verdict: int = strawberry.field(description="the areas with no unit counted yet")
    provisional: int = strawberry.field(description="the areas whose verdict rests on data not yet approved")


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
    counties: list[CountyVerdict] = strawberry.field(
        description="each county's recorded verdict under this jurisdiction"
    )


@strawberry.type
class MonitoringResult:
    """Any framework's results under a jurisdiction: the area's (as JSON, its shape depends on the rule) and each unit's."""

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


@strawberry.type
class UnitCollection:
    unit_id: str
    unit_name: str
    level: str
    status: str = strawberry.field(description="not_started, draft, submitted, returned, approved or accepted")
    reason: str | None


@strawberry.type
class LevelState:
    jurisdiction: str
    name: str
    status: str
    reason: str | None


@strawberry.type
class CollectionStatus:
    framework: str
    period: str
    jurisdiction: str
    framework_version: int
    counts: JSON
    units: list[UnitCollection]
    levels: list[LevelState]


def _stage_cvs(area: dict[str, Any]) -> list[StageCVs]:
    """The CVs an area result holds when its rule compares units by CV (none otherwise)."""
    return [
        StageCVs(
            stage=stage,
            schools=s["units"],
            pupils=s["pupils"],
            indicators=[
                IndicatorCV(key=k, **{f: c[f] for f in ("mean", "sd", "cv", "cv_max", "within")})
                for k, c in s["indicators"].items()
            ],
        )
        for stage, s in (area.get("stages") or {}).items()
    ]


def _balanced(r: dict[str, Any]) -> BalancedDevelopment:
    area = r["area"]
    return BalancedDevelopment(
        jurisdiction=r["jurisdiction"],
        period=r["period"],
        framework_version=r["framework_version"],
        passes=area["passes"],
        provisional=bool(area.get("provisional")),
        cv_within=area.get("cv_within"),
        every_school_passes=area.get("every_unit_passes"),
        schools_assessed=area["units"],
        schools_passing=area["units_passing"],
        stages=_stage_cvs(area),
        schools=[UnitResult.of(u) for u in r["units"]],
        counties=[
            CountyVerdict(
                jurisdiction=a["jurisdiction"],
                name=a["name"],
                passes=a["passes"],
                framework_version=a["framework_version"],
            )
            for a in r["areas"]
        ],
    )


def _units_asked(info: strawberry.Info) -> bool:
    """Whether the query selects the units' own results (a province's are thousands)."""
    return bool({"schools", "units"} & wanted(info).keys())


async def _results(info: strawberry.Info, framework: str, period: str, jurisdiction: str | None) -> dict[str, Any]:
    """The results of a place; a unit caller sees the area's figures and its own values, not its peers'."""
    principal = caller(info, UNIT_READERS)
    code = within(principal, jurisdiction)
    try:
        check_period(period)
        async with info.context["pool"].acquire() as conn:
            found = await reads.results(conn, framework, period, code, units=_units_asked(info))
    except Problem as e:
        raise problem(e) from None
    return found | {"units": [u for u in found["units"] if sees(principal, u["jurisdiction"], u["unit_id"])]}


@strawberry.type
class Query:
    changes = change_feed.field("monitoring")
    audit = audit_trail.field("monitoring")

    @strawberry.field
    async def frameworks(self, info: strawberry.Info) -> list[Framework]:
        caller(info)  # a reference every caller reads
        async with info.context["pool"].acquire() as conn:
            found = await reads.frameworks(conn)
        return [
            Framework(
                code=f["code"],
                name=f["name"],
                name_zh=f["name_zh"],
                level=f["level"],
                current_version=f["current_version"],
                versions=[FrameworkVersion(version=v["version"], note=v["note"]) for v in f["versions"]],
                periods=f["periods"],
            )
            for f in found
        ]

    @strawberry.field(
        description="Per-school indicator values and verdicts, per-indicator CVs and the county verdicts."
    )
    async def balanced_development(
        self, info: strawberry.Info, period: str, jurisdiction: str | None = None
    ) -> BalancedDevelopment:
        return _balanced(await _results(info, BALANCED, period, jurisdiction))

    @strawberry.field
    async def monitoring_results(
        self, info: strawberry.Info, framework: str, period: str, jurisdiction: str | None = None
    ) -> MonitoringResult:
        r = await _results(info, framework, period, jurisdiction)
        return MonitoringResult(
            framework=framework,
            period=period,
            jurisdiction=r["jurisdiction"],
            framework_version=r["framework_version"],
            passes=r["area"]["passes"],
            provisional=bool(r["area"].get("provisional")),
            area=r["area"],
            units=[UnitResult.of(u) for u in r["units"]],
        )

    @strawberry.field(
        description="Many units' results in one call, grouped per unit id as given, for the gateway's batching."
    )
    async def results_for_units(
        self, info: strawberry.Info, unit_ids: list[str], framework: str | None = None, period: str | None = None
    ) -> list[UnitResultsOf]:
        principal = caller(info, UNIT_READERS)
        if period is not None:
            try:
                check_period(period)
            except Problem as e:
                raise problem(e) from None
        async with info.context["pool"].acquire() as conn:
            rows = await reads.unit_results_of(conn, unit_ids, framework, period)
        grouped: dict[str, list[UnitResult]] = {key: [] for key in unit_ids}
        for r in rows:
            if sees(principal, r["jurisdiction"], r["unit_id"]):
                grouped[r["unit_id"]].append(UnitResult.of(r))
        return [UnitResultsOf(key=key, results=grouped[key]) for key in unit_ids]

    @strawberry.field(
        description="Each framework's verdicts for its newest period, at the jurisdiction and every level under it."
    )
    async def latest_verdicts(self, info: strawberry.Info, jurisdiction: str | None = None) -> list[AreaVerdict]:
        code = within(caller(info, UNIT_READERS), jurisdiction)
        remembered_over(info, *reads.TALLIES.projections)  # area results and frameworks: the collection's
        async with info.context["pool"].acquire() as conn:
            rows = await reads.latest_area_results(conn, code)
        return [
            AreaVerdict(
                framework=r["framework"],
                framework_name=r["framework_name"],
                period=r["period"],
                jurisdiction=r["jurisdiction"],
                framework_version=r["framework_version"],
                passes=r["passes"],
                computed_at=r["computed_at"],
                provisional=bool(r["result"].get("provisional")),
                stages=_stage_cvs(r["result"]),
            )
            for r in rows
        ]

    @strawberry.field(
        description="Each framework's verdicts for its newest period, here and at every level under it, counted:"
        " how many pass and which fail (a start page's; latestVerdicts has each area's CVs)."
    )
    async def verdict_tallies(self, info: strawberry.Info, jurisdiction: str | None = None) -> list[VerdictTally]:
        code = within(caller(info, UNIT_READERS), jurisdiction)
        remembered_over(info, *reads.TALLIES.projections)
        async with info.context["pool"].acquire() as conn:
            rows = await reads.latest_verdict_tallies(conn, code)
        return [VerdictTally(**{k: r[k] for k in VerdictTally.__annotations__}) for r in rows]

    @strawberry.field
    async def collection_status(
        self, info: strawberry.Info, framework: str, period: str, jurisdiction: str | None = None
    ) -> CollectionStatus:
        code = within(caller(info, OFFICES), jurisdiction)
        try:
            async with info.context["pool"].acquire() as conn:
                s = await reads.collection_status(conn, framework, period, code)
        except Problem as e:
            raise problem(e) from None
        return CollectionStatus(
            framework=framework,
            period=period,
            jurisdiction=code,
            framework_version=s["framework_version"],
            counts=s["counts"],
            units=[
                UnitCollection(**{k: u[k] for k in ("unit_id", "unit_name", "level", "status", "reason")})
                for u in s["units"]
            ],
            levels=[LevelState(**lv) for lv in s["levels"]],
        )

    @strawberry.field(
        description="Routine-visit coverage, rectification, staffing, interviews and circulars, with the level below."
    )
    async def operational_rollup(self, info: strawberry.Info, jurisdiction: str | None = None) -> JSON:
        code = within(caller(info, OFFICES), jurisdiction)
        async with info.context["pool"].acquire() as conn:
            return await operations_figures.operations_rollup(
                conn, code, info.context["request"].app.state.clock.today()
            )


def _loaders(request: Request, principal: Principal | None) -> dict[str, Any]:
    """Per request: unit results by (framework, period, unit id), batched; those outside the caller's scope read as missing."""

    async def load(keys: list[tuple[str, str, str]]) -> list[UnitResult | None]:
        async with request.app.state.pool.acquire() as conn:
            rows = await reads.unit_results_at(conn, keys)
        seen = [r for r in rows if principal is not None and sees(principal, r["jurisdiction"], r["unit_id"])]
        visible = {(r["framework"], r["period"], r["unit_id"]): r for r in seen}
        return [UnitResult.of(visible[k]) if k in visible else None for k in keys]

    return {"unit_results": DataLoader(load_fn=load)}


schema = strawberry.federation.Schema(query=Query, types=[UnitResult], extensions=subgraph.extensions())
router = subgraph.router(schema, _loaders)
