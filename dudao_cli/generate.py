"""`dudao generate province CODE`: a province on this machine, for figures at its size (issue 24).

Its real counties (the division list), schools spread over them, inspectors through their lifecycle, responsibility
zones with their listed and responsible inspectors, a year of monthly routine visits, special supervisions of one
school in ten walked to their issued reports, the rectification cases those reports open (feedback, reports,
acceptances), and both shipped monitoring frameworks' collection for the period (every compulsory school's and county's
data approved, each level approved and accepted up to the province). Everything is written through the domain (the
same aggregates and rules as any command) straight into each service's event store, in batches, as the owner; a running stack's relays then carry it to every read model, and a stack started later does
the same from the stores (they are the outbox).

Deterministic from the seed: the same seed makes the same ids, names, places, dates and choices (each event's
recorded time is the clock's). Running it again with the same seed adds nothing: every aggregate it would make is
there already.
"""

from __future__ import annotations

import os
import random
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import TextIO
from urllib.parse import urlsplit

import psycopg
from eventsourcing.domain import Aggregate

from dudao import jurisdiction as divisions
from dudao.config import Settings
from dudao.events import Envelope
from dudao.profiles import Effective, effective
from dudao.progress import Progress
from dudao.stages import Stage
from dudao.store import ServiceApplication
from dudao_cli.servers import stack_postgres
from services.accountability.application import Accountability
from services.accountability.domain.case import FeedbackMode, RectificationCase
from services.inspection.application import Inspection
from services.inspection.domain.activity import Activity, ActivityKind, TargetKind
from services.inspection.domain.activity_terms import FindingArea, Severity, SpecialTopic, semester_of
from services.inspection.domain.semester_count import SemesterCount
from services.inspection.domain.visit import RoutineVisit
from services.monitoring.application import Monitoring
from services.monitoring.demo import PERIOD, PRESCHOOL, STAGE_SHARES, school_values
from services.monitoring.domain.collection import LevelApproval, Submission
from services.monitoring.domain.compute import validate
from services.monitoring.domain.framework import Framework
from services.registry.application import Registry
from services.registry.application.policy import shipped_profiles
from services.registry.domain import Employment, Inspector, InspectorRole, Locality, Ownership, School, Zone

GENERATOR = "dudao-generator"
NAMESPACE = uuid.UUID("0b8c5e7a-51f4-4d2e-9c61-7f3a2d9e4b10")
BATCH = 500  # aggregates saved in one transaction
SCHOOLS_PER_ZONE = 12
SCHOOLS_PER_ACTIVITY = 10  # about 2,000 special supervisions in a province of 20,000 schools
STAGES = [(Stage.primary, 0.55), (Stage.junior_secondary, 0.2), (Stage.nine_year, 0.12), (Stage.kindergarten, 0.08)]
STAGES += [(Stage.complete_secondary, 0.03), (Stage.special_education, 0.02)]
SUFFIX = {
    Stage.primary: "小学",
    Stage.junior_secondary: "中学",
    Stage.nine_year: "九年一贯制学校",
    Stage.kindergarten: "幼儿园",
    Stage.complete_secondary: "完全中学",
    Stage.special_education: "特殊教育学校",
}
PLACES = "青岚 白塔 清泉 龙溪 凤鸣 石桥 梧桐 金沙 松林 柳湾 桃源 竹海 云峰 东湖 西山 南苑 北岭 新华 永安 和平".split()
SURNAMES = "王 李 张 刘 陈 杨 赵 黄 周 吴 徐 孙 胡 朱 高 林 何 郭 马 罗".split()
GIVEN = "建国 淑芬 志强 秀英 海燕 明远 晓红 国庆 丽华 文博 子涵 雨桐 思源 浩然 静怡 卫东 春梅 俊杰 婷婷 建华".split()
CHECKED = ["校舍安全", "食品安全", "课后服务", "作业管理", "师德师风", "控辍保学"]


@dataclass
class Generated:
    """What a run wrote: events per service, and the places and things it made them for."""

    counties: int = 0
    schools: int = 0
    inspectors: int = 0
    zones: int = 0
    visits: int = 0
    activities: int = 0
    cases: int = 0
    submissions: int = 0
    events: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.events.values())


@dataclass(frozen=True)
class PlannedSchool:
    id: uuid.UUID
    code: str  # the national school code (学校代码): the county's code and a number of its own
    name: str
    county: str
    stage: Stage
    ownership: Ownership
    locality: Locality
    enrolment: int


def counties_of(code: str) -> list[divisions.Jurisdiction]:
    """The county-level divisions listed under a province (or city), in code order; a county is its own."""
    if (itself := divisions.get(code)) is not None and itself.level is divisions.Level.COUNTY:
        return [itself]
    found = []
    for child in divisions.children(code):
        found += [child] if child.level is divisions.Level.COUNTY else counties_of(child.code)
    return sorted(found, key=lambda j: j.code)


def command(settings: Settings, code: str, *, schools: int, seed: int, months: int) -> None:
    """`dudao generate province`: `province`, with words for an office where the event stores cannot be reached.

    With no DATABASE_URL, the stores are those `dudao up` keeps in DUDAO_HOME (as it decides). With no stack running,
    their PostgreSQL is started for the while and stopped after, so that `dudao up --no-seed` then runs on the
    province; with a stack running, `province` refuses."""
    server, started = None, False
    if not os.environ.get("DATABASE_URL"):
        server = stack_postgres(settings)
        if started := not server.is_running():
            print(
                f"starting PostgreSQL on 127.0.0.1:{server.port} (data in {server.data_dir}) until done …", flush=True
            )
        settings = replace(settings, database_url=server.start())
    try:
        province(settings, code, schools=schools, seed=seed, months=months)
    except psycopg.OperationalError as e:
        url = urlsplit(settings.database_url)  # where, without the password a deployment's URL may hold
        raise SystemExit(
            f"dudao generate: the event stores at {url.hostname}:{url.port} cannot be reached ({str(e).strip()});"
            " start PostgreSQL there, or set DATABASE_URL to one that runs, and run it again: what was saved is"
            " kept, and a second run skips it"
        ) from None
    finally:
        if started:
            server.stop()


def province(
    settings: Settings,
    code: str,
    *,
    schools: int = 20_000,
    seed: int = 1,
    months: int = 12,
    today: date | None = None,
    out: TextIO | None = None,
    without: tuple[str, ...] = (),
) -> Generated:
    """Generate the province `code` into the event stores `settings` names; what was written. The counties in
    `without` are left out: they run instances of their own, linked below (the benchmark's backlog county)."""
    out = out or sys.stdout
    today = today or settings.today or datetime.now(UTC).date()
    counties = [c for c in counties_of(code) if c.code not in without]
    if not counties:
        raise SystemExit(
            f"dudao generate: {code} has no counties in the division list; give a province, city or county code"
        )
    _refuse_beside_a_running_stack(settings)
    rng = random.Random(seed)
    planned = _plan_schools(rng, counties, schools, seed)
    result = Generated(counties=len(counties), schools=len(planned))
    envelope = Envelope.for_request(actor=GENERATOR, jurisdiction=code)
    print(f"generating {divisions.name_of(code)} {code}: {len(counties)} counties, {len(planned):,} schools", file=out)
    registry = Registry(settings)
    try:
        zones, responsible = _registry(registry, rng, planned, counties, seed, today, envelope, result, out)
    finally:
        registry.close()
    inspection = Inspection(settings)
    try:
        _visits(inspection, rng, planned, zones, responsible, seed, months, today, envelope, result, out)
        issued = _activities(inspection, rng, planned, responsible, seed, today, envelope, result, out)
    finally:
        inspection.close()
    accountability = Accountability(settings)
    try:
        _cases(accountability, rng, issued, today, envelope, result, out)
    finally:
        accountability.close()
    monitoring = Monitoring(settings)
    try:
        _collection(monitoring, planned, counties, code, today, envelope, result, out)
    finally:
        monitoring.close()
    print(f"{result.total:,} events: " + ", ".join(f"{s} {n:,}" for s, n in result.events.items()), file=out)
    return result


def _refuse_beside_a_running_stack(settings: Settings) -> None:
    """Stop before writing when a stack works on these stores: its relays and consumers each hold an advisory lock
    on them (dudao.leadership), and its reactions would record what the generator writes (accountability opens each
    issued report's case, with the id the generator gives it), so the run would die half way."""
    with psycopg.connect(settings.database_url) as conn:
        (held,) = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchone()
    if held:
        raise SystemExit(
            f"dudao generate: a stack is running on these event stores ({held} of its relays and consumers hold"
            " them), and what it does as events arrive would clash with what the generator writes; stop it"
            " (Ctrl-C where `dudao up` runs), run it again, then start the stack: its read models take the"
            " province in as they catch up"
        )


def profile_at(code: str) -> Effective:
    """The policy in force at `code` as the registry ships it: the generator follows the same rules as an office."""
    return effective(code, {p["jurisdiction"]: (1, p["values"]) for p in shipped_profiles()})


def _id(seed: int, kind: str, n: object) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"{seed}:{kind}:{n}")


def _plan_schools(rng: random.Random, counties: list, total: int, seed: int) -> list[PlannedSchool]:
    weights = [rng.uniform(0.5, 1.5) for _ in counties]  # counties differ in size
    places = rng.choices(counties, weights=weights, k=total)
    stages, shares = zip(*STAGES, strict=True)
    numbered: dict[tuple[str, Stage | None], int] = {}  # per county and stage (names), per county (codes)
    planned = []
    for i, county in enumerate(places):
        stage = rng.choices(stages, weights=shares)[0]
        n = numbered[(county.code, stage)] = numbered.get((county.code, stage), 0) + 1
        name = f"{county.name_zh}{PLACES[n % len(PLACES)]}{'' if n <= len(PLACES) else n}{SUFFIX[stage]}"
        numbered[(county.code, None)] = numbered.get((county.code, None), 0) + 1
        planned.append(
            PlannedSchool(
                id=_id(seed, "school", i),
                code=f"{county.code}{numbered[(county.code, None)]:04d}",
                name=name,
                county=county.code,
                stage=stage,
                ownership=Ownership.private if rng.random() < 0.12 else Ownership.public,
                locality=rng.choice(list(Locality)),
                enrolment=rng.randint(60, 2600) if stage is not Stage.special_education else rng.randint(20, 200),
            )
        )
    return planned


def _person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN)


def _save_in_batches(
    app: ServiceApplication, made: Iterator[Aggregate], total: int, label: str, envelope: Envelope, out: TextIO
) -> int:
    """Save what `made` yields, BATCH aggregates a transaction, skipping those a run before saved; the events saved."""
    progress, events, batch = Progress(label, total, out=out), 0, []

    def flush() -> int:
        fresh = [a for a in batch if not app.exists(a.id)]
        if fresh:
            app.save(*fresh, envelope=envelope)
        progress.advance(len(batch))
        batch.clear()
        return sum(a.version for a in fresh)  # a new aggregate's version is the number of its events

    for aggregate in made:
        batch.append(aggregate)
        if len(batch) >= BATCH:
            events += flush()
    if batch:
        events += flush()
    progress.finish(unit="aggregates")
    return events


def _registry(
    app: Registry,
    rng: random.Random,
    planned: list[PlannedSchool],
    counties: list,
    seed: int,
    today: date,
    envelope: Envelope,
    result: Generated,
    out: TextIO,
) -> tuple[dict[uuid.UUID, uuid.UUID], dict[uuid.UUID, uuid.UUID]]:
    """Schools, inspectors (nominated, appointed, filed, active), zones; each school in a zone with its responsible
    inspector. The zone and the responsible inspector of each school."""
    now = datetime.combine(today, datetime.min.time(), UTC)
    term = {"term_no": 5, "term_start": date(today.year - 2, 1, 1), "term_end": date(today.year + 2, 12, 31)}
    by_county: dict[str, list[PlannedSchool]] = {}
    for school in planned:
        by_county.setdefault(school.county, []).append(school)
    inspectors: list[Inspector] = []
    zones: dict[uuid.UUID, uuid.UUID] = {}
    responsible: dict[uuid.UUID, uuid.UUID] = {}
    zone_aggregates: list[Zone] = []
    for county in counties:
        own = by_county.get(county.code, [])
        if not own:
            continue
        staff = []
        ratio = profile_at(county.code).get("inspector_school_ratio")  # R1: an inspector for every `ratio` schools
        for n in range(-(-len(own) // ratio)):
            roles = [InspectorRole.responsible] + ([InspectorRole.listed] if n % 3 == 0 else [])
            inspector = Inspector.nominate(
                inspector_id=_id(seed, "inspector", f"{county.code}:{n}"),
                name=_person(rng),
                jurisdiction=county.code,
                employment=Employment.full_time if rng.random() < 0.3 else Employment.part_time,
                now=now,
                roles=roles,
                stages=[Stage.primary, Stage.junior_secondary],
                public_contact=f"023-{rng.randint(60000000, 69999999)}" if InspectorRole.listed in roles else None,
            )
            inspector.appoint(**term)
            filed_on = term["term_start"] + timedelta(days=10)
            inspector.file_upward(filed_with=county.parent or county.code[:2] + "0000", filed_on=filed_on, today=today)
            inspector.activate(on=term["term_start"] + timedelta(days=20), today=today)
            staff.append(inspector)
        inspectors += staff
        county_zones = []
        for z in range(-(-len(own) // SCHOOLS_PER_ZONE)):  # about a dozen schools a zone
            zone = Zone.create(
                zone_id=_id(seed, "zone", f"{county.code}:{z}"),
                name=f"{county.name_zh}第{z + 1}督学责任区",
                jurisdiction=county.code,
                now=now,
            )
            listed = staff[z % len(staff)]
            if InspectorRole.listed in listed.roles:
                zone.add_listed_inspector(listed.id)
            county_zones.append(zone)
        zone_aggregates += county_zones
        for i, school in enumerate(own):
            zones[school.id] = county_zones[i % len(county_zones)].id
            responsible[school.id] = staff[i % len(staff)].id

    def schools() -> Iterator[School]:
        for s in planned:
            school = School.register(
                school_id=s.id,
                name=s.name,
                jurisdiction=s.county,
                stage=s.stage,
                ownership=s.ownership,
                enrolment=s.enrolment,
                now=now,
                code=s.code,
                locality=s.locality,
            )
            school.assign_zone(zones[s.id])
            school.assign_responsible_inspector(responsible[s.id])
            yield school

    result.events["registry"] = _save_in_batches(app, iter(inspectors), len(inspectors), "inspectors", envelope, out)
    result.events["registry"] += _save_in_batches(
        app, iter(zone_aggregates), len(zone_aggregates), "zones", envelope, out
    )
    result.events["registry"] += _save_in_batches(app, schools(), len(planned), "schools", envelope, out)
    result.inspectors, result.zones = len(inspectors), len(zone_aggregates)
    return zones, responsible


def _visits(
    app: Inspection,
    rng: random.Random,
    planned: list[PlannedSchool],
    zones: dict[uuid.UUID, uuid.UUID],
    responsible: dict[uuid.UUID, uuid.UUID],
    seed: int,
    months: int,
    today: date,
    envelope: Envelope,
    result: Generated,
    out: TextIO,
) -> None:
    """A routine visit (经常性督导) to each school by its responsible inspector in each of the last `months` months."""
    now = datetime.combine(today, datetime.min.time(), UTC)
    starts = []
    for back in range(months):  # this month and the `months - 1` before it
        year, month = divmod(today.year * 12 + today.month - 1 - back, 12)
        starts.append(date(year, month + 1, 1))

    def visits() -> Iterator[RoutineVisit]:
        for month in reversed(starts):
            for s in planned:
                day = month + timedelta(days=rng.randint(0, 27))
                if day > today:
                    continue
                yield RoutineVisit.record(
                    visit_id=_id(seed, "visit", f"{s.id}:{month.isoformat()}"),
                    jurisdiction=s.county,
                    school_id=str(s.id),
                    school_name=s.name,
                    zone_id=str(zones[s.id]),
                    inspector_id=str(responsible[s.id]),
                    visited_on=day,
                    items_checked=rng.sample(CHECKED, 3),
                    problems=[],
                    now=now,
                )

    total = len(planned) * months
    result.events["inspection"] = _save_in_batches(app, visits(), total, "routine visits", envelope, out)
    result.visits = result.events["inspection"]


def _activities(
    app: Inspection,
    rng: random.Random,
    planned: list[PlannedSchool],
    responsible: dict[uuid.UUID, uuid.UUID],
    seed: int,
    today: date,
    envelope: Envelope,
    result: Generated,
    out: TextIO,
) -> list[Activity]:
    """Special supervisions (专项督导) of one school in ten, each walked from the plan to its issued report with a
    finding or two; the activities and their schools' semester counts. The issued ones."""
    now = datetime.combine(today, datetime.min.time(), UTC)
    chosen = rng.sample(planned, max(1, len(planned) // SCHOOLS_PER_ACTIVITY))
    issued: list[Activity] = []

    def activities() -> Iterator[Aggregate]:
        for n, s in enumerate(chosen):
            start = today - timedelta(days=rng.randint(60, 200))  # reports issued, fed back and answered by today
            month = start.replace(day=1)
            activity = Activity.plan(
                activity_id=_id(seed, "activity", n),
                jurisdiction=s.county,
                kind=ActivityKind.special,
                topic=rng.choice([t for t in SpecialTopic if t is not SpecialTopic.emergency]),
                title=f"{s.name}专项督导",
                target_kind=TargetKind.school,
                target_id=str(s.id),
                target_name=s.name,
                period=semester_of(month),
                planned_month=month.strftime("%Y-%m"),
                now=now,
            )
            count = SemesterCount.open(school_id=str(s.id), period=activity.period, earlier=0)
            count.admit(activity_id=activity.id, school_name=s.name, override=None, limit=None)
            leader = str(responsible[s.id])
            registry_says = {leader: {"name": leader, "jurisdiction": s.county, "status": "active"}}
            activity.assign_team(leader_id=leader, member_ids=[], ties={}, inspectors=registry_says)
            activity.notify(notified_on=start, today=today)
            activity.start_on_site(on=start + timedelta(days=5), today=today)
            activity.record_findings(
                findings=[
                    {
                        "finding_id": f"f{k + 1}",
                        "area": rng.choice(list(FindingArea)),
                        "severity": rng.choice(list(Severity)),
                        "description": rng.choice(CHECKED) + "存在问题，需限期整改",
                        "evidence": "",
                        "rule_broken": "",
                        "needs_rectification": True,
                        "looks_illegal": False,
                    }
                    for k in range(rng.randint(1, 2))
                ],
                now=now,
            )
            activity.draft_report(summary=f"{s.name}专项督导报告", now=now)
            activity.approve_report(approved_by=GENERATOR, now=now)
            activity.issue_report(issued_on=start + timedelta(days=15), now=now)
            issued.append(activity)
            yield activity
            yield count

    events = _save_in_batches(app, activities(), 2 * len(chosen), "activities", envelope, out)
    result.events["inspection"] = result.events.get("inspection", 0) + events
    result.activities = len(chosen)
    return issued


def _cases(
    app: Accountability,
    rng: random.Random,
    issued: list[Activity],
    today: date,
    envelope: Envelope,
    result: Generated,
    out: TextIO,
) -> None:
    """The rectification case (整改) of each issued report, as accountability's reaction opens it (same id), with
    feedback; in two cases of three the unit has reported, and in half of those the office has accepted."""
    now = datetime.combine(today, datetime.min.time(), UTC)

    def cases() -> Iterator[RectificationCase]:
        for activity in issued:
            issued_on = activity.issued_on
            case = RectificationCase.open(
                activity_id=str(activity.id),
                jurisdiction=activity.jurisdiction,
                unit_kind=activity.target_kind.value,
                unit_id=activity.target_id,
                unit_name=activity.target_name,
                activity_title=activity.title,
                findings=activity.findings,
                now=now,
                report_issued_on=issued_on,
            )
            given_on = issued_on + timedelta(days=3)
            profile = profile_at(case.jurisdiction)
            case.give_feedback(
                mode=FeedbackMode.written,
                decision="限期整改",
                requirements="逐项整改并报告",
                deadlines={},
                default_deadline=given_on + timedelta(days=profile.get("rectification_days")),
                deadline_basis=profile.version,
                given_on=given_on,
                today=today,
            )
            if rng.random() < 2 / 3:
                for item_id in case.items:
                    reported = min(given_on + timedelta(days=rng.randint(5, 25)), today)
                    case.report_item(item_id=item_id, statement="已整改", evidence=[], reported_on=reported)
                    if rng.random() < 0.5:
                        case.accept_item(
                            item_id=item_id,
                            accepted_on=reported,
                            recheck_due=reported + timedelta(profile.get("recheck_after_days")),
                        )
            yield case

    result.events["accountability"] = _save_in_batches(app, cases(), len(issued), "rectification cases", envelope, out)
    result.cases = len(issued)


def _collection(
    app: Monitoring,
    planned: list[PlannedSchool],
    counties: list,
    root: str,
    today: date,
    envelope: Envelope,
    result: Generated,
    out: TextIO,
) -> None:
    """Both shipped frameworks' collection for the period: every compulsory school's balanced-development data and
    every county's preschool figures entered, submitted and approved; each county's level approved and accepted by
    the level above, each city's approved and accepted, and the province's approved (逐级审核)."""
    now = datetime.combine(today, datetime.min.time(), UTC)
    before = app.recorder.max_notification_id() or 0
    app.install_shipped_frameworks(now)
    definitions = {}
    for code in ("balanced_development", "preschool_inclusive"):
        framework = app.framework(code)
        if PERIOD not in framework.periods:
            app.change(framework.id, Framework, None, envelope, lambda f: f.open_period(PERIOD, now))
            framework = app.framework(code)
        definitions[code] = framework.definition(framework.version_for(PERIOD)), framework.version_for(PERIOD)
    covered: dict[tuple[str, str], dict[str, int]] = {}

    def submission(code: str, kind: str, unit_id: str, name: str, county: str, stage: str | None, values: dict):
        definition, version = definitions[code]
        made = Submission.open(
            framework=code,
            framework_version=version,
            period=PERIOD,
            unit_kind=kind,
            unit_id=unit_id,
            unit_name=name,
            jurisdiction=county,
            unit_stage=stage,
            locality=None,
            opened_by={"kind": "office", "sub": GENERATOR, "jurisdiction": county},
            opened_at=now,
        )
        made.enter_values(
            values=validate(definition, values, stage), entered_by={"kind": "unit", "sub": GENERATOR}, now=now
        )
        made.submit(submitted_by={"kind": "unit", "sub": GENERATOR}, now=now)
        made.approve(by=GENERATOR, now=now)
        covered.setdefault((code, county), {})[unit_id] = made.version
        return made

    def submissions() -> Iterator[Aggregate]:
        for i, s in enumerate(planned):
            if s.stage.value in STAGE_SHARES:
                values = school_values(s.stage.value, s.enrolment, i)
                yield submission("balanced_development", "school", str(s.id), s.name, s.county, s.stage.value, values)
        for n, county in enumerate(counties):
            scale = 0.3 + (n % 11) / 10
            values = {k: round(v * scale) for k, v in PRESCHOOL.items()}
            yield submission(
                "preschool_inclusive", "jurisdiction", county.code, county.name_zh, county.code, None, values
            )

    compulsory = sum(s.stage.value in STAGE_SHARES for s in planned)
    _save_in_batches(app, submissions(), compulsory + len(counties), "submissions", envelope, out)

    def levels() -> Iterator[Aggregate]:
        for code in definitions:
            cities: dict[str, list[str]] = {}
            for county in counties:
                if (code, county.code) not in covered:
                    continue
                level = LevelApproval.open(framework=code, period=PERIOD, jurisdiction=county.code)
                level.approve(covered=covered[(code, county.code)], levels_below=[], by=GENERATOR, now=now)
                if county.code == root:
                    yield level  # a county generated on its own: the level above accepts it in its own instance
                    continue
                level.accept(by=GENERATOR, now=now)
                yield level
                above = divisions.ancestors(county.code)[0]  # its city, or the province for a county directly under it
                cities.setdefault(above, []).append(county.code)
            below = []
            for city, its_counties in sorted(cities.items()):
                if city == root:
                    below += its_counties
                    continue
                level = LevelApproval.open(framework=code, period=PERIOD, jurisdiction=city)
                level.approve(covered={}, levels_below=its_counties, by=GENERATOR, now=now)
                level.accept(by=GENERATOR, now=now)
                below.append(city)
                yield level
            if below:
                level = LevelApproval.open(framework=code, period=PERIOD, jurisdiction=root)
                level.approve(covered={}, levels_below=below, by=GENERATOR, now=now)
                yield level

    approvals = list(levels())
    _save_in_batches(app, iter(approvals), len(approvals), "level approvals", envelope, out)
    result.events["monitoring"] = (app.recorder.max_notification_id() or 0) - before
    result.submissions = compulsory + len(counties)
