"""The words of the inspector domain: employment, kinds, focus, status, exit reasons, training, grades, ties."""

from __future__ import annotations

from dudao.rules import Labelled


class Employment(Labelled):
    """Whether an inspector works full-time (专职) or part-time (兼职) as an inspector."""

    full_time = "full_time", "专职"
    part_time = "part_time", "兼职"


class InspectorRole(Labelled):
    """The kinds of inspector an inspector can be at once (DOMAIN §2)."""

    government = "government", "政府督学"
    responsible = "responsible", "责任督学"
    listed = "listed", "挂牌督学"
    subject = "subject", "学科督学"
    assessment_expert = "assessment_expert", "评估专家"
    chief = "chief", "首席督学"


class Focus(Labelled):
    """What an inspector supervises: governments (督政), schools (督学) or both."""

    governments = "governments", "督政"
    schools = "schools", "督学"
    both = "both", "督政与督学"


class Status(Labelled):
    nominated = "nominated", "提名"
    appointed = "appointed", "已聘任"
    filed = "filed", "已备案"
    active = "active", "在岗"
    suspended = "suspended", "暂停"
    exited = "exited", "已退出"


class ExitReason(Labelled):
    """Why an inspector left: term ended, resigned, or dismissed for one of three causes (000 §16, 001 §13)."""

    term_ended = "term_ended", "任期届满"
    resigned = "resigned", "辞任"
    dismissed_assessed_unqualified = "dismissed_assessed_unqualified", "解聘:考核不合格"
    dismissed_failed_duties = "dismissed_failed_duties", "解聘:未按规定履职"
    dismissed_broke_law_or_discipline = "dismissed_broke_law_or_discipline", "解聘:违法违纪"


class TrainingKind(Labelled):
    pre_service = "pre_service", "上岗培训"
    in_service = "in_service", "在岗培训"


class Grade(Labelled):
    """Annual performance assessment (实绩考核) grade."""

    excellent = "excellent", "优秀"
    qualified = "qualified", "合格"
    unqualified = "unqualified", "不合格"


class TieKind(Labelled):
    """A declared tie to a unit that forbids inspecting it (回避)."""

    former_employer = "former_employer", "原工作单位"
    relative = "relative", "亲属关系"
    own_school = "own_school", "本人所在学校"
    other = "other", "其他利害关系"
