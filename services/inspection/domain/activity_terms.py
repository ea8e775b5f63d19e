"""The words of supervision activities: kinds, special topics, targets, sources, statuses, finding areas, severity."""

from __future__ import annotations

from datetime import date

from dudao.rules import Labelled


def semester_of(month: date) -> str:
    """The semester a month falls in, as periods are written: August to January is `YYYY-fall` of the year it
    starts (January 2027 is in 2026-fall), February to July is `YYYY-spring`."""
    if month.month >= 8:
        return f"{month.year}-fall"
    if month.month == 1:
        return f"{month.year - 1}-fall"
    return f"{month.year}-spring"


class ActivityKind(Labelled):
    """What kind of supervision this is (DOMAIN §3 governments, §4 schools)."""

    duty_evaluation = "duty_evaluation", "履行教育职责评价"
    comprehensive = "comprehensive", "综合督导"
    special = "special", "专项督导"
    routine = "routine", "经常性督导"
    principal_term_end = "principal_term_end", "校长任期结束综合督导"
    balanced_development_assessment = "balanced_development_assessment", "义务教育优质均衡发展督导评估"
    preschool_assessment = "preschool_assessment", "学前教育普及普惠督导评估"


class SpecialTopic(Labelled):
    """The hot topic of a special supervision (专项督导, DOMAIN G4)."""

    double_reduction = "double_reduction", "双减"
    dropout_control = "dropout_control", "控辍保学"
    safety = "safety", "校园安全"
    teacher_pay = "teacher_pay", "教师工资待遇"
    term_opening = "term_opening", "开学工作"
    emergency = "emergency", "重大突发事件"
    other = "other", "其他"


class TargetKind(Labelled):
    """What is supervised (被督导单位): a lower government, a same-level department, or a school."""

    government = "government", "政府"
    department = "department", "部门"
    school = "school", "学校"


class Source(Labelled):
    """Why the activity exists: the annual plan, a principal's term ending, a manual entry, or a random draw."""

    plan = "plan", "年度督导计划"
    principal_term_end = "principal_term_end", "校长任期届满"
    manual = "manual", "临时安排"
    draw = "draw", "双随机抽取"


class Status(Labelled):
    """Where an activity stands, from planned to its report published (报告公开)."""

    planned = "planned", "已计划"
    team_assigned = "team_assigned", "已组队"
    notified = "notified", "已通知"
    self_evaluation_submitted = "self_evaluation_submitted", "已提交自评"
    on_site = "on_site", "实地督导中"
    findings_recorded = "findings_recorded", "已记录问题"
    report_drafted = "report_drafted", "报告已起草"
    report_approved = "report_approved", "报告已审定"
    report_issued = "report_issued", "报告已印发"
    published = "published", "已公开"


class FindingArea(Labelled):
    """The area a problem lies in: the comprehensive-supervision list (DOMAIN S2) plus the special topics."""

    party_building = "party_building", "党建"
    teaching = "teaching", "教育教学"
    research = "research", "教研"
    teacher_ethics = "teacher_ethics", "师德师风"
    resources = "resources", "办学条件"
    fees = "fees", "收费"
    safety = "safety", "安全稳定"
    law_based_management = "law_based_management", "依法治校"
    pe_arts_labour = "pe_arts_labour", "体育美育劳动教育"
    double_reduction = "double_reduction", "双减"
    dropout_control = "dropout_control", "控辍保学"
    teacher_pay = "teacher_pay", "教师工资待遇"
    duty_fulfilment = "duty_fulfilment", "履职尽责"
    other = "other", "其他"


class Severity(Labelled):
    """How serious a finding (问题) is."""

    minor = "minor", "一般"
    serious = "serious", "较重"
    grave = "grave", "严重"


# The unit first evaluates itself and submits evidence (自查自评) before the site visit (DOMAIN G2, G5, S2, S3).
