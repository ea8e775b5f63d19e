"""The closed lists of the accountability chain (DOMAIN §6.5–6.8), with their Chinese terms."""

from __future__ import annotations

from typing import Any

from dudao.errors import InvalidInput
from dudao.rules import Labelled, choice, text


class UnitKind(Labelled):
    """Who is supervised (被督导单位); decides who organises an interview with the office."""

    government = "government", "政府"
    department = "department", "部门"
    school = "school", "学校"


class InterviewTrigger(Labelled):
    """Why a unit's leaders are interviewed (约谈): the closed list of 000 §12 / 002 §13."""

    policy_not_carried_out = "policy_not_carried_out", "贯彻落实教育方针和决策部署不坚决不彻底"
    duties_not_fulfilled = "duties_not_fulfilled", "履行教育职责不到位"
    key_tasks_delayed = "key_tasks_delayed", "教育攻坚任务完成严重滞后"
    irregular_operation = "irregular_operation", "办学行为不规范"
    quality_falling = "quality_falling", "教育教学质量下降"
    safety_problems = "safety_problems", "安全问题较多"
    refusing_supervision = "refusing_supervision", "拒不接受教育督导"


class Organiser(Labelled):
    """Who organises an interview together (联合组织)."""

    supervision_office = "supervision_office", "教育督导机构"
    organisation_department = "organisation_department", "组织部门"
    education_bureau = "education_bureau", "教育行政部门"


def organisers_for(unit_kind: UnitKind) -> list[str]:
    """Governments and departments: with the organisation department; schools: with the education bureau (002 §13)."""
    partner = Organiser.education_bureau if unit_kind is UnitKind.school else Organiser.organisation_department
    return [Organiser.supervision_office.value, partner.value]


class FilingBody(Labelled):
    """Where an interview record is filed, and who a circular goes to (报送…备案 / 通报)."""

    party_committee = "party_committee", "党委"
    government = "government", "政府"
    superior = "superior", "上级部门"


ALL_FILING_BODIES = frozenset(FilingBody)


class CircularTrigger(Labelled):
    """Why a unit is circulated (通报): 000 §13 / 002 §14."""

    ineffective = "ineffective", "整改不力"
    evasive = "evasive", "推诿扯皮"
    inaction = "inaction", "不作为"
    not_done = "not_done", "没有完成整改落实任务"


class AccountabilityTrigger(Labelled):
    """Why people are held to account (问责): 000 §14, 001 §9."""

    annual_targets_missed = "annual_targets_missed", "年度目标任务未完成"
    duty_evaluation_failed = "duty_evaluation_failed", "履行教育职责评价不合格"
    supervision_obstructed = "supervision_obstructed", "阻挠、干扰和不配合教育督导工作"
    mass_incidents = "mass_incidents", "教育群体性事件多发高发、应对不力"
    major_safety_accident = "major_safety_accident", "严重失职导致重大安全事故或重大涉校案事件"
    threats_against_inspectors = "threats_against_inspectors", "威胁恐吓、打击报复教育督导人员"
    assessment_fraud = "assessment_fraud", "评估监测弄虚作假"
    illegal_conduct_found = "illegal_conduct_found", "督学发现违法行为"


# The gravest cases: only these revoke a private school's licence (吊销办学许可证).
GRAVEST = frozenset(
    {
        AccountabilityTrigger.mass_incidents,
        AccountabilityTrigger.major_safety_accident,
        AccountabilityTrigger.threats_against_inspectors,
    }
)


class Sanction(Labelled):
    """What is done to a private school (民办学校); the registry applies it to the school."""

    cut_enrolment_plan = "cut_enrolment_plan", "核减招生计划"
    stop_enrolment = "stop_enrolment", "停止招生"
    replace_head = "replace_head", "撤换相关负责人"
    revoke_licence = "revoke_licence", "吊销办学许可证"


class PersonAction(Labelled):
    """What is done to a named responsible person."""

    order_check = "order_check", "责令检查"
    criticism = "criticism", "通报批评"
    admonishment = "admonishment", "诫勉"
    removal = "removal", "免职"
    disciplinary_referral = "disciplinary_referral", "移送纪检监察机关"


class TransferTo(Labelled):
    """Where illegal conduct found in supervision goes (移交)."""

    law_enforcement = "law_enforcement", "执法部门"
    judiciary = "judiciary", "司法机关"


class Conduct(Labelled):
    """The illegal conduct an inspector found (000 §14)."""

    illegal_schooling = "illegal_schooling", "违法办学"
    rights_violation = "rights_violation", "侵犯受教育者和教师及学校合法权益"
    teacher_ethics = "teacher_ethics", "教师师德失范"
    suspected_crime = "suspected_crime", "涉嫌犯罪"


def named_people(raw: Any, field: str, *, required: bool = True) -> list[dict[str, str]]:
    """Named people (leaders, responsible people): each with a name and a post."""
    if not isinstance(raw, list) or (required and not raw):
        raise InvalidInput(f"{field} must list at least one person", field=field, rule="people_required")
    named = []
    for i, person in enumerate(raw):
        if not isinstance(person, dict):
            raise InvalidInput(f"{field}.{i} must be an object", field=f"{field}.{i}", rule="object")
        named.append(
            {
                "name": text(person.get("name"), f"{field}.{i}.name"),
                "post": text(person.get("post"), f"{field}.{i}.post"),
            }
        )
    return named


def bodies(raw: Any, field: str) -> list[str]:
    """The party committee, the government and the superiors: all three, each once."""
    if not isinstance(raw, list):
        raise InvalidInput(f"{field} must be a list", field=field, rule="list")
    chosen = [choice(FilingBody, b, f"{field}.{i}").value for i, b in enumerate(raw)]
    missing = sorted(ALL_FILING_BODIES - set(chosen))
    if missing or len(chosen) != len(set(chosen)):
        raise InvalidInput(
            f"{field} must name the party committee, the government and the superiors, each once (missing: {', '.join(missing) or 'none'})",
            field=field,
            rule="all_filing_bodies",
        )
    return chosen
